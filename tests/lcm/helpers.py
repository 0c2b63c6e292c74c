"""Tiny LCMs with random weights, a fitted normaliser and an end-of-text concept."""

from __future__ import annotations

import torch

from engine.lcm import ConceptModel, QuantConfig, build_model, preset

MODEL_TYPES = ("base_lcm", "two_tower", "one_tower")


def toy_model(model_type: str = "two_tower", seed: int = 0, **overrides) -> ConceptModel:
    torch.manual_seed(seed)
    model = build_model(preset("toy", model_type=model_type, **overrides))
    model.normalizer.fit(torch.randn(256, model.dim) * 2.0 + 0.5)
    model.eot = torch.randn(model.dim)
    return model.eval()


QUANT_TYPES = ("quant_lcm_d", "quant_lcm_c")


def toy_quant_model(model_type: str = "quant_lcm_d", seed: int = 0, **overrides) -> ConceptModel:
    """A toy quantized LCM whose RVQ (4 codebooks x 8 units) is fitted on the same kind of
    data as its normaliser, so its levels carry real structure."""
    model = toy_model(model_type, seed, quant=QuantConfig(num_codebooks=4, codebook_size=8),
                      **overrides)  # fmt: skip
    model.rvq.fit(torch.randn(256, model.dim) * 2.0 + 0.5, iterations=5, seed=seed)
    return model
