"""`lcm-writer bench`: run benchmark suites; each writes benchmarks/results/<suite>.json.

    lcm-writer bench                 # every suite
    lcm-writer bench lcm codec       # some (flops, lcm, codec, train, segmentation, app)
    lcm-writer bench --quick lcm     # smallest cases, one repeat: checks that a suite runs
    lcm-writer bench --report        # Markdown tables of the saved results

Timings are medians of --repeats runs after a warm-up; torch uses --threads CPU threads
(default 1, so that numbers from a machine shared with other jobs stay comparable).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

import torch

from engine.paths import REPO

# The codec and app suites reuse the offline tiny-model builders of tests/codec and
# tests/demo, importable from the repository root (the console script does not add it).
REPO_ROOT = str(REPO)

SUITES = {
    "flops": ("benchmarks.flops_report", "analytic FLOPs per generated sentence; plot"),
    "lcm": ("benchmarks.lcm_speed", "next-concept latency: steps, guidance, samples, context"),
    "codec": ("benchmarks.codec_speed", "encode/decode sentences/s: demo codec, tiny SONAR"),
    "train": ("benchmarks.train_speed", "training concepts/s: toy and demo presets"),
    "segmentation": ("benchmarks.segmentation", "sentence boundary F1 and chars/s per language"),
    "app": ("benchmarks.app_speed", "regenerate, decode a document, open 10,000 nodes"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    listing = "; ".join(f"{name}: {help_}" for name, (_, help_) in SUITES.items())
    parser.add_argument("suites", nargs="*", metavar="SUITE", help=f"default all ({listing})")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--quick", action="store_true", help="smallest cases, one repeat")
    parser.add_argument(
        "--report", action="store_true", help="print Markdown tables of the saved results only"
    )


def run(args: argparse.Namespace) -> int:
    unknown = [s for s in args.suites if s not in SUITES]
    if unknown:
        print(f"unknown suite(s) {unknown}; choose from {sorted(SUITES)}")
        return 2
    if args.repeats < 1 or args.threads < 1:
        print("--repeats and --threads must be at least 1")
        return 2
    if args.report:
        from .report import markdown

        print(markdown())
        return 0
    if args.quick:
        args.repeats = 1
    torch.set_num_threads(args.threads)
    if REPO_ROOT not in sys.path:
        sys.path.insert(0, REPO_ROOT)
    for name in args.suites or list(SUITES):
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        path = importlib.import_module(SUITES[name][0]).run(args)
        print(f"== {name}: wrote {path} in {time.perf_counter() - start:.0f} s", flush=True)
    return 0
