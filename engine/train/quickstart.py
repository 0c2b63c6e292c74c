"""The whole loop in one command, small enough for a laptop CPU (a few minutes):
prepare -> fit-normalizer -> train a toy Two-Tower -> eval table.

    python -m engine.train.quickstart --corpus work/corpus/documents.jsonl --work runs/quickstart

Each stage calls the library function behind its `lcm-writer` subcommand with the config
it prints, so this is also the sequence to follow for larger runs. Stages whose output
exists are resumed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from engine.data.normalizer_fit import FitNormalizerConfig, fit_normalizer
from engine.data.prepare import PrepareConfig, prepare
from engine.eval.evaluate import EvalConfig, evaluate
from engine.paths import RECIPES
from engine.train.config import load_recipe
from engine.train.trainer import FINAL, train


def run_timed(name: str, function: Callable[[Any], Any], cfg: Any) -> float:
    """Run one stage on its config; returns its wall time in seconds."""
    print(f"\n== {name}: {cfg}", flush=True)
    start = time.perf_counter()
    function(cfg)
    return time.perf_counter() - start


def heldout_split(shards: Path) -> str:
    """The first split other than "train" in the shards (the corpus's held-out part)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    splits = sorted(set(pc.unique(pq.read_table(shards, columns=["split"])["split"]).to_pylist()))
    others = [s for s in splits if s != "train"]
    if not others:
        raise SystemExit(f"no held-out documents among the first documents (splits: {splits})")
    return others[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="documents (.jsonl/.txt/.md/.parquet)")
    parser.add_argument("--work", default="runs/quickstart", help="output directory")
    parser.add_argument("--codec", default="demo")
    parser.add_argument("--docs", type=int, default=60, help="documents to use")
    parser.add_argument("--steps", type=int, default=300, help="training steps")
    parser.add_argument("--eval-split", default=None, help="default: the held-out split found")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    shards, norm, model = work / "shards", work / "normalizer.safetensors", work / "model"
    times = {}
    prepared = PrepareConfig(
        inputs=(args.corpus,),
        out=shards,
        codec=args.codec,
        lang="eng_Latn",
        limit=args.docs,
        shard_size=20,
    )
    times["prepare"] = run_timed("prepare", prepare, prepared)
    times["fit-normalizer"] = run_timed(
        "fit-normalizer", fit_normalizer, FitNormalizerConfig(shards=shards, out=norm)
    )
    overrides = {
        "data": str(shards),
        "out_dir": str(model),
        "normalizer": str(norm),
        "max_steps": args.steps,
    }
    recipe = load_recipe(RECIPES / "toy.yaml", overrides)
    times["train"] = run_timed("train", train, recipe)
    evaluation = EvalConfig(
        model=model / FINAL,
        data=shards,
        out=work / "eval",
        codec=args.codec,
        split=args.eval_split or heldout_split(shards),
        max_docs=16,
        max_sentences=48,
        max_new=6,
    )
    times["eval"] = run_timed("eval", evaluate, evaluation)
    summary = json.loads((model / "summary.json").read_text())
    report = {
        "seconds": {k: round(v, 1) for k, v in times.items()},
        "total_seconds": round(sum(times.values()), 1),
        "train_loss_first_window": summary["first_loss"],
        "train_loss_last_window": summary["last_loss"],
        "train_concepts_per_s": summary["concepts_per_s"],
    }
    (work / "quickstart.json").write_text(json.dumps(report, indent=2) + "\n")
    print("\n" + (work / "eval" / "eval.md").read_text())
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
