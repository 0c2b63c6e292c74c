"""Tiny LCMs with random weights, a fitted normaliser and an end-of-text concept."""

from __future__ import annotations

import torch

from engine.lcm import ConceptModel, build_model, preset

MODEL_TYPES = ("base_lcm", "two_tower", "one_tower")


def toy_model(model_type: str = "two_tower", seed: int = 0, **overrides) -> ConceptModel:
    torch.manual_seed(seed)
    model = build_model(preset("toy", model_type=model_type, **overrides))
    model.normalizer.fit(torch.randn(256, model.dim) * 2.0 + 0.5)
    model.eot = torch.randn(model.dim)
    return model.eval()
