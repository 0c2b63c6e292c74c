"""Training recipes: a pydantic model, loaded from YAML or JSON, validated strictly.

A recipe names the model (an engine.lcm preset plus field overrides), the data, the
objective and the optimisation. Distribution (single process, DDP, FSDP) is not part of
it: that is accelerate's configuration (`accelerate launch --config_file ...`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from engine.errors import EngineError
from engine.lcm.config import LCMConfig, preset


class RecipeError(EngineError, ValueError):
    """A recipe file or override is invalid; the message names the field and the problem."""


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # model
    preset: str = "toy"  # engine.lcm preset
    model: dict[str, Any] = Field(default_factory=dict)  # LCMConfig field overrides
    init_from: str | None = None  # checkpoint to start from (fine-tuning)
    # data
    data: str  # directory of shards from `lcm-writer prepare`
    split: str = "train"
    normalizer: str | None = None  # file from fit-normalizer; None: fit on the training data
    rvq: str | None = None  # file from fit-rvq: the codebooks of a quantized LCM (quant_lcm_*)
    objective: Literal["pretrain", "finetune"] = "pretrain"
    max_len: int = Field(128, ge=2)  # documents are wrapped into windows of this many concepts
    batch_concepts: int = Field(2048, ge=2)  # padded concepts per micro-batch and process
    grad_accum: int = Field(1, ge=1)
    # optimisation
    max_steps: int = Field(ge=1)
    # Stop early (checkpoint + final model) after this many minutes of this run; the
    # schedule still assumes max_steps, so pick max_steps to roughly fit the time.
    max_minutes: float | None = Field(None, gt=0)
    lr: float = Field(3e-4, gt=0)
    min_lr_ratio: float = Field(0.1, ge=0, le=1)  # cosine decays to lr * min_lr_ratio
    warmup_steps: int = Field(100, ge=0)
    weight_decay: float = Field(0.1, ge=0)
    betas: tuple[float, float] = (0.9, 0.95)
    adam_eps: float = Field(1e-8, gt=0)  # AdamW's epsilon (PyTorch's default)
    grad_clip: float | None = 1.0
    # Save an exponential moving average of the weights (final model and snapshots) instead
    # of the last step's: the usual smoothing of diffusion training. None: the raw weights.
    ema_decay: float | None = Field(None, gt=0, lt=1)
    mixed_precision: Literal["no", "bf16", "fp16"] | None = None  # None: accelerate's config
    seed: int = 0
    # output
    out_dir: str
    save_every: int = Field(500, ge=1)
    keep_checkpoints: int = Field(2, ge=1)
    # Also keep the weights alone (as `final` is kept) every this many steps: the
    # checkpoints above are rotated away, these stay, for a learning curve.
    snapshot_every: int | None = Field(None, ge=1)
    log_every: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _model_is_valid(self) -> TrainConfig:
        """Build the LCM config now, so that a typo in `preset` or `model` fails when the
        recipe loads rather than after the data has been read."""
        LCMConfig.from_dict({**preset(self.preset).to_dict(), **self.model})
        return self


def _parse_value(text: str) -> Any:
    """`--set` values are YAML scalars: 3e-4 -> float, true -> bool, [1, 2] -> list."""
    return yaml.safe_load(text)


def load_recipe(path: str | Path | None, overrides: dict[str, Any]) -> TrainConfig:
    """Read a YAML/JSON recipe (optional), apply overrides (dotted keys reach into
    `model`, e.g. model.d_model=64) and validate."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise RecipeError(f"no recipe file at {path}")
        text = path.read_text(encoding="utf-8")
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as error:
            raise RecipeError(f"{path} is not valid {path.suffix[1:].upper()}: {error}") from None
        if not isinstance(data, dict):
            raise RecipeError(f"{path} must hold a mapping of recipe fields")
    for key, value in overrides.items():
        target = data
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    try:
        return TrainConfig(**data)
    except ValidationError as error:
        where = f" in {path}" if path else ""
        raise RecipeError(f"invalid recipe{where}:\n{error}") from None


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """["lr=1e-3", "model.d_model=64"] -> {"lr": 0.001, "model.d_model": 64}."""
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RecipeError(f"override {item!r} must look like key=value")
        overrides[key.strip()] = _parse_value(value)
    return overrides
