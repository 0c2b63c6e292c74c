"""Checkpoint files: a directory with config.json and model.safetensors.

The normaliser statistics and the end-of-text concept are buffers of the model, so they
are inside model.safetensors; config.json is enough to rebuild the architecture.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from engine.errors import EngineError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "lcm-writer/lcm/1"


class LCMNotFoundError(EngineError, FileNotFoundError):
    """No checkpoint where one was asked for."""


class LCMCheckpointError(EngineError, ValueError):
    """A checkpoint exists but cannot be read (corrupt, foreign or incompatible)."""


def write(path: str | Path, config: dict[str, Any], state: dict[str, torch.Tensor]) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / CONFIG_FILE).write_text(json.dumps({"format": FORMAT, **config}, indent=2) + "\n")
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in state.items()}
    save_file(tensors, str(path / WEIGHTS_FILE), metadata={"format": "pt"})
    return path


def read(path: str | Path, hint: str = "") -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The config dict and the CPU tensors of the checkpoint at `path`."""
    path = Path(path)
    missing = [name for name in (CONFIG_FILE, WEIGHTS_FILE) if not (path / name).is_file()]
    if missing:
        raise LCMNotFoundError(f"no LCM checkpoint at {path} (missing {', '.join(missing)}){hint}")
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
    except json.JSONDecodeError as error:
        raise LCMCheckpointError(f"{path / CONFIG_FILE} is not valid JSON: {error}") from error
    if not isinstance(config, dict) or config.pop("format", None) != FORMAT:
        raise LCMCheckpointError(
            f"{path / CONFIG_FILE} is not an lcm-writer LCM config (expected format {FORMAT!r})"
        )
    try:
        state = load_file(str(path / WEIGHTS_FILE))
    except (SafetensorError, OSError) as error:
        raise LCMCheckpointError(f"cannot read {path / WEIGHTS_FILE}: {error}") from error
    return config, state
