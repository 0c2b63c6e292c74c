"""Pieces of `lcm-writer demo-assets` that run in a test: bundling an LCM in fp16."""

from __future__ import annotations

import torch
from safetensors.torch import load_file

from engine.demo_assets import bundle_lcm
from engine.lcm import build_model, load_lcm, preset


def test_bundled_lcm_is_fp16_but_keeps_normaliser_and_eot_exact(tmp_path):
    torch.manual_seed(0)
    model = build_model(preset("toy", dim=32))
    model.eot.copy_(torch.randn(32) * 3.123456789)
    model.save_pretrained(tmp_path / "full")
    bundle_lcm(tmp_path / "full", tmp_path / "bundle")

    dtypes = {n: t.dtype for n, t in load_file(tmp_path / "bundle" / "model.safetensors").items()}
    assert {d for n, d in dtypes.items() if not n.startswith(("normalizer", "eot"))} == {
        torch.float16
    }
    assert all(d == torch.float32 for n, d in dtypes.items() if n.startswith(("normalizer", "eot")))

    loaded = load_lcm(tmp_path / "bundle", device="cpu")
    assert type(loaded) is type(model)
    torch.testing.assert_close(loaded.eot, model.eot, rtol=0, atol=0)
    context = torch.randn(3, 32)
    a = loaded.sample_next(context, num_samples=2, seed=0)
    b = model.eval().sample_next(context, num_samples=2, seed=0)
    torch.testing.assert_close(a, b, atol=0.05, rtol=0.05)
