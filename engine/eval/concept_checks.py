"""Held-out measurements behind the writer's concept checks.

`regenerate_cases` / `summarise`: at held-out positions with a sentence after them, plain regenerate
(K draws from the context before) against regenerate that fits both sides (the K of
`drawn` draws that best lead on to the real next sentence, engine.lcm.scoring), scored by
the cosine of the alternatives to the sentence that was really there: the one listed
first, the best of the K, and the mean of the K.

`repeat_threshold`: the cosine above which two sentences of a document say the same thing,
chosen between paraphrase pairs and neighbours that say something else (consecutive
unrelated lines; each document sentence's nearest other sentence of its document, which
is what the writer's "repeats" badge compares) to get the most pairs of both kinds right.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from engine.lcm.scoring import DRAWN_PER_SHOWN, NextConceptModel, best_fitting

WAYS = ("plain", "fits_both_sides")
FIGURES = ("first", "best", "mean")


def regenerate_cases(
    model: NextConceptModel,
    docs: Sequence[dict],
    k: int = 4,
    drawn: int = DRAWN_PER_SHOWN * 4,
    positions: int = 4,
    seed: int = 0,
) -> Iterator[dict[str, torch.Tensor]]:
    """Per held-out position (up to `positions` per document with a context and a next
    sentence; positions and noise fixed by `seed`), each way's K alternatives' cosines to
    the true sentence, in the order shown."""
    rng = np.random.default_rng(seed)
    cases = []
    for doc in docs:
        n = len(doc["embeddings"])
        if n < 3:
            continue
        for p in sorted(rng.choice(np.arange(1, n - 1), min(positions, n - 2), replace=False)):
            cases.append(torch.from_numpy(np.asarray(doc["embeddings"][: p + 2])))
    for i, rows in enumerate(tqdm(cases, desc="regenerate", leave=False)):
        context, true, following = rows[:-2], rows[-2], rows[-1]
        plain = model.sample_next(context, num_samples=k, seed=seed + i)
        fitted = best_fitting(model, context, following, k, drawn, seed + i).candidates
        yield {
            way: F.cosine_similarity(shown.float(), true[None].float(), dim=-1)
            for way, shown in zip(WAYS, (plain, fitted), strict=True)
        }


def summarise(cases: Sequence[dict[str, torch.Tensor]], k: int, drawn: int) -> dict:
    """{"predictions", "k", "drawn", "plain": {first, best, mean}, "fits_both_sides": ...}:
    the mean cosine to the true sentence of the alternative listed first, of the best of
    the K, and of all K."""
    result: dict = {"predictions": len(cases), "k": k, "drawn": drawn}
    for way in WAYS:
        rows = torch.stack([case[way] for case in cases])  # [cases, k]
        result[way] = {
            "first": rows[:, 0].mean().item(),
            "best": rows.max(dim=1).values.mean().item(),
            "mean": rows.mean().item(),
        }
    return result


def compare_regenerate(
    model: NextConceptModel,
    docs: Sequence[dict],
    k: int = 4,
    drawn: int = DRAWN_PER_SHOWN * 4,
    positions: int = 4,
    seed: int = 0,
) -> dict:
    """Plain regenerate against regenerate that fits both sides on held-out documents:
    `summarise` of every `regenerate_cases` position."""
    return summarise(list(regenerate_cases(model, docs, k, drawn, positions, seed)), k, drawn)


def regenerate_table(result: dict) -> str:
    """The comparison as a Markdown table, one row per way of regenerating."""
    lines = [
        "| regenerate | listed first | best of K | mean of K |",
        "|---|---:|---:|---:|",
    ]
    names = {
        "plain": f"plain (K = {result['k']} draws)",
        "fits_both_sides": f"fits both sides (best {result['k']} of {result['drawn']})",
    }
    for way in WAYS:
        figures = " | ".join(f"{result[way][f]:.4f}" for f in FIGURES)
        lines.append(f"| {names[way]} | {figures} |")
    return "\n".join(lines) + "\n"


def repeat_threshold(paraphrases: np.ndarray, neighbours: np.ndarray) -> dict:
    """The cosine threshold that gets the most paraphrase pairs (at or above it) and
    unrelated neighbour pairs (below it) right, each kind weighted equally; with the share
    of each kind it gets right and the mean cosine of each."""
    candidates = np.unique(np.concatenate([paraphrases, neighbours]))

    def balanced(t: float) -> float:
        return ((paraphrases >= t).mean() + (neighbours < t).mean()) / 2

    best = max(candidates, key=balanced)
    # The midpoint between the chosen cosine and the next lower one, so it generalises.
    lower = candidates[candidates < best]
    threshold = float((best + lower.max()) / 2) if len(lower) else float(best)
    return {
        "threshold": threshold,
        "paraphrases": len(paraphrases),
        "neighbours": len(neighbours),
        "paraphrases_flagged": float((paraphrases >= threshold).mean()),
        "neighbours_flagged": float((neighbours >= threshold).mean()),
        "paraphrase_cosine": float(paraphrases.mean()),
        "neighbour_cosine": float(neighbours.mean()),
    }


def pair_cosines(first: torch.Tensor, second: torch.Tensor) -> np.ndarray:
    return F.cosine_similarity(first.float(), second.float(), dim=-1).numpy()


def nearest_cosines(concepts: torch.Tensor) -> np.ndarray:
    """Each sentence's highest cosine to another sentence of its document [n, dim]: the
    figure the writer's "repeats" badge holds against the threshold."""
    unit = F.normalize(concepts.float(), dim=-1)
    return (unit @ unit.T).fill_diagonal_(-1.0).max(dim=1).values.numpy()
