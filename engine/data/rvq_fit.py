"""Fitting the residual vector quantiser of a quantized LCM on shards (`lcm-writer fit-rvq`).

Draws up to `max_concepts` concepts of the split (fit-normalizer's uniform sample, with
the end-of-text concepts), fits `codebooks` codebooks of `units` units by seeded k-means
(engine.lcm.rvq) and saves them as safetensors, which training loads into a Quant-LCM (a
recipe's `rvq`). Reports the reconstruction error per codebook count.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from engine.data.normalizer_fit import sample_concepts
from engine.data.shards import read_embeddings
from engine.lcm.rvq import ResidualVQ, curve_levels


@dataclass(frozen=True)
class FitRVQConfig:
    shards: Path  # directory of shards written by `prepare`
    out: Path  # the RVQ file, e.g. rvq.safetensors
    split: str = "train"  # split to sample from
    codebooks: int = 16
    units: int = 256  # units per codebook
    iterations: int = 20  # k-means steps per codebook
    max_concepts: int = 200_000  # sample size
    seed: int = 0


def reconstruction_curve(rvq: ResidualVQ, x: torch.Tensor) -> dict[int, float]:
    """Mean squared error of decode(codes[:, :k]) for k = 1, 2, 4, ..., all (relative to
    the mean squared norm of x, so 1.0 is "no information")."""
    codes = rvq.encode(x)
    energy = x.pow(2).sum(-1).mean().item()
    return {
        k: (x - rvq.decode(codes[:, :k])).pow(2).sum(-1).mean().item() / energy
        for k in curve_levels(rvq.num_codebooks)
    }


def fit_rvq(cfg: FitRVQConfig) -> dict:
    """Fit the codebooks and save them to `cfg.out`; returns a summary (concepts sampled,
    dim, codec) with the reconstruction curve on the sample."""
    docs, _, info = read_embeddings(cfg.shards, split=cfg.split)
    # End-of-text rows included: a quantized LCM ends a document by predicting its units.
    sample = torch.from_numpy(sample_concepts(docs, cfg.max_concepts, cfg.seed, with_end=True))
    rvq = ResidualVQ(info["dim"], cfg.codebooks, cfg.units)
    with tqdm(total=cfg.codebooks, desc="fit-rvq", unit="codebook") as bar:
        rvq.fit(sample, cfg.iterations, cfg.seed, progress=lambda _: bar.update(1))
    rvq.save(cfg.out, info["codec"])
    return {
        "concepts": len(sample),
        "dim": info["dim"],
        "codec": info["codec"],
        "curve": reconstruction_curve(rvq, sample),
    }
