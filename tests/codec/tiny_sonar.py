"""A tiny, random-weight SONAR text encoder/decoder pair plus a tiny NLLB tokenizer.

Built fully offline so tests (and benchmarks) can drive `engine.codec.sonar.SonarCodec`
through exactly the code path the real 1.6B-parameter weights use. Other test packages
may import `build_tiny_sonar` directly.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import sentencepiece as spm
import torch

from engine.codec.sonar import SonarCodec

TINY_LANGS = ("eng_Latn", "fra_Latn", "deu_Latn", "rus_Cyrl", "zho_Hans")

_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "A concept is one sentence embedded as a single vector.",
    "Le renard brun saute par-dessus le chien paresseux.",
    "Une phrase devient un point dans un espace de concepts.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Ein Satz wird zu einem Punkt im Begriffsraum.",
    "Быстрая коричневая лиса прыгает через ленивую собаку.",
    "Каждое предложение становится одним вектором.",
    "敏捷的棕色狐狸跳过了懒狗。",
    "每个句子都变成一个向量。",
]


def train_tiny_sentencepiece(path: Path, vocab_size: int = 160) -> Path:
    """Train a SentencePiece model on a ten-sentence multilingual corpus, save to `path`."""
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_CORPUS * 4),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    path.write_bytes(model.getvalue())
    return path


def build_tiny_sonar_parts(
    workdir: Path, dim: int = 32, max_seq_len: int = 64, seed: int = 0
) -> tuple[torch.nn.Module, torch.nn.Module, object]:
    """(encoder, decoder, tokenizer): random SONAR models of width `dim`, CPU fp32."""
    from fairseq2.models.nllb.tokenizer import NllbTokenizerConfig, load_nllb_tokenizer
    from sonar.models.sonar_text import get_sonar_text_decoder_hub, get_sonar_text_encoder_hub

    sp_path = train_tiny_sentencepiece(Path(workdir) / "tiny.spm")
    tokenizer = load_nllb_tokenizer(
        sp_path, NllbTokenizerConfig(langs=list(TINY_LANGS), default_lang="eng_Latn")
    )
    vocab = tokenizer.vocab_info
    torch.manual_seed(seed)
    tiny = {
        "model_dim": dim,
        "max_seq_len": max_seq_len,
        "vocab_info": vocab,
        "num_encoder_layers": 1,
        "num_decoder_layers": 1,
        "num_encoder_attn_heads": 2,
        "num_decoder_attn_heads": 2,
        "ffn_inner_dim": 2 * dim,
    }
    encoder_hub = get_sonar_text_encoder_hub()
    encoder_cfg = dataclasses.replace(
        encoder_hub.get_arch_config("small"), **tiny, _from_fairseq=False
    )
    encoder = encoder_hub.create_new_model(encoder_cfg, device=torch.device("cpu"))
    decoder_hub = get_sonar_text_decoder_hub()
    decoder_cfg = dataclasses.replace(decoder_hub.get_arch_config("toy"), **tiny)
    decoder = decoder_hub.create_new_model(decoder_cfg, device=torch.device("cpu"))
    return encoder, decoder, tokenizer


def build_tiny_sonar(workdir: Path, dim: int = 32, **codec_options) -> SonarCodec:
    """A `SonarCodec` (CPU) over `build_tiny_sonar_parts`; options go to SonarCodec."""
    parts = build_tiny_sonar_parts(workdir, dim=dim)
    options = {"languages": TINY_LANGS, "name": "tiny-sonar", "device": "cpu", **codec_options}
    return SonarCodec(*parts, dim=dim, **options)
