"""Input checks and conversions at the storage boundary: node text, embeddings, imported
bytes. Everything is refused before anything is written, with a message saying how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from storage.errors import (
    EmbeddingError,
    EmptyTextError,
    ImportDecodeError,
    InvalidInputError,
    InvalidTextError,
    TextTooLongError,
)
from storage.types import Fidelity, Kind, Origin, State

# One node is one sentence, heading or outline item: SONAR degrades past ~250 characters
# and segmentation caps sentences at 200, so 10,000 characters is generous for a node while
# stopping a pasted book (say 5 MB) from landing in one node. Import splits text instead.
MAX_NODE_TEXT_CHARS = 10_000
MAX_TITLE_CHARS = 500
MAX_LANGUAGE_CHARS = 32
EMBEDDING_DTYPES = ("float16", "float32", "float64")
E = TypeVar("E", Kind, Origin, State)


@dataclass(frozen=True)
class StoredEmbedding:
    """An embedding as the database holds it: little-endian bytes + dtype name + dim."""

    data: bytes
    dtype: str
    dim: int


def check_text(text: object, kind: Kind, *, what: str = "node text") -> str:
    """The text if a node of this kind may hold it; paragraphs alone may be empty."""
    if not isinstance(text, str):
        raise InvalidTextError(f"{what} must be a string, got {type(text).__name__}")
    if len(text) > MAX_NODE_TEXT_CHARS:
        raise TextTooLongError(
            f"{what} has {len(text):,} characters; one node holds at most "
            f"{MAX_NODE_TEXT_CHARS:,}: split it into sentences (importing the text does that)"
        )
    _check_storable(text, what)
    if kind is not Kind.PARAGRAPH and not text.strip():
        raise EmptyTextError(f"{what} is empty: a {kind.value} needs some text (or delete it)")
    return text


def check_title(title: object) -> str:
    if not isinstance(title, str) or not title.strip():
        raise EmptyTextError("a document title cannot be empty")
    if len(title) > MAX_TITLE_CHARS:
        raise TextTooLongError(f"a title holds at most {MAX_TITLE_CHARS} characters")
    _check_storable(title, "the title")
    return title.strip()


def check_language(language: object) -> str:
    if not isinstance(language, str) or not language or len(language) > MAX_LANGUAGE_CHARS:
        raise InvalidInputError(f"expected a language code such as 'eng_Latn', got {language!r}")
    _check_storable(language, "the language code")
    return language


def _check_storable(text: str, what: str) -> None:
    index = text.find("\x00")
    if index >= 0:
        raise InvalidTextError(
            f"{what} contains a NUL character at position {index}: remove it "
            "(it usually comes from a binary or UTF-16 file)"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidTextError(
            f"{what} contains an unpaired surrogate at position {error.start}: "
            "it is not valid Unicode text"
        ) from None


def parse_enum(enum: type[E], value: object) -> E:
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(m.value for m in enum)
        raise InvalidInputError(
            f"unknown {enum.__name__.lower()} {value!r}; expected one of {choices}"
        ) from None


def encode_embedding(value: object, dim: int) -> StoredEmbedding:
    """Bytes for a 1-D float embedding of `dim` values, bit-exact in its own dtype."""
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        if len(raw) % 4:
            raise EmbeddingError("raw embedding bytes must be float32 (a multiple of 4 bytes)")
        array = np.frombuffer(raw, dtype="<f4")
    else:
        try:
            array = np.asarray(value)
        except Exception as error:  # e.g. a tensor on a GPU
            raise EmbeddingError(f"cannot read the embedding as an array: {error}") from None
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1:
        raise EmbeddingError(f"an embedding must be one vector, got shape {tuple(array.shape)}")
    if array.dtype.name not in EMBEDDING_DTYPES:
        raise EmbeddingError(
            f"embedding dtype {array.dtype.name} is not supported; use one of "
            + ", ".join(EMBEDDING_DTYPES)
        )
    if array.shape[0] != dim:
        raise EmbeddingError(
            f"embedding has {array.shape[0]} values but this document's codec uses {dim}: "
            "was it encoded with another codec?"
        )
    if not np.isfinite(array).all():
        raise EmbeddingError("embedding contains NaN or infinite values")
    little = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return StoredEmbedding(little.tobytes(), array.dtype.name, dim)


def fidelity_columns(fidelity: object) -> dict[str, object]:
    """The node (and revision) columns holding a round trip; all None for None."""
    if fidelity is None:
        return {"reading": None, "reading_cosine": None, "reading_chrf": None}
    if not isinstance(fidelity, Fidelity):
        raise InvalidInputError(f"expected a Fidelity, got {type(fidelity).__name__}")
    if not isinstance(fidelity.reading, str):
        raise InvalidInputError("a round trip's reading must be text")
    _check_storable(fidelity.reading, "the decoded reading")
    figures = (fidelity.cosine, fidelity.chrf)
    if not all(isinstance(f, int | float) and np.isfinite(f) for f in figures):
        raise InvalidInputError(f"a round trip's cosine and chrF must be finite, got {figures}")
    return {
        "reading": fidelity.reading,
        "reading_cosine": float(fidelity.cosine),
        "reading_chrf": float(fidelity.chrf),
    }


def fidelity_of(reading: str | None, cosine: float | None, chrf: float | None) -> Fidelity | None:
    """The round trip from its stored columns (None when it was not measured)."""
    if reading is None or cosine is None or chrf is None:
        return None
    return Fidelity(reading, cosine, chrf)


def decode_embedding(data: bytes | None, dtype: str | None) -> np.ndarray | None:
    """The stored embedding as a read-only array of its original dtype."""
    if data is None or dtype is None:
        return None
    return np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<"))


def decode_import(data: bytes, *, name: str = "the file") -> str:
    """Text from imported bytes: UTF-8 (a BOM is dropped), newlines normalised to "\\n".

    Raises ImportDecodeError naming the byte offset when the bytes are not UTF-8, and
    InvalidTextError for NUL characters, so a writer knows to re-save the file as UTF-8."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportDecodeError(
            f"{name} is not UTF-8 text (invalid byte 0x{data[error.start]:02x} at offset "
            f"{error.start:,}): save it as UTF-8 and import it again"
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    _check_storable(text, name)
    return text
