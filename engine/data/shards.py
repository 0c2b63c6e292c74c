"""Parquet shards in the reference implementation's schema, written atomically.

Columns: `text` (str), `text_sentences` (list<str>), `text_sentences_sonar_emb`
(list<fixed_size_list<float32, dim>>), `split` (str). Fine-tuning shards add the same
three columns for the source: `source`, `source_sentences`, `source_sentences_sonar_emb`.
The codec's name and dimension are stored in the file's metadata so a resumed or
extended corpus can never mix two embedding spaces.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.errors import EngineError

TEXT = "text"
SENTENCES = "text_sentences"
EMBEDDINGS = "text_sentences_sonar_emb"
SPLIT = "split"
SOURCE_PREFIX = "source"  # source, source_sentences, source_sentences_sonar_emb
METADATA_KEY = b"lcm_writer"
END_OF_TEXT = "End of text."


class ShardError(EngineError, ValueError):
    """Shards are missing, malformed or from another codec; the message says which."""


@dataclass
class EncodedDocument:
    text: str
    sentences: list[str]
    embeddings: np.ndarray  # [len(sentences), dim] float32
    split: str
    source: EncodedDocument | None = None  # fine-tuning source (its own split is unused)


def _embedding_array(matrices: list[np.ndarray], dim: int) -> pa.Array:
    offsets = np.cumsum([0] + [len(m) for m in matrices], dtype=np.int32)
    flat = np.concatenate(matrices).astype(np.float32, copy=False).reshape(-1)
    rows = pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), dim)
    return pa.ListArray.from_arrays(pa.array(offsets), rows)


def _columns(prefix: str, docs: list[EncodedDocument], dim: int) -> dict[str, pa.Array]:
    return {
        prefix: pa.array([d.text for d in docs], pa.string()),
        f"{prefix}_sentences": pa.array([d.sentences for d in docs], pa.list_(pa.string())),
        f"{prefix}_sentences_sonar_emb": _embedding_array([d.embeddings for d in docs], dim),
    }


def write_shard(path: Path, docs: list[EncodedDocument], codec_name: str, dim: int) -> None:
    """Write `docs` to `path` atomically (a crash never leaves a half-written shard)."""
    columns = _columns(TEXT, docs, dim)
    columns[SPLIT] = pa.array([d.split for d in docs], pa.string())
    if docs and docs[0].source is not None:
        columns.update(_columns(SOURCE_PREFIX, [d.source for d in docs], dim))
    metadata = {METADATA_KEY: json.dumps({"codec": codec_name, "dim": dim}).encode()}
    table = pa.table(columns).replace_schema_metadata(metadata)
    partial = path.with_name(path.name + ".partial")
    pq.write_table(table, partial)
    os.replace(partial, path)


def shard_codec(path: Path) -> dict:
    """The {"codec", "dim"} a shard was written with."""
    metadata = pq.read_schema(path).metadata or {}
    if METADATA_KEY not in metadata:
        raise ShardError(f"{path} was not written by `lcm-writer prepare` (no codec metadata)")
    return json.loads(metadata[METADATA_KEY])


def list_shards(directory: str | Path) -> list[Path]:
    directory = Path(directory)
    shards = sorted(directory.glob("*.parquet"))
    if not shards:
        raise ShardError(f"no Parquet shards in {directory}; create them with `lcm-writer prepare`")
    return shards


def _matrices(column: pa.ChunkedArray, dim: int) -> list[np.ndarray]:
    """list<fixed_size_list<float32, dim>> -> one [n_i, dim] array per row (views into one
    writable copy of the column)."""
    column = column.combine_chunks()
    flat = np.array(column.values.values, dtype=np.float32).reshape(-1, dim)
    offsets = column.offsets.to_numpy()
    return [flat[offsets[i] : offsets[i + 1]] for i in range(len(column))]


def read_embeddings(
    directory: str | Path, split: str | None = None, with_source: bool = False
) -> tuple[list[np.ndarray], list[np.ndarray] | None, dict]:
    """Per-document concept matrices of every shard (optionally one split only).

    Returns (documents, sources or None, {"codec", "dim"}). `with_source` requires
    fine-tuning shards (written with `prepare --source-field`).
    """
    docs: list[np.ndarray] = []
    sources: list[np.ndarray] = []
    info: dict | None = None
    source_column = f"{SOURCE_PREFIX}_sentences_sonar_emb"
    for path in list_shards(directory):
        this = shard_codec(path)
        if info is not None and this != info:
            raise ShardError(f"{path} holds {this} embeddings but earlier shards hold {info}")
        info = this
        columns = [EMBEDDINGS, SPLIT] + ([source_column] if with_source else [])
        try:
            table = pq.read_table(path, columns=columns)
        except (pa.ArrowInvalid, KeyError) as error:
            hint = " (fine-tuning needs shards made with --source-field)" if with_source else ""
            raise ShardError(f"{path}: missing columns {columns}{hint}: {error}") from None
        if split is not None:
            table = table.filter(pc.equal(table[SPLIT], split))
        docs.extend(_matrices(table[EMBEDDINGS], this["dim"]))
        if with_source:
            sources.extend(_matrices(table[source_column], this["dim"]))
    if docs:
        info["eot"] = end_of_text_concept(docs, directory)
    return docs, (sources if with_source else None), info


def end_of_text_concept(docs: list[np.ndarray], where: str | Path) -> np.ndarray:
    """The concept every document ends with (prepare appends "End of text.")."""
    last = np.stack([d[-1] for d in docs])
    if not np.allclose(last, last[0], atol=1e-5):
        raise ShardError(
            f"documents in {where} do not all end with the same end-of-text concept; "
            "shards must be written by `lcm-writer prepare` with one codec"
        )
    return last[0].copy()


def read_documents(directory: str | Path, split: str | None = None, limit: int | None = None):
    """Up to `limit` rows of one split as dicts with `text`, `sentences`, `embeddings`
    ([n, dim] float32) and, in fine-tuning shards, `source_sentences` / `source_embeddings`.
    """
    rows = []
    for path in list_shards(directory):
        dim = shard_codec(path)["dim"]
        table = pq.read_table(path)
        if split is not None:
            table = table.filter(pc.equal(table[SPLIT], split))
        has_source = f"{SOURCE_PREFIX}_sentences_sonar_emb" in table.column_names
        embeddings = _matrices(table[EMBEDDINGS], dim)
        sources = (
            _matrices(table[f"{SOURCE_PREFIX}_sentences_sonar_emb"], dim) if has_source else None
        )
        for i, row in enumerate(table.select([TEXT, SENTENCES]).to_pylist()):
            item = {"text": row[TEXT], "sentences": row[SENTENCES], "embeddings": embeddings[i]}
            if has_source:
                item["source_sentences"] = table[f"{SOURCE_PREFIX}_sentences"][i].as_py()
                item["source_embeddings"] = sources[i]
            rows.append(item)
            if limit is not None and len(rows) >= limit:
                return rows
    return rows
