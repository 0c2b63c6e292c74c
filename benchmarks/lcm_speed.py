"""Next-concept latency of the LCMs at the demo size on the CPU (the bundled demo LCM's
architecture, or the demo preset before it is built).

Sweeps, each around the app's default (Two-Tower, 40 DDIM steps, guidance on, 4
samples, 16 concepts of context): diffusion steps, guidance, parallel samples, context
length with and without reusing the contextualizer's KV cache, and the model families
(the quantized LCMs with the demo RVQ's codebooks, `engine.demo.constants`; they
ignore steps and guidance).
Weights are random: latency does not depend on their values (the AdaLN gates are made
non-zero anyway, so no layer is an identity). Each case also reports the
analytic FLOPs (benchmarks/flops.py) and the rate they imply.
"""

from __future__ import annotations

import dataclasses

import torch

from engine.demo.constants import RVQ_CODEBOOKS, RVQ_UNITS
from engine.lcm import LCMNotFoundError, SamplerConfig, build_model, load_lcm, preset
from engine.lcm.config import QuantConfig

from . import flops
from .harness import measure, write_results

DEFAULTS = {"steps": 40, "guided": True, "samples": 4, "context": 16}


def demo_config():
    """The bundled demo LCM's architecture when it has been built, else the demo preset."""
    try:
        return load_lcm("demo", device="cpu").config, "assets/demo/lcm"
    except LCMNotFoundError:
        return preset("demo"), 'preset("demo")'


def demo_model(config, model_type: str = "two_tower"):
    torch.manual_seed(0)
    quant = QuantConfig(num_codebooks=RVQ_CODEBOOKS, codebook_size=RVQ_UNITS)
    model = build_model(dataclasses.replace(config, model_type=model_type, quant=quant)).eval()
    for layer in getattr(model, "denoiser", []):
        torch.nn.init.normal_(layer.modulation.weight, std=0.02)
    return model


def context(model, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(length)
    x = torch.randn(1, length, model.dim, generator=generator)
    return x, torch.ones(1, length, dtype=torch.bool)


def next_concept(model, steps, guided, samples, length, cached, repeats):
    """Time one next concept: with the cache, `append` of the previous concept plus
    `propose`; without, `start` over the whole context plus `propose` (what a call of
    `sample_next` does)."""
    options = SamplerConfig(steps=steps, guidance_scale=3.0 if guided else 1.0)
    generator = torch.Generator().manual_seed(0)
    x, valid = context(model, length)
    with torch.no_grad():
        if cached:
            state = model.start(x[:, :-1], valid[:, :-1])
            caches = [(c.k, c.v) for c in state.caches]
            saved = dict(vars(state))

            def step():
                for cache, (k, v) in zip(state.caches, caches, strict=True):
                    cache.k, cache.v = k, v  # drop the position the previous run appended
                vars(state).update(saved)
                model.append(state, x[:, -1])
                model.propose(state, samples, generator, options)

        else:

            def step():
                state = model.start(x, valid)
                model.propose(state, samples, generator, options)

        params = {
            "model": model.config.model_type,
            "steps": steps,
            "guided": guided,
            "samples": samples,
            "context": length,
            "kv_cache": cached,
        }
        result = measure("next_concept", step, repeats=repeats, **params)
    flop = flops.per_concept(model.config, length, steps, guided, samples, cached)
    result.params["gflops"] = flop / 1e9
    result.params["achieved_gflops_per_s"] = flop / 1e9 / result.median_s
    return result


class PrecomputedModulation(torch.nn.Module):
    """Stands in for a denoiser layer's AdaLN `modulation` with its output for one
    timestep: what a per-timestep table would read instead of the weight matrix."""

    def __init__(self, out: torch.Tensor) -> None:
        super().__init__()
        self.out = out

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        return self.out


def denoiser_passes(model, rows_list, repeats: int) -> list:
    """One Two-Tower denoiser pass (one DDIM step's network call) for several row counts,
    then with the AdaLN modulation precomputed (a prototype of removing its weights from
    every step)."""
    x, valid = context(model, DEFAULTS["context"])
    t = torch.full((1, 1), 50)
    results = []
    with torch.no_grad():
        state = model.start(x, valid)

        def case(rows: int, variant: str):
            kv = [
                (k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1)) for k, v in state.memory_kv
            ]
            mask = torch.ones(rows, 1, 1, kv[0][0].shape[2], dtype=torch.bool)
            x_t = torch.randn(rows, 1, model.dim)
            return measure("denoiser_pass", lambda: model.denoise(x_t, t, kv, mask),
                           repeats=repeats, rows=rows, variant=variant)  # fmt: skip

        results += [case(rows, "as built") for rows in rows_list]
        original = [layer.modulation for layer in model.denoiser]
        cond = torch.nn.functional.silu(model.time_embed(t))
        for layer in model.denoiser:
            layer.modulation = PrecomputedModulation(layer.modulation(cond))
        try:
            results.append(case(8, "modulation precomputed"))
        finally:
            for layer, modulation in zip(model.denoiser, original, strict=True):
                layer.modulation = modulation
    return results


def cases(quick: bool) -> list[dict]:
    """The sweeps as parameter sets (duplicates of the default case are kept once)."""
    steps = (10, 40) if quick else (10, 20, 40, 100)
    samples = (1, 4) if quick else (1, 4, 16, 64)
    lengths = (16, 128) if quick else (16, 128, 512)
    grid = [{"steps": s, "guided": g} for s in steps for g in (True, False)]
    grid += [{"samples": n} for n in samples]
    grid += [{"context": n, "cached": c} for n in lengths for c in (True, False)]
    grid += [{"model_type": m} for m in ("base_lcm", "one_tower", "two_tower", *flops.QUANT_TYPES)]
    unique = []
    for case in grid:
        full = {**DEFAULTS, "cached": True, "model_type": "two_tower", **case}
        if full not in unique:
            unique.append(full)
    return unique


def run(options):
    config, shape = demo_config()
    models = {}
    results = []
    for case in cases(options.quick):
        model_type = case.pop("model_type")
        if model_type not in models:
            models[model_type] = demo_model(config, model_type)
        model = models[model_type]
        results.append(
            next_concept(
                model,
                case["steps"],
                case["guided"],
                case["samples"],
                case["context"],
                case["cached"],
                options.repeats,
            )
        )
    rows = (1, 8) if options.quick else (1, 8, 32, 128)
    results += denoiser_passes(models["two_tower"], rows, max(options.repeats, 9))
    extra = {
        "shape": shape,
        "d_model": config.d_model,
        "layers": [config.n_layers, config.n_denoiser_layers],
        "parameters": {t: sum(p.numel() for p in m.parameters()) for t, m in models.items()},
        "defaults": DEFAULTS,
    }
    return write_results("lcm", results, extra)
