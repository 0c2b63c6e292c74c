"""A tiny, randomly initialised demo codec with a real (tiny) SentencePiece tokenizer.

Built offline in about a second, so any test can drive `engine.codec.demo.DemoCodec`
through the same code path as the bundled checkpoint. Other test packages may import
`build_tiny_demo_codec` (or `save_tiny_demo_codec` for a checkpoint directory).
"""

from __future__ import annotations

from pathlib import Path

import sentencepiece as spm
import torch

from engine.codec.demo import DemoAutoencoder, DemoCodec, DemoCodecConfig, train_tokenizer

TINY_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "A concept is one sentence embedded as a single vector.",
    "Documents are outlines of sentences, and every sentence is a concept.",
    "The model predicts the next concept from the previous ones.",
    "A decoder turns any concept back into a sentence.",
    "Python is a programming language that lets you work quickly.",
    "The Debian project produces a free operating system.",
    "Packages are installed with apt, which resolves their dependencies.",
    "Write a short story about a lighthouse keeper and a storm.",
    "She opened the window, and the cold morning air filled the room.",
    "Numbers like 42, 3.14 and 1,000 appear in technical prose.",
    "Why does the function return None when the list is empty?",
]


def tiny_config(**overrides) -> DemoCodecConfig:
    """A config small enough to build and run in milliseconds."""
    base = dict(
        vocab_size=350,
        dim=32,
        d_model=32,
        n_heads=2,
        encoder_layers=1,
        decoder_layers=1,
        memory_slots=2,
        max_tokens=16,
    )
    return DemoCodecConfig(**{**base, **overrides})


def build_tiny_demo_codec(workdir: Path, seed: int = 0, **config) -> DemoCodec:
    """A DemoCodec with random weights; its tokenizer is trained into `workdir`."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = tiny_config(**config)
    corpus = workdir / "tiny_corpus.txt"
    corpus.write_text("\n".join(TINY_CORPUS * 4) + "\n", encoding="utf-8")
    tokenizer_path = train_tokenizer(corpus, workdir / "tiny_tokenizer", cfg.vocab_size)
    torch.manual_seed(seed)
    tokenizer = spm.SentencePieceProcessor(model_file=str(tokenizer_path))
    return DemoCodec(DemoAutoencoder(cfg), tokenizer)


def save_tiny_demo_codec(workdir: Path, seed: int = 0, **config) -> Path:
    """A tiny demo codec checkpoint directory (`workdir/codec`), loadable by load_codec."""
    codec = build_tiny_demo_codec(workdir, seed, **config)
    codec.save_pretrained(Path(workdir) / "codec", dtype=torch.float32)
    return Path(workdir) / "codec"
