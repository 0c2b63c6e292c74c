"""`lcm-writer fit-rvq`: fit the residual vector quantiser of a quantized LCM on shards.

Draws up to `--max-concepts` concepts of the train split (fit-normalizer's uniform
sample, with the end-of-text concepts), fits `--codebooks` codebooks of `--units` units by seeded
k-means (engine.lcm.rvq) and saves them as safetensors, which `lcm-writer train` loads
into a Quant-LCM (`--set rvq=FILE`). Prints the reconstruction error per codebook count.
"""

from __future__ import annotations

import argparse
import json

import torch
from tqdm import tqdm

from engine.data.normalizer_fit import sample_concepts
from engine.data.shards import read_embeddings
from engine.lcm.rvq import ResidualVQ, curve_levels


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shards", help="directory of shards written by `lcm-writer prepare`")
    parser.add_argument("--out", required=True, help="output file, e.g. rvq.safetensors")
    parser.add_argument("--split", default="train", help="split to sample from")
    parser.add_argument("--codebooks", type=int, default=16, help="number of codebooks")
    parser.add_argument("--units", type=int, default=256, help="units per codebook")
    parser.add_argument("--iterations", type=int, default=20, help="k-means steps per codebook")
    parser.add_argument("--max-concepts", type=int, default=200_000, help="sample size")
    parser.add_argument("--seed", type=int, default=0)


def reconstruction_curve(rvq: ResidualVQ, x: torch.Tensor) -> dict[int, float]:
    """Mean squared error of decode(codes[:, :k]) for k = 1, 2, 4, ..., all (relative to
    the mean squared norm of x, so 1.0 is "no information")."""
    codes = rvq.encode(x)
    energy = x.pow(2).sum(-1).mean().item()
    return {
        k: (x - rvq.decode(codes[:, :k])).pow(2).sum(-1).mean().item() / energy
        for k in curve_levels(rvq.num_codebooks)
    }


def run(args: argparse.Namespace) -> int:
    docs, _, info = read_embeddings(args.shards, split=args.split)
    # End-of-text rows included: a quantized LCM ends a document by predicting its units.
    sample = torch.from_numpy(sample_concepts(docs, args.max_concepts, args.seed, with_end=True))
    rvq = ResidualVQ(info["dim"], args.codebooks, args.units)
    with tqdm(total=args.codebooks, desc="fit-rvq", unit="codebook") as bar:
        rvq.fit(sample, args.iterations, args.seed, progress=lambda _: bar.update(1))
    rvq.save(args.out, info["codec"])
    curve = reconstruction_curve(rvq, sample)
    summary = {"concepts": len(sample), "dim": info["dim"], "codec": info["codec"]}
    print(f"RVQ {args.codebooks} x {args.units} fitted on {json.dumps(summary)} -> {args.out}")
    print("relative squared error by codebooks used: " + json.dumps(curve))
    return 0
