"""Tuning a diffusion LCM's sampler on held-out documents: one sampler option (the
guidance scale by default) over a grid of values, every value scored at the same seeded
positions with the same starting noise; `tune` sweeps several options one after another,
each at the values already chosen.

A value is acceptable when its decoded suggestions meet the writer's targets
(engine.eval.writer_metrics.writer_targets): K=4 regenerations in words of the language
and distinct from each other, 5-sentence continuations (written as the app's Expand
writes them, so always 5) repeating 4-grams no more than the held-out text itself
(REP-4); among those, the highest contrastive accuracy wins. Guidance sharpens the next
concept (accuracy rises with it) but makes successive concepts converge, so
continuations loop and alternatives coincide: the sweep finds where that starts. For an
option that costs time (the number of denoising steps), the cheapest acceptable value
within `tolerance` of the best accuracy wins: a writer waits for every step.

    rows = sweep(model, codec, docs, words)
    best = choose(rows)   # e.g. {"guidance_scale": 3.0, ...}
    tuned = tune(model, codec, docs, words)   # {"chosen": {...}, "sweeps": [...]}

A sweep takes an hour or more on a CPU; pass `memo` (any mutable mapping, e.g. one that
writes itself to disk) and rows already scored are read from it instead of re-scored,
so an interrupted tuning resumes where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, NamedTuple

import torch

from engine.data.shards import END_OF_TEXT
from engine.eval.evaluate import next_concept_metrics
from engine.eval.mutual_information import UnigramCacheLM
from engine.eval.writer_metrics import reference_figures, writer_metrics, writer_targets

GUIDANCE_GRID = (1.0, 2.0, 3.0, 5.0, 8.0)


class Grid(NamedTuple):
    option: str  # a SamplerConfig field
    values: tuple[float | str, ...]
    tolerance: float | None = None  # set: the cheapest (smallest) value this close to the best


def shown(value: float | str) -> str:
    """A swept value as the tables print it: 3 and 0.35 for numbers, x0 for a name."""
    return f"{value:g}" if isinstance(value, int | float) else str(value)


# Swept in this order, each at the values chosen before it. Where guidance applies (to the
# noise estimate, the reference implementation's way, or to the clean sample) changes
# what its scale and rescale do, so it comes first. The initial noise scale is
# the sampler's temperature: lower is more accurate and less varied, which the distinct-
# alternatives target bounds. Steps: fewer is faster, and an accuracy 0.005 lower is
# within the noise of ~100 positions.
TUNING = (
    Grid("guidance_space", ("noise", "x0")),
    Grid("guidance_scale", GUIDANCE_GRID),
    Grid("guidance_rescale", (0.0, 0.35, 0.7)),
    Grid("init_noise_scale", (0.2, 0.4, 0.6, 1.0)),
    Grid("steps", (10, 20, 40), tolerance=0.005),
)
COLUMNS = ("contrastive_accuracy", "l2", "regen_word_rate", "round_trip_word_rate",
           "regen_distinct", "continuation_rep_4", "held_out_rep_4")  # fmt: skip


def sweep(
    model,
    codec,
    docs: list[dict],
    words: set[str],
    values: Sequence[float | str] = GUIDANCE_GRID,
    option: str = "guidance_scale",
    *,
    fixed: Mapping[str, Any] | None = None,
    positions: int = 4,
    seed: int = 0,
    lang: str = "eng_Latn",
    memo: MutableMapping[str, dict] | None = None,
) -> list[dict]:
    """One row per value: the option, the next-concept metrics (lcm-writer eval's) and the
    writer-facing figures; other sampler options at `fixed` (else the model's defaults).
    Rows found in `memo` (keyed by their options, positions and seed) are not re-scored,
    and the figures no setting changes (writer_metrics.reference_figures) are computed
    once into it."""
    lm = UnigramCacheLM([s for d in docs for s in d["sentences"] if s != END_OF_TEXT])
    memo = {} if memo is None else memo

    def key(**options) -> str:
        return json.dumps({**options, "positions": positions, "seed": seed}, sort_keys=True)

    def reference() -> dict:  # kept under the key of no options: no setting changes it
        if key() not in memo:
            memo[key()] = reference_figures(codec, docs, words, positions, seed=seed, lang=lang)
        return memo[key()]

    rows = []
    with torch.inference_mode():
        for value in values:
            options = {**(fixed or {}), option: value}
            row = key(**options)
            if row not in memo:
                metrics = next_concept_metrics(model, codec, docs, lm, lang, seed, positions,
                                               options)  # fmt: skip
                writer = writer_metrics(model, codec, docs, words, positions=positions, seed=seed,
                                        lang=lang, examples=0, sampler=options,
                                        reference=reference())  # fmt: skip
                memo[row] = {**metrics, **writer}
            rows.append({option: value, **memo[row]})
    return rows


def choose(
    rows: list[dict], option: str = "guidance_scale", tolerance: float | None = None
) -> dict | None:
    """The acceptable row (module docstring) with the highest contrastive accuracy, or
    with `tolerance` the one with the smallest `option` value within it of that accuracy;
    None when no value is acceptable."""
    fine = [r for r in rows if all(writer_targets(r).values())]
    best = max(fine, key=lambda r: r["contrastive_accuracy"], default=None)
    if best is None or tolerance is None:
        return best
    close = [
        r for r in fine if r["contrastive_accuracy"] >= best["contrastive_accuracy"] - tolerance
    ]
    return min(close, key=lambda r: r[option])


def tune(
    model,
    codec,
    docs: list[dict],
    words: set[str],
    grids: Sequence[Grid] = TUNING,
    memo: MutableMapping[str, dict] | None = None,
    **kwargs,
) -> dict:
    """Sweep each grid in turn at the values chosen before it; {"chosen": options,
    "sweeps": [{"option", "tolerance", "rows"}]}. An option with no acceptable value keeps
    the model's default (absent from "chosen"). One memo serves every grid."""
    memo = {} if memo is None else memo
    chosen: dict[str, Any] = {}
    sweeps = []
    for grid in grids:
        rows = sweep(model, codec, docs, words, grid.values, grid.option, fixed=chosen,
                     memo=memo, **kwargs)  # fmt: skip
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
        cells = [f"{row[c]:.4f}" for c in COLUMNS]
        mark = "**" if row is best else ""
        lines.append(f"| {mark}{shown(row[option])}{mark} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
