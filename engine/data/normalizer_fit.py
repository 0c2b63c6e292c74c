"""Fitting the LCM's embedding normaliser on prepared shards (`lcm-writer fit-normalizer`).

The paper fits its robust scaler (median, IQR / 1.349 per dimension) on about 1M
sentences; this draws a uniform random sample of up to `max_concepts` sentence concepts
(the appended end-of-text concepts excluded) and saves the statistics as safetensors,
which training loads into the model (a recipe's `normalizer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.shards import read_embeddings
from engine.lcm.config import NormalizerKind
from engine.lcm.normalizer import WHITEN_DIMS, Normalizer, NormalizerFileError, save_normalizer


@dataclass(frozen=True)
class FitNormalizerConfig:
    shards: Path  # directory of shards written by `prepare`
    out: Path  # the normaliser file, e.g. normalizer.safetensors
    split: str = "train"  # split to sample from
    max_concepts: int = 1_000_000  # sample size
    kind: NormalizerKind = "robust"
    whiten_dims: int = WHITEN_DIMS  # the whitened kind: principal directions at unit variance
    seed: int = 0


def sample_concepts(
    docs: list[np.ndarray], max_concepts: int, seed: int, with_end: bool = False
) -> np.ndarray:
    """Uniform sample without replacement of sentence rows (each document's last row, the
    end-of-text concept, is left out unless `with_end`)."""
    end = None if with_end else -1
    sentences = np.concatenate([d[:end] for d in docs]) if docs else np.zeros((0, 0))
    if len(sentences) < 2:
        raise NormalizerFileError(
            f"only {len(sentences)} sentence concept(s) found; the normaliser needs at least 2"
        )
    if len(sentences) > max_concepts:
        rows = np.random.default_rng(seed).choice(len(sentences), max_concepts, replace=False)
        sentences = sentences[np.sort(rows)]
    return sentences


def fit_normalizer(cfg: FitNormalizerConfig) -> dict:
    """Fit on a sample of the shards' concepts and save to `cfg.out`; returns a summary
    (concepts sampled, dim, codec)."""
    docs, _, info = read_embeddings(cfg.shards, split=cfg.split)
    sample = sample_concepts(docs, cfg.max_concepts, cfg.seed)
    normalizer = Normalizer(info["dim"], cfg.kind).fit(sample, cfg.whiten_dims)
    save_normalizer(normalizer, cfg.out, info["codec"])
    return {"concepts": len(sample), "dim": info["dim"], "codec": info["codec"]}
