"""Shards for training and evaluation tests: synthetic documents that walk through a fixed
cycle of "sentence" concepts, so a model can learn the next concept and its loss can fall
(written with the real shard writer, no codec needed), and real text prepared with a codec.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.data.prepare import PrepareConfig, prepare
from engine.data.shards import END_OF_TEXT, EncodedDocument, write_shard


def write_synthetic_shards(
    out: Path, dim: int = 16, docs: int = 48, shards: int = 2, seed: int = 0
) -> Path:
    rng = np.random.default_rng(seed)
    vocabulary = rng.normal(size=(12, dim)).astype(np.float32)
    eot = rng.normal(size=dim).astype(np.float32)
    encoded = []
    for i in range(docs):
        start, length = int(rng.integers(12)), int(rng.integers(3, 10))
        rows = vocabulary[(start + np.arange(length)) % 12]
        rows = rows + 0.05 * rng.normal(size=rows.shape).astype(np.float32)
        sentences = [f"Sentence {(start + k) % 12} of document {i}." for k in range(length)]
        split = "valid" if i % 8 == 7 else "train"
        source = EncodedDocument("summary", ["A summary."], rows[:1].copy(), split)
        encoded.append(
            EncodedDocument(
                " ".join(sentences),
                sentences + [END_OF_TEXT],
                np.concatenate([rows, eot[None]]),
                split,
                source,
            )
        )
    out.mkdir(parents=True, exist_ok=True)
    per_shard = -(-docs // shards)
    for k in range(shards):
        part = encoded[k * per_shard : (k + 1) * per_shard]
        write_shard(out / f"shard-{k:05d}.parquet", part, "synthetic", dim)
    return out


def prepared_shards(root: Path, codec, texts: list[str], split: str = "valid") -> Path:
    """Shards of `texts` (one document each) made by the real `prepare` with `codec`."""
    corpus = root / "docs.jsonl"
    corpus.write_text("".join(json.dumps({"text": t, "split": split}) + "\n" for t in texts))
    prepare(PrepareConfig(inputs=(corpus,), out=root / "s", lang="eng_Latn"), codec)
    return root / "s"
