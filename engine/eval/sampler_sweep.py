"""Tuning a diffusion LCM's sampler on held-out documents: one sampler option (the
guidance scale by default) over a grid of values, every value scored at the same seeded
positions with the same starting noise; `tune` sweeps several options one after another,
each at the values already chosen.

A value is acceptable when expanding by `n` sentences (end of text ignored, as the app's
Expand does) reaches `n` in every one of `tries` seeded expansions without a concept that
repeats an earlier one even after resampling (the app's Expand would keep the least
repetitive draw there; the sweep counts that as a failure), and the decoded
5-sentence continuations repeat 4-grams no more than the held-out text itself (REP-4);
among those, the highest contrastive accuracy wins. Guidance sharpens the next concept
(accuracy rises with it) but makes successive concepts converge, so the repetition check
fires and continuations loop: the sweep finds where that starts. For an option that costs
time (the number of denoising steps), the cheapest acceptable value within `tolerance` of
the best accuracy wins: a writer waits for every step.

    rows = sweep(model, codec, docs, words)
    best = choose(rows)   # e.g. {"guidance_scale": 3.0, ...}
    tuned = tune(model, codec, docs, words)   # {"chosen": {...}, "sweeps": [...]}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import torch

from engine.data.shards import END_OF_TEXT
from engine.eval.evaluate import next_concept_metrics
from engine.eval.mutual_information import UnigramCacheLM
from engine.eval.writer_metrics import writer_metrics
from engine.lcm.generation import NEVER

GUIDANCE_GRID = (1.0, 2.0, 3.0, 5.0, 8.0)


class Grid(NamedTuple):
    option: str  # a SamplerConfig field
    values: tuple[float, ...]
    tolerance: float | None = None  # set: the cheapest (smallest) value this close to the best


# Swept in this order, each at the values chosen before it. Steps: fewer is faster, and
# an accuracy 0.005 lower is within the noise of ~100 positions.
TUNING = (
    Grid("guidance_scale", GUIDANCE_GRID),
    Grid("guidance_rescale", (0.0, 0.35, 0.7)),
    Grid("steps", (10, 20, 40), tolerance=0.005),
)
CONTEXT = 3  # concepts of each document an expansion continues from
COLUMNS = ("contrastive_accuracy", "l2", "regen_word_rate", "regen_distinct_2",
           "continuation_rep_4", "held_out_rep_4", "exact")  # fmt: skip


def exact_expansions(model, docs: list[dict], n: int, tries: int, seed: int, **options) -> int:
    """How many of `tries` seeded n-concept expansions reach n concepts with no repeat left
    after resampling; try i continues the first CONTEXT concepts of document i (cycling
    through `docs`)."""
    usable = [d for d in docs if len(d["embeddings"]) >= CONTEXT]
    if not usable:
        raise ValueError(f"no document has {CONTEXT} or more concepts to expand from")
    exact = 0
    for i in range(tries):
        context = torch.from_numpy(usable[i % len(usable)]["embeddings"][:CONTEXT])
        new = model.generate(context.to(model.device), n, seed=seed + i, eot_threshold=NEVER,
                             **options)  # fmt: skip
        exact += len(new) == n
    return exact


def sweep(
    model,
    codec,
    docs: list[dict],
    words: set[str],
    values: Sequence[float] = GUIDANCE_GRID,
    option: str = "guidance_scale",
    *,
    fixed: Mapping[str, Any] | None = None,
    positions: int = 4,
    n: int = 5,
    tries: int = 20,
    seed: int = 0,
    lang: str = "eng_Latn",
) -> list[dict]:
    """One row per value: the option, the next-concept metrics (lcm-writer eval's), the
    writer-facing figures and `exact` of `tries` expansions by `n`; other sampler options
    at `fixed` (else the model's defaults)."""
    lm = UnigramCacheLM([s for d in docs for s in d["sentences"] if s != END_OF_TEXT])
    rows = []
    with torch.inference_mode():
        for value in values:
            options = {**(fixed or {}), option: value}
            metrics = next_concept_metrics(model, codec, docs, lm, lang, seed, positions, options)
            writer = writer_metrics(model, codec, docs, words, positions=positions, seed=seed,
                                    lang=lang, examples=0, sampler=options)  # fmt: skip
            exact = exact_expansions(model, docs, n, tries, seed, **options)
            rows.append({option: value, **metrics, **writer, "exact": exact, "tries": tries})
    return rows


def choose(
    rows: list[dict], option: str = "guidance_scale", tolerance: float | None = None
) -> dict | None:
    """The acceptable row (module docstring) with the highest contrastive accuracy, or
    with `tolerance` the one with the smallest `option` value within it of that accuracy;
    None when no value is acceptable."""
    fine = [r for r in rows if r["exact"] == r["tries"]
            and r["continuation_rep_4"] <= r["held_out_rep_4"]]  # fmt: skip
    best = max(fine, key=lambda r: r["contrastive_accuracy"], default=None)
    if best is None or tolerance is None:
        return best
    close = [
        r for r in fine if r["contrastive_accuracy"] >= best["contrastive_accuracy"] - tolerance
    ]
    return min(close, key=lambda r: r[option])


def tune(
    model, codec, docs: list[dict], words: set[str], grids: Sequence[Grid] = TUNING, **kwargs
) -> dict:
    """Sweep each grid in turn at the values chosen before it; {"chosen": options,
    "sweeps": [{"option", "tolerance", "rows"}]}. An option with no acceptable value keeps
    the model's default (absent from "chosen")."""
    chosen: dict[str, Any] = {}
    sweeps = []
    for grid in grids:
        rows = sweep(model, codec, docs, words, grid.values, grid.option, fixed=chosen, **kwargs)
        best = choose(rows, grid.option, grid.tolerance)
        if best is not None:
            chosen[grid.option] = best[grid.option]
        sweeps.append({"option": grid.option, "tolerance": grid.tolerance, "rows": rows})
    return {"chosen": chosen, "sweeps": sweeps}


def markdown_table(
    rows: list[dict], option: str = "guidance_scale", tolerance: float | None = None
) -> str:
    """The sweep as a Markdown table, the chosen row in bold."""
    best = choose(rows, option, tolerance)
    lines = [f"| {option} | " + " | ".join(COLUMNS) + " |", "|---:|" + "---:|" * len(COLUMNS)]
    for row in rows:
        cells = [f"{row[c]:.4f}" for c in COLUMNS[:-1]] + [f"{row['exact']} of {row['tries']}"]
        mark = "**" if row is best else ""
        lines.append(f"| {mark}{row[option]:g}{mark} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
