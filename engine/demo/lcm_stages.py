"""Stage 6 of the demo build: training each LCM type on the shards, and bundling the
chosen ones in fp16."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.demo.constants import LCM_OVERRIDES, QUANT_TYPES, WHITENED_LCMS
from engine.demo.data_stages import normalizer_path
from engine.lcm import checkpoint, preset
from engine.lcm.config import NormalizerKind
from engine.train.config import TrainConfig, load_recipe
from engine.train.trainer import FINAL, train


def normalizer_kind(model_type: str) -> NormalizerKind:
    """The concept space an LCM type trains in (WHITENED_LCMS: the whitened one)."""
    return "whitened" if model_type in WHITENED_LCMS else "robust"


def lcm_recipe(
    work: Path, recipe: Path, model_type: str, steps: int, minutes: float | None = None
) -> TrainConfig:
    """The recipe of one LCM type on <work>/shards: `steps` decides the run's length (the
    recipe file's own time cap, meant for a quick run of it, is lifted) unless `minutes`
    caps it."""
    normalizer = normalizer_kind(model_type)
    overrides = {
        **LCM_OVERRIDES,
        "data": str(work / "shards"),
        "out_dir": str(work / f"lcm_{model_type}"),
        "normalizer": str(normalizer_path(work, normalizer)),
        "model.normalizer": normalizer,
        "model.model_type": model_type,
        "max_steps": steps,
        "max_minutes": minutes,
    }
    if model_type in QUANT_TYPES:  # the Two-Tower's shape, its head over the RVQ's units
        overrides["rvq"] = str(work / "rvq.safetensors")
    elif model_type != "two_tower":  # same depth as the Two-Tower's two towers together
        demo = preset("demo")
        overrides["model.n_layers"] = demo.n_layers + demo.n_denoiser_layers
    return load_recipe(recipe, overrides)


def train_lcm(
    work: Path, recipe: Path, model_type: str, steps: int, minutes: float | None = None
) -> Path:
    """Train (or resume) one LCM type on <work>/shards; its final checkpoint."""
    cfg = lcm_recipe(work, recipe, model_type, steps, minutes)
    final = Path(cfg.out_dir) / FINAL
    if not final.exists():
        train(cfg)
    return final


def bundle_lcm(
    final: Path,
    target: Path,
    sampler: Mapping[str, Any] | None = None,
    generation: Mapping[str, Any] | None = None,
) -> None:
    """Copy an LCM checkpoint with its weight matrices in fp16 (normaliser and EOT stay
    fp32: they are statistics, not weights) and `sampler` and `generation` settings (tuned
    on held-out documents) over its training-time defaults."""
    config, state = checkpoint.read(final)
    config["sampler"] = {**config["sampler"], **(sampler or {})}
    config["generation"] = {**config["generation"], **(generation or {})}
    half = {
        k: v.half() if v.is_floating_point() and not k.startswith(("normalizer", "eot")) else v
        for k, v in state.items()
    }
    checkpoint.write(target, config, half)
