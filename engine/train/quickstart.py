"""The whole loop in one command, small enough for a laptop CPU (a few minutes):
prepare -> fit-normalizer -> train a toy Two-Tower -> eval table.

    python -m engine.train.quickstart --corpus work/corpus/documents.jsonl --work runs/quickstart

Each stage runs through its real `lcm-writer` subcommand, so this is also the sequence to
copy for larger runs (see the printed commands). Stages whose output exists are resumed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shlex
import sys
import time
from pathlib import Path

from engine.paths import RECIPES

STAGES = {
    "prepare": "engine.data.prepare",
    "fit-normalizer": "engine.data.normalizer_fit",
    "train": "engine.train.cli",
    "eval": "engine.eval.cli",
}


def run_stage(name: str, argv: list[str]) -> float:
    """Run `lcm-writer NAME ARGV...` in this process; returns its wall time in seconds."""
    print(f"\n$ lcm-writer {name} {shlex.join(argv)}", flush=True)
    module = importlib.import_module(STAGES[name])
    parser = argparse.ArgumentParser(prog=f"lcm-writer {name}")
    module.add_arguments(parser)
    start = time.perf_counter()
    code = module.run(parser.parse_args(argv))
    if code:
        raise SystemExit(f"lcm-writer {name} failed with exit code {code}")
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

    import torch

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    shards, norm, model = work / "shards", work / "normalizer.safetensors", work / "model"
    recipe = RECIPES / "toy.yaml"
    times = {}
    times["prepare"] = run_stage(
        "prepare",
        [args.corpus, "--out", str(shards), "--codec", args.codec, "--lang", "eng_Latn"]
        + ["--limit", str(args.docs), "--shard-size", "20"],
    )
    times["fit-normalizer"] = run_stage("fit-normalizer", [str(shards), "--out", str(norm)])
    times["train"] = run_stage(
        "train",
        ["--recipe", str(recipe), "--data", str(shards), "--out", str(model)]
        + ["--set", f"normalizer={norm}", f"max_steps={args.steps}"],
    )
    times["eval"] = run_stage(
        "eval",
        ["--model", str(model / "final"), "--data", str(shards), "--codec", args.codec]
        + ["--split", args.eval_split or heldout_split(shards), "--out", str(work / "eval")]
        + ["--max-docs", "16", "--max-sentences", "48", "--max-new", "6"],
    )
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
