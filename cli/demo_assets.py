"""`lcm-writer demo-assets`: rebuild the bundled demo models from scratch (engine.demo;
its docstring lists the stages). Re-running the command resumes."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from cli.configs import config_from
from engine.codec import demo_train
from engine.demo.constants import LCM_TYPES
from engine.demo.pipeline import DemoAssetsConfig, build_demo_assets


def model_types(text: str) -> tuple[str, ...]:
    """The flag's comma-separated LCM types, e.g. "two_tower,base_lcm"."""
    return tuple(text.split(","))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--work", type=Path, default=DemoAssetsConfig.work, help="scratch directory"
    )
    parser.add_argument(
        "--assets", type=Path, default=DemoAssetsConfig.assets, help="where the models go"
    )
    parser.add_argument(
        "--codec-minutes",
        type=float,
        nargs="+",
        help="length of each cosine cycle of the codec's training, in minutes (default "
        f"{demo_train.TrainConfig.cycle_minutes} on a CPU, "
        f"{demo_train.GPU_SETTINGS['cycle_minutes']} on a GPU)",
    )
    parser.add_argument(
        "--codec-device", help="where the codec trains: cpu or cuda (default: cuda when present)"
    )
    parser.add_argument(
        "--codec-align",
        choices=["cosine", "contrastive"],
        help="how the codec's training pulls a translation's concept to its sentence's "
        f"(default {demo_train.TrainConfig.align}; see engine/codec/demo_train.py)",
    )
    parser.add_argument(
        "--lcm-steps", type=int, default=DemoAssetsConfig.lcm_steps, help="optimiser steps per LCM"
    )
    parser.add_argument(
        "--lcm-minutes", type=float, default=DemoAssetsConfig.lcm_minutes, help="time cap per LCM"
    )
    parser.add_argument(
        "--lcm-types",
        type=model_types,
        default=DemoAssetsConfig.lcm_types,
        help=f"comma-separated, from {LCM_TYPES}",
    )
    parser.add_argument("--recipe", type=Path, default=DemoAssetsConfig.recipe)
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads (all)"
    )


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    build_demo_assets(config_from(DemoAssetsConfig, args))
    return 0
