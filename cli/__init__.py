"""The `lcm-writer` command line.

Each subcommand lives in a module that exposes `add_arguments(parser)` and
`run(args) -> int`: the engine's commands in this package, as thin wrappers over the
engine's library functions (cli.configs turns the flags into their typed configs);
`serve` in the app and `bench` in the benchmarks. Modules are imported only when their
subcommand runs, so `lcm-writer --help` stays instant and a bare GPU box can run `train`
without gradio installed. This package sits above app, engine and benchmarks; none of
them imports it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("app.serve", "start the writer's web app"),
    "prepare": ("cli.prepare", "segment and encode documents into Parquet shards"),
    "fit-normalizer": ("cli.fit_normalizer", "fit the embedding normaliser on shards"),
    "fit-rvq": ("cli.fit_rvq", "fit a quantized LCM's residual vector quantiser"),
    "train": ("cli.train", "train an LCM (accelerate: CPU, DDP, FSDP)"),
    "eval": ("cli.evaluate", "evaluate an LCM and a codec; JSON + Markdown table"),
    "generate": ("cli.generate", "continue a text with an LCM from the command line"),
    "bench": ("benchmarks.run", "measure speed, memory and compute"),
    "demo-assets": ("cli.demo_assets", "rebuild the bundled demo models from scratch"),
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
