"""Held-out comparison of sampler variants of one diffusion LCM.

Every variant predicts the next concept at the same held-out positions from the same
initial noise (both fixed by the seed, exactly as `lcm-writer eval` picks them), so the
rows differ only by the sampler. The metrics are eval's next-concept metrics (paper
section 2.4): contrastive accuracy, l2, round-trip l2 through the codec, paraphrasing and
the mutual-information proxy.

    rows = compare_samplers("runs/demo/model/final", "runs/demo/shards", codec)
    print(markdown_table(rows))
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from engine.data.shards import END_OF_TEXT
from engine.errors import check_same_space
from engine.eval.evaluate import next_concept_metrics, usable_documents
from engine.eval.mutual_information import UnigramCacheLM

if TYPE_CHECKING:
    from engine.codec import ConceptCodec
    from engine.lcm import ConceptModel

# Options over the model's own sampler defaults. The reference sets no epsilon-scaling
# factor (its DiffusionLCMGeneratorOptions.epsilon_scaling defaults to None); 1.005 is a
# factor "just above 1" in the range of Ning et al. 2023.
VARIANTS: dict[str, dict[str, Any]] = {
    "noise-space guidance (default)": {"guidance_space": "noise"},
    "x0-space guidance": {"guidance_space": "x0"},
    "noise-space guidance + epsilon scaling 1.005": {
        "guidance_space": "noise",
        "epsilon_scaling": 1.005,
    },
}

FIRST_COLUMNS = ("contrastive_accuracy", "l2", "round_trip_l2")


def compare_samplers(
    model: str | Path | ConceptModel,
    data: str | Path,
    codec: ConceptCodec,
    positions: int = 4,
    *,
    variants: Mapping[str, Mapping[str, Any]] = VARIANTS,
    split: str = "valid",
    max_docs: int = 32,
    lang: str = "eng_Latn",
    seed: int = 0,
    device: str | None = None,
) -> list[dict[str, Any]]:
    """One row per variant: {"variant", "options", "predictions", then each metric}.

    `model` is a checkpoint directory, "demo" or a loaded model; `data` the shard directory;
    positions, split, max_docs, lang and seed mean what they mean to `lcm-writer eval`
    (same defaults), so the default variant's row reproduces eval's next-concept metrics.
    """
    if not variants:
        raise ValueError("no sampler variants to compare")
    if isinstance(model, str | Path):
        from engine.lcm import load_lcm

        model = load_lcm(model, device=device)
    check_same_space(model, codec)
    docs = usable_documents(data, split, max_docs)
    lm = UnigramCacheLM([s for d in docs for s in d["sentences"] if s != END_OF_TEXT])
    rows = []
    with torch.inference_mode():
        for name, options in variants.items():
            metrics = next_concept_metrics(model, codec, docs, lm, lang, seed, positions, options)
            rows.append({"variant": name, "options": dict(options), **metrics})
    return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table: variant, its options, then the metrics (contrastive
    accuracy, l2 and round-trip l2 first)."""
    if not rows:
        raise ValueError("no rows to render")
    metrics = [k for k in rows[0] if k not in ("variant", "options", "predictions")]
    metrics = [c for c in FIRST_COLUMNS if c in metrics] + [
        c for c in metrics if c not in FIRST_COLUMNS
    ]
    lines = [
        "| variant | options | " + " | ".join(metrics) + " |",
        "|---|---|" + "---:|" * len(metrics),
    ]
    for row in rows:
        options = ", ".join(f"{k}={v}" for k, v in row["options"].items()) or "model defaults"
        values = " | ".join(f"{row[m]:.4f}" for m in metrics)
        lines.append(f"| {row['variant']} | {options} | {values} |")
    return "\n".join(lines) + "\n"
