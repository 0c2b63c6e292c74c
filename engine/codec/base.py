"""The contract every concept codec fulfils, and the errors it raises.

A codec maps sentences to fixed-size vectors ("concepts") and back. The app, the data
pipeline and the evaluation code only ever see this protocol, so the real SONAR models
and the bundled demo codec are interchangeable.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch

from engine.device import default_device
from engine.errors import EngineError


class CodecError(EngineError):
    """Base class for codec failures that a user can act on (the message says how)."""


class CodecUnavailableError(CodecError):
    """The codec's weights or packages are missing (e.g. offline without a local copy)."""


class UnsupportedLanguageError(CodecError, ValueError):
    """The codec cannot read or write the requested language."""


class SentenceTooLongError(CodecError, ValueError):
    """A sentence exceeds the encoder's token limit and the codec was told not to truncate."""


def default_device_dtype(
    device: str | torch.device | None = None, dtype: torch.dtype | None = None
) -> tuple[torch.device, torch.dtype]:
    """Pick where a codec runs: CUDA in bf16 (fp16 on older cards) when present, else CPU fp32.

    Half precision halves memory and is how SONAR is served on GPUs; on a CPU it is slow
    and lossy, so fp32 is the CPU default.
    """
    device = default_device(device)
    if dtype is None:
        if device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            dtype = torch.float32
    return device, dtype


@cache
def cpu_has_fast_bf16() -> bool:
    """True on CPUs with bfloat16 matrix units (Intel AMX-BF16, AVX512-BF16): there a
    bf16 matrix product runs several times faster than fp32 (this project's 2-core Xeon:
    about 1,000 against 155 GFLOP/s on one core); elsewhere bf16 is emulated and slow."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " amx_bf16" in flags or " avx512_bf16" in flags


@runtime_checkable
class ConceptCodec(Protocol):
    name: str
    dim: int
    languages: tuple[str, ...]  # SONAR codes such as "eng_Latn"

    def encode(self, sentences: list[str], lang: str = "eng_Latn") -> torch.Tensor:
        """Return float32 embeddings of shape [len(sentences), dim], in input order."""
        ...

    def decode(self, embeddings: torch.Tensor, lang: str = "eng_Latn", **options) -> list[str]:
        """Return one sentence per row of `embeddings`, written in `lang`.

        Every codec accepts `beam_size` and `max_len` (tokens); a codec may take more
        (SONAR: `temperature`, `top_p`, `no_repeat_ngram_size`, `seed`)."""
        ...
