"""`lcm-writer fit-normalizer`: fit the LCM's embedding normaliser on prepared shards.

The paper fits its robust scaler (median, IQR / 1.349 per dimension) on about 1M
sentences; this draws a uniform random sample of up to `--max-concepts` sentence concepts
(the appended end-of-text concepts excluded) and saves the statistics as safetensors,
which `lcm-writer train` loads into the model.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from engine.data.shards import read_embeddings
from engine.lcm.normalizer import Normalizer, NormalizerFileError, save_normalizer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shards", help="directory of shards written by `lcm-writer prepare`")
    parser.add_argument("--out", required=True, help="output file, e.g. normalizer.safetensors")
    parser.add_argument("--split", default="train", help="split to sample from")
    parser.add_argument("--max-concepts", type=int, default=1_000_000, help="sample size")
    parser.add_argument("--kind", choices=("robust", "standard"), default="robust")
    parser.add_argument("--seed", type=int, default=0)


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


def run(args: argparse.Namespace) -> int:
    docs, _, info = read_embeddings(args.shards, split=args.split)
    sample = sample_concepts(docs, args.max_concepts, args.seed)
    normalizer = Normalizer(info["dim"], args.kind).fit(sample)
    save_normalizer(normalizer, args.out, info["codec"])
    summary = {"concepts": len(sample), "dim": info["dim"], "codec": info["codec"]}
    print(f"normaliser ({args.kind}) fitted on {json.dumps(summary)} -> {args.out}")
    return 0
