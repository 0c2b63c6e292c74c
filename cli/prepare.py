"""`lcm-writer prepare`: documents -> sentences -> concepts -> Parquet shards
(engine.data.prepare). Under `accelerate launch --num_processes N`, each process writes
its share of the shards."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.configs import config_from
from engine.data.prepare import PrepareConfig, prepare


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", help="files or directories (.txt .md .jsonl .parquet)")
    parser.add_argument("--out", type=Path, required=True, help="directory for the Parquet shards")
    parser.add_argument(
        "--codec", default=PrepareConfig.codec, help="'demo', 'sonar' or a codec directory"
    )
    parser.add_argument(
        "--lang", default=PrepareConfig.lang, help="SONAR code (e.g. eng_Latn); default: detect"
    )
    parser.add_argument(
        "--split", default=PrepareConfig.split, help="split of documents that name none"
    )
    parser.add_argument(
        "--text-field", default=PrepareConfig.text_field, help="JSONL/Parquet field with the text"
    )
    parser.add_argument(
        "--source-field",
        default=PrepareConfig.source_field,
        help="JSONL/Parquet field with a fine-tuning source",
    )
    parser.add_argument(
        "--limit", type=int, default=PrepareConfig.limit, help="only the first N documents"
    )
    parser.add_argument(
        "--shard-size", type=int, default=PrepareConfig.shard_size, help="documents per shard"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=PrepareConfig.batch_size,
        help="sentences per encoder call",
    )
    parser.add_argument(
        "--max-chars", type=int, default=PrepareConfig.max_chars, help="re-split longer sentences"
    )
    parser.add_argument(
        "--device", default=PrepareConfig.device, help="codec device (default: cuda if present)"
    )


def run(args: argparse.Namespace) -> int:
    from accelerate import PartialState

    state = PartialState()  # one process, or one of those `accelerate launch` started
    cfg = config_from(PrepareConfig, args)
    paths = prepare(cfg, rank=state.process_index, world_size=state.num_processes)
    state.wait_for_everyone()
    print(f"{len(paths)} shard(s) ready in {cfg.out}")
    return 0
