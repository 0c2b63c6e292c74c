"""`lcm-writer fit-rvq`: fit the residual vector quantiser of a quantized LCM on shards
(engine.data.rvq_fit); `lcm-writer train --set rvq=FILE` loads it into a Quant-LCM."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cli.configs import config_from
from engine.data.rvq_fit import FitRVQConfig, fit_rvq


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "shards", type=Path, help="directory of shards written by `lcm-writer prepare`"
    )
    parser.add_argument("--out", type=Path, required=True, help="output file, e.g. rvq.safetensors")
    parser.add_argument("--split", default=FitRVQConfig.split, help="split to sample from")
    parser.add_argument(
        "--codebooks", type=int, default=FitRVQConfig.codebooks, help="number of codebooks"
    )
    parser.add_argument("--units", type=int, default=FitRVQConfig.units, help="units per codebook")
    parser.add_argument(
        "--iterations", type=int, default=FitRVQConfig.iterations, help="k-means steps per codebook"
    )
    parser.add_argument(
        "--max-concepts", type=int, default=FitRVQConfig.max_concepts, help="sample size"
    )
    parser.add_argument("--seed", type=int, default=FitRVQConfig.seed)


def run(args: argparse.Namespace) -> int:
    cfg = config_from(FitRVQConfig, args)
    summary = fit_rvq(cfg)
    curve = summary.pop("curve")
    print(f"RVQ {cfg.codebooks} x {cfg.units} fitted on {json.dumps(summary)} -> {cfg.out}")
    print("relative squared error by codebooks used: " + json.dumps(curve))
    return 0
