"""`lcm-writer train`: train an LCM from a recipe (recipes/*.yaml), on accelerate
(engine.train.trainer).

Single process:  lcm-writer train --recipe recipes/toy.yaml --set data=DIR out_dir=OUT
Several (DDP):   accelerate launch --multi_gpu --num_processes 8 -m cli train ...
FSDP:            accelerate launch --config_file recipes/accelerate/fsdp.yaml -m cli train ...
Re-running the same command resumes from the newest checkpoint in out_dir.
"""

from __future__ import annotations

import argparse
import json

from engine.train.config import load_recipe, parse_overrides


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipe", help="YAML or JSON recipe (see recipes/)")
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="override recipe fields, e.g. max_steps=100 model.d_model=64",
    )
    parser.add_argument("--data", help="shard directory (same as --set data=...)")
    parser.add_argument("--out", help="output directory (same as --set out_dir=...)")


def run(args: argparse.Namespace) -> int:
    from engine.train.trainer import train

    overrides = parse_overrides(args.set)
    if args.data:
        overrides["data"] = args.data
    if args.out:
        overrides["out_dir"] = args.out
    summary = train(load_recipe(args.recipe, overrides))
    print(json.dumps(summary, indent=2))
    return 0
