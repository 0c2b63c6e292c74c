"""Encode and decode throughput (sentences/s) and peak memory of the concept codecs, one
sentence per call and 32 per call.

Codecs: the bundled demo codec (assets/demo/codec; when it has not been built, a
random-weight codec of the same architecture, flagged in the JSON), and the tiny
random-weight SONAR pair of tests/codec (the real SONAR code path at toy width; its
decoder never predicts end-of-sentence, so it always writes max_len tokens).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from engine.codec import CodecUnavailableError, load_codec
from tests.codec.tiny_sonar import build_tiny_sonar
from tests.demo.tiny import TINY_CORPUS, build_tiny_demo_codec

from .harness import measure, write_results

SENTENCES = (TINY_CORPUS * 3)[:32]
SINGLE_CALLS = 8  # batch 1: this many one-sentence calls per timed run
TINY_SONAR_MAX_LEN = 32
# DemoCodecConfig's defaults except the vocabulary, which the tiny corpus cannot fill.
DEMO_SHAPE = dict(vocab_size=350, dim=512, d_model=256, n_heads=4, encoder_layers=3,
                  decoder_layers=3, memory_slots=8, max_tokens=32)  # fmt: skip


def demo_codec(workdir: Path, dtype: torch.dtype | None = None):
    """The bundled demo codec (computing in `dtype`), or a random-weight stand-in of its
    shape."""
    try:
        return load_codec("demo", device="cpu", dtype=dtype), "bundled weights"
    except CodecUnavailableError:
        return build_tiny_demo_codec(workdir, **DEMO_SHAPE), "random weights (not built yet)"


def codec_cases(name, codec, decode_options, repeats):
    lang = codec.languages[0]
    embeddings = codec.encode(SENTENCES, lang=lang)
    single = SENTENCES[:SINGLE_CALLS]

    def encode_one_by_one():
        for sentence in single:
            codec.encode([sentence], lang=lang)

    def decode_one_by_one():
        for row in embeddings[:SINGLE_CALLS]:
            codec.decode(row[None], lang=lang, **decode_options)

    return [
        measure("encode", encode_one_by_one, repeats=repeats, items=len(single), batch=1,
                codec=name),
        measure("encode", lambda: codec.encode(SENTENCES, lang=lang), repeats=repeats,
                items=len(SENTENCES), batch=len(SENTENCES), codec=name),
        measure("decode", decode_one_by_one, repeats=repeats, items=len(single), batch=1,
                codec=name, **decode_options),
        measure("decode", lambda: codec.decode(embeddings, lang=lang, **decode_options),
                repeats=repeats, items=len(SENTENCES), batch=len(SENTENCES), codec=name,
                **decode_options),
    ]  # fmt: skip


def run(options):
    with tempfile.TemporaryDirectory() as tmp:
        demo, demo_weights = demo_codec(Path(tmp) / "demo")
        results = codec_cases("demo", demo, {"beam_size": 1}, options.repeats)
        (Path(tmp) / "sonar").mkdir()
        sonar = build_tiny_sonar(Path(tmp) / "sonar")
        results += codec_cases(
            "tiny-sonar", sonar, {"beam_size": 5, "max_len": TINY_SONAR_MAX_LEN}, options.repeats
        )
    extra = {
        "demo_weights": demo_weights,
        "sentences": len(SENTENCES),
        "mean_sentence_chars": sum(map(len, SENTENCES)) / len(SENTENCES),
    }
    return write_results("codec", results, extra)
