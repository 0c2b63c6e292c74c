"""Large Concept Models in plain PyTorch: Base-LCM, One-Tower and Two-Tower diffusion LCMs,
and the quantized LCMs (Quant-LCM-d, Quant-LCM-c) over a residual vector quantiser.

Imports only torch, numpy and safetensors, so it runs on a bare GPU box.

    lcm = load_lcm("demo")                       # or a checkpoint directory
    lcm.sample_next(context, num_samples=4, seed=0, guidance_scale=3.0)  # [4, dim]
    quant.sample_next(context, num_samples=4, temperature=0.7, top_p=0.9)  # quantized LCMs
    lcm.generate(context, max_concepts=32, seed=0)                        # [M, dim]
    lcm.loss(concepts, mask, loss_mask=None)                              # training
"""

from __future__ import annotations

from pathlib import Path

import torch

from engine.device import default_device
from engine.paths import DEMO_LCM_DIR, DEMO_QUANT_LCM_DIR

from .base_lcm import BaseLCM
from .checkpoint import LCMCheckpointError, LCMNotFoundError
from .config import (
    DiffusionConfig,
    GenerationConfig,
    LCMConfig,
    QuantConfig,
    SamplerConfig,
    preset,
)
from .model import ConceptModel, build_model
from .normalizer import Normalizer
from .one_tower import OneTowerLCM
from .quant_lcm import QuantLCMC, QuantLCMD
from .rvq import ResidualVQ
from .two_tower import TwoTowerLCM

DEMO_PATH = DEMO_LCM_DIR


def load_lcm(name_or_path: str | Path, device: str | torch.device | None = None) -> ConceptModel:
    """A trained LCM in eval mode: "demo" (the bundled Two-Tower), "demo-quant" (the
    bundled Quant-LCM-d) or a checkpoint directory. device=None picks CUDA when present."""
    device = default_device(device)
    hint = "; run `make demo-assets` to build the bundled demo models"
    if str(name_or_path) == "demo":
        return ConceptModel.from_pretrained(DEMO_PATH, device, hint=hint)
    if str(name_or_path) == "demo-quant":
        return ConceptModel.from_pretrained(DEMO_QUANT_LCM_DIR, device, hint=hint)
    return ConceptModel.from_pretrained(name_or_path, device)


__all__ = [
    "BaseLCM",
    "ConceptModel",
    "DiffusionConfig",
    "GenerationConfig",
    "LCMCheckpointError",
    "LCMConfig",
    "LCMNotFoundError",
    "Normalizer",
    "OneTowerLCM",
    "QuantConfig",
    "QuantLCMC",
    "QuantLCMD",
    "ResidualVQ",
    "SamplerConfig",
    "TwoTowerLCM",
    "build_model",
    "load_lcm",
    "preset",
]
