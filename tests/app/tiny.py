"""A toy LCM with random weights, saved as a checkpoint folder like a trained one."""

from __future__ import annotations

from pathlib import Path

import torch

TINY_DIM = 16  # the tiny codec and the toy LCM share it


def build_toy_lcm(folder: Path, dim: int = TINY_DIM) -> Path:
    from engine.lcm import build_model, preset

    torch.manual_seed(0)
    model = build_model(preset("toy", dim=dim))
    model.save_pretrained(folder / "lcm")
    return folder / "lcm"


def build_toy_quant_lcm(folder: Path, dim: int = TINY_DIM) -> Path:
    """A toy Quant-LCM-d (4 codebooks x 8 units, fitted RVQ) for the temperature control."""
    from tests.lcm.helpers import toy_quant_model

    toy_quant_model(dim=dim).save_pretrained(folder / "quant_lcm")
    return folder / "quant_lcm"
