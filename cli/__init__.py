"""The `lcm-writer` command line.

Each subcommand lives in the module that owns its work; that module exposes
`add_arguments(parser)` and `run(args) -> int`. Modules are imported only when their
subcommand runs, so `lcm-writer --help` stays instant and a bare GPU box can run
`train` without gradio installed. This package sits above app, engine and benchmarks;
none of them imports it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("app.serve", "start the writer's web app"),
    "prepare": ("engine.data.prepare", "segment and encode documents into Parquet shards"),
    "fit-normalizer": ("engine.data.normalizer_fit", "fit the embedding normaliser on shards"),
    "fit-rvq": ("engine.data.rvq_fit", "fit a quantized LCM's residual vector quantiser"),
    "train": ("engine.train.cli", "train an LCM (accelerate: CPU, DDP, FSDP)"),
    "eval": ("engine.eval.cli", "evaluate an LCM and a codec; JSON + Markdown table"),
    "generate": ("engine.generate", "continue a text with an LCM from the command line"),
    "bench": ("benchmarks.run", "measure speed, memory and compute"),
    "demo-assets": ("engine.demo_assets", "rebuild the bundled demo models from scratch"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="lcm-writer", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # Only the chosen subcommand's module is imported: peek at argv before parsing.
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            sub.set_defaults(handler=module.run)
    args = parser.parse_args(argv)
    return int(args.handler(args) or 0)
