"""Training throughput (concepts/s) of the toy and demo recipes, through the real trainer
(accelerate, batching, AdamW, logging) on shards of random concepts.

The trainer logs concepts/s once per logging window; the first window pays for warm-up,
so the figure is the median of the later windows. Checkpoints are written only at the
end, outside the windows.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

import numpy as np

from engine.data.shards import END_OF_TEXT, EncodedDocument, write_shard
from engine.paths import RECIPES
from engine.train.config import load_recipe
from engine.train.trainer import METRICS, train

from .harness import Measurement, peak_rss, write_results

DOC_CONCEPTS = 96  # concepts per synthetic document (plus end-of-text)
DOCS = 64
# recipe -> (concept dim of its codec, steps, logging window); quick halves the steps.
PLAN = {"toy": (16, 40, 5), "demo": (512, 8, 2)}


def write_random_shards(out: Path, dim: int) -> Path:
    rng = np.random.default_rng(0)
    eot = rng.standard_normal(dim).astype(np.float32)
    docs = []
    for i in range(DOCS):
        rows = rng.standard_normal((DOC_CONCEPTS, dim)).astype(np.float32)
        sentences = [f"Sentence {k} of document {i}." for k in range(DOC_CONCEPTS)]
        docs.append(
            EncodedDocument(
                " ".join(sentences),
                sentences + [END_OF_TEXT],
                np.concatenate([rows, eot[None]]),
                "train",
            )
        )
    out.mkdir(parents=True, exist_ok=True)
    write_shard(out / "shard-00000.parquet", docs, "random", dim)
    return out


def train_case(recipe: str, workdir: Path, quick: bool) -> Measurement:
    dim, steps, window = PLAN[recipe]
    steps = max(steps // 2, 2 * window) if quick else steps
    shards = write_random_shards(workdir / f"{recipe}-shards", dim)
    out = workdir / f"{recipe}-run"
    cfg = load_recipe(
        RECIPES / f"{recipe}.yaml",
        {
            "data": str(shards),
            "out_dir": str(out),
            "max_steps": steps,
            "warmup_steps": 1,
            "log_every": window,
            "save_every": steps,
        },
    )
    peak, growth = peak_rss(lambda: train(cfg))
    records = [json.loads(line) for line in (out / METRICS).read_text().splitlines()]
    # Per logging window: concepts trained and the rate; the first window warms up.
    windows = [
        (now["concepts"] - before["concepts"], now["concepts_per_s"])
        for before, now in zip(records[:-1], records[1:], strict=True)
    ]
    rates = [rate for _, rate in windows]
    seconds = [concepts / rate for concepts, rate in windows]
    concepts = round(statistics.mean(c for c, _ in windows))
    print(f"  train {recipe}: median {statistics.median(rates):,.0f} concepts/s", flush=True)
    params = {
        "recipe": recipe,
        "batch_concepts": cfg.batch_concepts,
        "max_len": cfg.max_len,
        "steps_per_window": window,
        "window_concepts_per_s": rates,
    }
    return Measurement("train", params, seconds, peak, growth, None, items=concepts)


def run(options):
    with tempfile.TemporaryDirectory() as tmp:
        results = [train_case(recipe, Path(tmp), options.quick) for recipe in PLAN]
    return write_results("train", results)
