"""`lcm-writer demo-assets` as one function: every stage in order, each resumed or
skipped when its output exists (so re-running resumes)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.demo.card_sections import (
    set_curve_section,
    set_regenerate_section,
    set_repeat_section,
    set_sampler_section,
    set_tuning_section,
)
from engine.demo.cards import write_lcm_card, write_quant_card
from engine.demo.codec_stages import build_codec_assets
from engine.demo.constants import (
    BUNDLED_LCM,
    BUNDLED_QUANT,
    EVAL_DOCS,
    LCM_OVERRIDES,
    LCM_TYPES,
    QUANT_TYPES,
    REGENERATE_DOCS,
)
from engine.demo.data_stages import build_rvq, build_shards
from engine.demo.eval_stages import (
    baseline_metrics,
    eval_lcm,
    learning_curve,
    regenerate_comparison,
    repeat_cosine,
    rvq_curve,
    sampler_comparison,
    sampler_tuning,
)
from engine.demo.lcm_stages import bundle_lcm, train_lcm
from engine.paths import ASSETS, RECIPES, REPO


@dataclass(frozen=True)
class DemoAssetsConfig:
    work: Path = REPO / "work"  # scratch directory: corpus, runs, shards, evaluations
    assets: Path = ASSETS / "demo"  # where the bundled models and their cards go
    # Length of each cosine cycle of the codec's training, in minutes (None: the
    # device's default, engine.codec.demo_train).
    codec_minutes: tuple[float, ...] | None = None
    codec_device: str | None = None  # where the codec trains (None: cuda when present)
    codec_align: str | None = None  # how translations are aligned (None: demo_train's default)
    lcm_steps: int = 1600  # optimiser steps per LCM (the bundled Two-Tower: 1600, about 1 h here)
    lcm_minutes: float | None = None  # time cap per LCM
    lcm_types: tuple[str, ...] = LCM_TYPES
    recipe: Path = RECIPES / "demo.yaml"


def build_demo_assets(cfg: DemoAssetsConfig) -> dict:
    """Build (or finish building) the bundled demo models and their cards; returns the
    LCMs' held-out metrics with the baselines' (also in <work>/eval/lcms.json)."""
    work, assets = cfg.work.resolve(), cfg.assets.resolve()
    codec_dir, codec = build_codec_assets(
        work, assets, minutes=cfg.codec_minutes, device=cfg.codec_device, align=cfg.codec_align
    )
    build_shards(work, codec_dir)
    pairs = (
        "`assets/eval/everyday_paraphrases.tsv`, everyday sentences each with a paraphrase "
        "written for this project; neighbours: consecutive lines of `assets/eval/everyday_en.txt`"
        " and the sentences of held-out tuning documents"
    )
    set_repeat_section(codec_dir / "README.md", repeat_cosine(work, codec_dir), pairs)
    curve = None
    if set(cfg.lcm_types) & set(QUANT_TYPES):
        build_rvq(work)
        curve = rvq_curve(work, codec_dir)
    finals = {
        t: train_lcm(work, cfg.recipe, t, cfg.lcm_steps, cfg.lcm_minutes) for t in cfg.lcm_types
    }
    tuned = None
    if BUNDLED_LCM in finals:  # tuned first: the figures below are of the model as shipped
        # The fp16 weights that ship are what is tuned: they sample slightly differently
        # from the fp32 checkpoint, enough to move REP-4 across its bar.
        bundle_lcm(finals[BUNDLED_LCM], assets / "lcm")
        tuned = sampler_tuning(work, assets / "lcm", codec_dir)
        bundle_lcm(
            finals[BUNDLED_LCM], assets / "lcm", tuned["chosen"], tuned["generation"]["chosen"]
        )
        finals[BUNDLED_LCM] = assets / "lcm"
    if BUNDLED_QUANT in finals:
        bundle_lcm(finals[BUNDLED_QUANT], assets / "quant_lcm")
    # every LCM stops at the thresholds tuned for this codec, so the comparison is fair
    generation = tuned["generation"]["chosen"] if tuned else None
    results = {t: eval_lcm(work, final, codec_dir, t, generation) for t, final in finals.items()}
    results["baselines"] = baseline_metrics(work)
    (work / "eval" / "lcms.json").write_text(json.dumps(results, indent=2) + "\n")
    card = assets / "lcm" / "README.md"
    write_lcm_card(card, results, codec, work, tuned=tuned is not None)
    curves = {t: learning_curve(work, t) for t in finals}
    copy = results["baselines"]["copy_previous"]["contrastive_accuracy"]
    set_curve_section(card, curves, copy, LCM_OVERRIDES["snapshot_every"])
    if BUNDLED_LCM in finals:
        data = "the held-out documents (split valid) of the demo corpus"
        set_sampler_section(card, sampler_comparison(work, finals[BUNDLED_LCM], codec_dir), data)
        tuning_data = (
            f"held-out documents {EVAL_DOCS + 1}-{2 * EVAL_DOCS} drawn by the evaluation's "
            "fixed shuffle (split valid) of the demo corpus"
        )
        set_tuning_section(card, tuned, tuning_data)
        positions = (
            f"up to 4 in each of the first {REGENERATE_DOCS} held-out documents drawn (split"
            " valid) of the demo corpus, which the LCM never saw"
        )
        set_regenerate_section(card, regenerate_comparison(work, finals[BUNDLED_LCM]), positions)
    if BUNDLED_QUANT in finals:
        write_quant_card(assets / "quant_lcm" / "README.md", curve, results)
    return results
