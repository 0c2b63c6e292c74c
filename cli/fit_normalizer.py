"""`lcm-writer fit-normalizer`: fit the LCM's embedding normaliser on prepared shards
(engine.data.normalizer_fit)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import get_args

from cli.configs import config_from
from engine.data.normalizer_fit import FitNormalizerConfig, fit_normalizer
from engine.lcm.config import NormalizerKind


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "shards", type=Path, help="directory of shards written by `lcm-writer prepare`"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="output file, e.g. normalizer.safetensors"
    )
    parser.add_argument("--split", default=FitNormalizerConfig.split, help="split to sample from")
    parser.add_argument(
        "--max-concepts", type=int, default=FitNormalizerConfig.max_concepts, help="sample size"
    )
    parser.add_argument(
        "--kind",
        choices=get_args(NormalizerKind),
        default=FitNormalizerConfig.kind,
        help="per-dimension robust or standard scaling, or robust then whitened",
    )
    parser.add_argument(
        "--whiten-dims",
        type=int,
        default=FitNormalizerConfig.whiten_dims,
        help="--kind whitened: principal directions scaled to unit variance",
    )
    parser.add_argument("--seed", type=int, default=FitNormalizerConfig.seed)


def run(args: argparse.Namespace) -> int:
    cfg = config_from(FitNormalizerConfig, args)
    summary = fit_normalizer(cfg)
    print(f"normaliser ({cfg.kind}) fitted on {json.dumps(summary)} -> {cfg.out}")
    return 0
