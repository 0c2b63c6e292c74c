"""Concept codecs: sentences <-> fixed-size vectors, behind one protocol.

    codec = load_codec("demo")            # bundled, small, runs on a CPU (see its card)
    codec = load_codec("sonar")           # SONAR, 202 languages (weights from fairseq2's cache)
    codec = load_codec("/path/to/dir")    # a demo-codec or SONAR checkpoint directory

Backends are imported only when chosen, so importing this package stays cheap (SONAR
pulls in fairseq2, which takes tens of seconds to import).
"""

from __future__ import annotations

from pathlib import Path

import torch

from engine.codec.base import (
    CodecError,
    CodecUnavailableError,
    ConceptCodec,
    SentenceTooLongError,
    UnsupportedLanguageError,
    default_device_dtype,
)
from engine.paths import DEMO_CODEC_DIR

__all__ = [
    "CODEC_NAMES",
    "DEMO_CODEC_DIR",
    "CodecError",
    "CodecUnavailableError",
    "ConceptCodec",
    "SentenceTooLongError",
    "UnsupportedLanguageError",
    "default_device_dtype",
    "load_codec",
]

CODEC_NAMES = {
    "demo": "the bundled demo codec (assets/demo/codec; its card lists its languages)",
    "sonar": "SONAR text encoder + basic decoder (202 languages)",
    "sonar-finetuned": "SONAR text encoder + fine-tuned decoder",
}


def load_codec(
    name_or_path: str | Path,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> ConceptCodec:
    """A codec by name (see CODEC_NAMES) or checkpoint directory.

    device None picks CUDA when present; dtype is SONAR's weight dtype (None: bf16/fp16 on
    CUDA, fp32 on CPU) and the demo codec's compute dtype (None: fp32; bf16 autocasts its
    matrix products, see DemoCodec).
    """
    name = str(name_or_path)
    if name == "demo":
        return _load_demo(DEMO_CODEC_DIR, device, dtype)
    if name in ("sonar", "sonar-finetuned"):
        from engine.codec.sonar import DECODER_CARD, FINETUNED_DECODER_CARD, SonarCodec

        decoder = FINETUNED_DECODER_CARD if name == "sonar-finetuned" else DECODER_CARD
        return SonarCodec.from_cards(decoder_card=decoder, device=device, dtype=dtype, name=name)
    path = Path(name).expanduser()
    if path.is_dir():
        from engine.codec.demo import is_demo_checkpoint
        from engine.codec.sonar import SonarCodec, is_sonar_directory

        if is_demo_checkpoint(path):
            return _load_demo(path, device, dtype)
        if is_sonar_directory(path):
            return SonarCodec.from_directory(path, device=device, dtype=dtype)
        raise CodecError(
            f"{path} is not a codec checkpoint: expected a demo codec (config.json with "
            '"codec_type": "demo") or SONAR weights (see engine/codec/sonar.py).'
        )
    if "/" in name or name.startswith((".", "~")):
        raise CodecUnavailableError(f"No codec checkpoint directory at {path}.")
    choices = ", ".join(f"{n!r} ({d})" for n, d in CODEC_NAMES.items())
    raise CodecError(f"Unknown codec {name!r}: choose {choices}, or a checkpoint directory.")


def _load_demo(
    path: Path, device: str | torch.device | None, dtype: torch.dtype | None
) -> ConceptCodec:
    from engine.codec.demo import DemoCodec

    device = None if device is None else str(device)
    return DemoCodec.from_pretrained(path, device=device, compute_dtype=dtype)
