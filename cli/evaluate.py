"""`lcm-writer eval`: evaluate an LCM and its codec on held-out shards
(engine.eval.evaluate); writes eval.json and eval.md to --out and prints the table."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.configs import config_from
from engine.eval.evaluate import EvalConfig, evaluate, markdown_table


def noise_levels(text: str) -> tuple[float, ...]:
    """The flag's comma-separated levels, e.g. "0.05,0.1" -> (0.05, 0.1)."""
    return tuple(float(x) for x in text.split(",") if x.strip())


def thresholds(text: str) -> dict[str, float]:
    """The flag's comma-separated settings, e.g. "eot_threshold=0.99" -> {"eot_threshold": 0.99}."""
    settings = {}
    for item in (x.strip() for x in text.split(",") if x.strip()):
        name, _, value = item.partition("=")
        try:
            settings[name.strip()] = float(value)
        except ValueError:
            message = f"expected NAME=NUMBER, e.g. eot_threshold=0.99; got {item!r}"
            raise argparse.ArgumentTypeError(message) from None
    return settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="LCM checkpoint directory or 'demo'")
    parser.add_argument("--data", type=Path, required=True, help="shard directory")
    parser.add_argument("--split", default=EvalConfig.split, help="split to evaluate on")
    parser.add_argument(
        "--codec", default=EvalConfig.codec, help="codec (default: the shards' codec)"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="directory for eval.json and eval.md"
    )
    parser.add_argument(
        "--max-docs", type=int, default=EvalConfig.max_docs, help="documents to evaluate"
    )
    parser.add_argument(
        "--positions", type=int, default=EvalConfig.positions, help="predictions per document"
    )
    parser.add_argument(
        "--max-sentences", type=int, default=EvalConfig.max_sentences, help="for codec metrics"
    )
    parser.add_argument(
        "--max-new", type=int, default=EvalConfig.max_new, help="concepts to generate per doc"
    )
    parser.add_argument(
        "--noise-levels",
        type=noise_levels,
        default=EvalConfig.noise_levels,
        help="fragility levels, comma-separated (default: "
        + ",".join(f"{x:g}" for x in EvalConfig.noise_levels)
        + ")",
    )
    parser.add_argument("--lang", default=EvalConfig.lang, help="language to decode into")
    parser.add_argument("--seed", type=int, default=EvalConfig.seed)
    parser.add_argument("--device", default=EvalConfig.device)
    parser.add_argument(
        "--writer-words",
        type=Path,
        default=EvalConfig.writer_words,
        help="word list of --lang, one word a line (e.g. /usr/share/dict/american-english "
        "from Debian's wamerican): adds the writer-facing section (off when not given)",
    )
    parser.add_argument(
        "--generation",
        type=thresholds,
        default=EvalConfig.generation,
        help="stopping thresholds over the model's own, e.g. eot_threshold=0.99,"
        "repeat_threshold=0.998 (those tuned for the codec: see the LCM card)",
    )


def run(args: argparse.Namespace) -> int:
    cfg = config_from(EvalConfig, args)
    results = evaluate(cfg)
    print(markdown_table(results))
    print(f"written to {cfg.out / 'eval.json'} and eval.md")
    return 0
