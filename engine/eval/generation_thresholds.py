"""Tuning when `generate` stops, on held-out documents: the end-of-text and repetition
thresholds of engine.lcm.config.GenerationConfig. Both are cosines in the codec's concept
space, and where a codec packs its concepts close together (the demo codec v2: consecutive
sentences of a document at cosine 0.97, 92% of real sentences at 0.9 or more from the
end-of-text concept) thresholds made for a roomier space (0.9, 0.99) stop nearly every
continuation at once. So both are read off the data, not carried over:

- End of text: the model's next concept at the end of each document (the truth is the
  end-of-text concept) and at one seeded position inside it (the truth is a sentence).
  The threshold that best tells them apart wins (share stopped at the ends minus share
  stopped inside, Youden's J); on a tie the higher one, since a false stop loses the
  writer text while a missed end only adds a sentence they can delete.
- Repetition: the documents' own sentences against the earlier ones of their document.
  The lowest threshold at which at most REAL_REPEATS of real sentences would count as
  repeats wins: lower ones would resample (and then stop) text as varied as real text.

    tuned = tune_thresholds(model, docs)   # {"chosen": {"eot_threshold": ..., ...}, ...}
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from engine.data.shards import END_OF_TEXT
from engine.lcm.generation import sample_next_batch

# Wide enough for both kinds of space: the demo codec v2 packed a document's sentences at
# cosine 0.97, the contrastive v3 spreads them (consecutive ones at 0.46 on average).
EOT_GRID = (0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998)
REPEAT_GRID = (0.7, 0.8, 0.9, 0.95, 0.97, 0.99, 0.995, 0.998, 0.999, 0.9995)
REAL_REPEATS = 0.1  # share of real sentences a repetition threshold may flag
BATCH = 16


def _ended(docs: list[dict]) -> list[torch.Tensor]:
    """The sentence concepts of each document that ends with the end-of-text concept and
    has two or more sentences before it."""
    ended = [d for d in docs if d["sentences"] and d["sentences"][-1] == END_OF_TEXT]
    concepts = [torch.from_numpy(d["embeddings"][:-1]).float() for d in ended]
    return [c for c in concepts if len(c) >= 2]


def _cosines_to_end(model, contexts: list[torch.Tensor], seed: int) -> np.ndarray:
    eot = model.eot.float().cpu()
    cosines = []
    for start in range(0, len(contexts), BATCH):
        batch = [c.to(model.device) for c in contexts[start : start + BATCH]]
        predicted = sample_next_batch(model, batch, 1, seed=seed + start)[:, 0].float().cpu()
        cosines += F.cosine_similarity(predicted, eot[None], dim=-1).tolist()
    return np.array(cosines)


def end_of_text_rows(
    model, docs: list[dict], seed: int = 0, grid: tuple[float, ...] = EOT_GRID
) -> list[dict]:
    """Per threshold: the share of predictions stopped at documents' ends and inside them."""
    docs_concepts = _ended(docs)
    if not docs_concepts:
        raise ValueError("no held-out document ends with the end-of-text concept")
    rng = np.random.default_rng(seed)
    inside = [c[: int(rng.integers(1, len(c)))] for c in docs_concepts]
    at_end = _cosines_to_end(model, docs_concepts, seed)
    within = _cosines_to_end(model, inside, seed)
    return [
        {"eot_threshold": t, "stopped_at_end": float((at_end >= t).mean()),
         "stopped_inside": float((within >= t).mean()), "documents": len(docs_concepts)}
        for t in grid
    ]  # fmt: skip


def repeat_rows(docs: list[dict], grid: tuple[float, ...] = REPEAT_GRID) -> list[dict]:
    """Per threshold: the share of real sentences (after the first of each document) whose
    cosine to an earlier sentence of their document reaches it."""
    nearest = []
    for concepts in _ended(docs):
        unit = F.normalize(concepts, dim=-1)
        earlier = torch.ones(len(unit), len(unit), dtype=torch.bool).tril(-1)
        similarity = (unit @ unit.T).masked_fill(~earlier, -1.0)
        nearest += similarity[1:].max(dim=1).values.tolist()
    nearest = np.array(nearest)
    return [
        {"repeat_threshold": t, "real_repeats": float((nearest >= t).mean()),
         "sentences": len(nearest)}
        for t in grid
    ]  # fmt: skip


def choose(end_of_text: list[dict], repeat: list[dict]) -> dict[str, float]:
    """The thresholds the module docstring describes, from the two sweeps' rows; the
    repetition threshold is the grid's last when real text trips every value."""

    def separation(row: dict) -> tuple[float, float]:
        return row["stopped_at_end"] - row["stopped_inside"], row["eot_threshold"]

    eot = max(end_of_text, key=separation)
    fine = [r for r in repeat if r["real_repeats"] <= REAL_REPEATS] or repeat[-1:]
    return {"eot_threshold": eot["eot_threshold"], "repeat_threshold": fine[0]["repeat_threshold"]}


def tune_thresholds(model, docs: list[dict], seed: int = 0) -> dict:
    """{"chosen": {"eot_threshold", "repeat_threshold"}, "end_of_text": rows, "repeat": rows}."""
    end_of_text, repeat = end_of_text_rows(model, docs, seed), repeat_rows(docs)
    return {"chosen": choose(end_of_text, repeat), "end_of_text": end_of_text, "repeat": repeat}


def markdown_tables(tuned: dict) -> str:
    """Both threshold sweeps as Markdown tables, the chosen rows in bold."""
    chosen = tuned["chosen"]

    def mark(value: float, option: str) -> str:
        return f"**{value:g}**" if value == chosen[option] else f"{value:g}"

    lines = ["| eot_threshold | stopped at the end | stopped inside |", "|---:|---:|---:|"]
    lines += [
        f"| {mark(r['eot_threshold'], 'eot_threshold')} | {r['stopped_at_end']:.3f} "
        f"| {r['stopped_inside']:.3f} |"
        for r in tuned["end_of_text"]
    ]
    lines += ["", "| repeat_threshold | real sentences flagged |", "|---:|---:|"]
    lines += [
        f"| {mark(r['repeat_threshold'], 'repeat_threshold')} | {r['real_repeats']:.3f} |"
        for r in tuned["repeat"]
    ]
    return "\n".join(lines) + "\n"
