"""The contract every concept codec fulfils, and the errors it raises.

A codec maps sentences to fixed-size vectors ("concepts") and back. The app, the data
pipeline and the evaluation code only ever see this protocol, so the real SONAR models
and the bundled demo codec are interchangeable.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


class CodecError(Exception):
    """Base class for codec failures that a user can act on (the message says how)."""


class CodecUnavailableError(CodecError):
    """The codec's weights or packages are missing (e.g. offline without a local copy)."""


class UnsupportedLanguageError(CodecError, ValueError):
    """The codec cannot read or write the requested language."""


@runtime_checkable
class ConceptCodec(Protocol):
    name: str
    dim: int
    languages: tuple[str, ...]  # SONAR codes such as "eng_Latn"

    def encode(self, sentences: list[str], lang: str = "eng_Latn") -> torch.Tensor:
        """Return float32 embeddings of shape [len(sentences), dim], in input order."""
        ...

    def decode(self, embeddings: torch.Tensor, lang: str = "eng_Latn", **options) -> list[str]:
        """Return one sentence per row of `embeddings`, written in `lang`."""
        ...
