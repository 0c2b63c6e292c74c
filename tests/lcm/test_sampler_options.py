"""The sampler's guidance spaces and options against hand computations and diffusers.

The toy "model" is linear in x_t, with different conditional and unconditional outputs,
so guidance and its rescale change the result; everything runs on the cosine schedule
with zero terminal SNR and T = 100, as the paper's LCMs do.
"""

from __future__ import annotations

import pytest
import torch
from diffusers import DDIMScheduler
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import rescale_noise_cfg

from engine.lcm import DiffusionConfig, SamplerConfig, ddim
from engine.lcm.schedules import NoiseSchedule
from tests.lcm.helpers import toy_model

SCHEDULE = NoiseSchedule(DiffusionConfig(num_train_steps=100))
A = torch.cat([SCHEDULE.alphas_cumprod, torch.ones(1)]).double()  # A[-1] = 1: the end
SHAPE = (3, 8)
TARGET = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def toy(x_t: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Conditional and unconditional clean-sample estimates."""
    return 2.0 * TARGET + 0.1 * x_t, -TARGET + 0.3 * x_t


def initial(seed: int = 0) -> torch.Tensor:
    """The sampler's first latent: scaled noise drawn like `like` (float64 here)."""
    generator = torch.Generator().manual_seed(seed)
    return 0.6 * torch.randn(SHAPE, generator=generator, dtype=torch.float64)


def run(steps: int, seed: int = 0, **options) -> torch.Tensor:
    config = SamplerConfig(steps=steps, **options)
    generator = torch.Generator().manual_seed(seed)
    return ddim.sample(toy, SHAPE, SCHEDULE, config, generator, TARGET)


def cfg_rescale(cond, uncond, w, r):
    """The reference's guidance with rescale, written as in its two-tower builder: the
    guided estimate times r * std(cond) / std(guided) + (1 - r)."""
    guided = uncond + w * (cond - uncond)
    factor = r * cond.std(dim=-1, keepdim=True) / guided.std(dim=-1, keepdim=True) + (1 - r)
    return factor * guided


def test_guide_matches_diffusers_rescale_noise_cfg_and_the_reference_formula():
    cond, uncond = torch.randn(4, 32), torch.randn(4, 32)
    for w, r in [(3.0, 0.7), (5.0, 1.0), (2.0, 0.0), (1.0, 0.7)]:
        ours = ddim.guide(cond, uncond, w, r)
        torch.testing.assert_close(ours, rescale_noise_cfg(uncond + w * (cond - uncond), cond, r))
        torch.testing.assert_close(ours, cfg_rescale(cond, uncond, w, r))


@pytest.mark.parametrize("space", ["noise", "x0"])
def test_guided_sampling_against_a_hand_written_loop(space):
    """steps=4: grid 99, 74, 49, 24. Noise space (the reference): at t = 99 (alpha_bar = 0)
    the conditional clean sample is used unguided; afterwards the noise estimates
    eps = (x_t - sqrt(a) x0) / sqrt(1 - a) are guided and x0 is recomputed from the guided
    noise. x0 space guides the clean-sample estimates at every step."""
    w, r = 3.0, 0.7
    x = initial()
    grid = [99, 74, 49, 24]
    assert ddim.timestep_grid(100, 4, "trailing") == grid
    for t, s in zip(grid, [74, 49, 24, -1], strict=True):
        c, u = toy(x, t)
        a = A[t]
        if space == "x0":
            x0 = cfg_rescale(c, u, w, r)
            eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
        elif t == 99:
            x0, eps = c, x  # a = 0: x_t is all noise
        else:
            eps_c, eps_u = (x - a.sqrt() * c) / (1 - a).sqrt(), (x - a.sqrt() * u) / (1 - a).sqrt()
            eps = cfg_rescale(eps_c, eps_u, w, r)
            x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
        x = A[s].sqrt() * x0 + (1 - A[s]).sqrt() * eps
    got = run(4, guidance_scale=w, guidance_rescale=r, guidance_space=space)
    torch.testing.assert_close(got, x, atol=1e-9, rtol=1e-9)


def test_noise_space_guidance_matches_a_diffusers_loop_like_the_reference():
    """The reference's loop on diffusers' DDIM: the first step (t = T - 1) steps the
    conditional clean sample; every later step guides the noise with rescale_noise_cfg and
    steps as an epsilon model. steps=4 divides T, so diffusers' previous timestep
    t - T // steps is our next grid entry."""
    w, r = 3.0, 0.7
    common = {
        "num_train_timesteps": 100,
        "beta_schedule": "squaredcos_cap_v2",
        "rescale_betas_zero_snr": True,
        "timestep_spacing": "trailing",
        "clip_sample": False,
    }
    as_sample = DDIMScheduler(prediction_type="sample", **common)
    as_epsilon = DDIMScheduler(prediction_type="epsilon", **common)
    for scheduler in (as_sample, as_epsilon):
        scheduler.set_timesteps(4)
    alphas = as_epsilon.alphas_cumprod.double()
    x = initial()
    for t in as_epsilon.timesteps.tolist():
        c, u = toy(x, t)
        if t == 99:
            out = as_sample.step(c, t, x)
        else:
            a = alphas[t]
            eps_c, eps_u = (x - a.sqrt() * c) / (1 - a).sqrt(), (x - a.sqrt() * u) / (1 - a).sqrt()
            eps = rescale_noise_cfg(eps_u + w * (eps_c - eps_u), eps_c, r)
            out = as_epsilon.step(eps, t, x)
        x = out.prev_sample
    got = run(4, guidance_scale=w, guidance_rescale=r, guidance_space="noise")
    torch.testing.assert_close(got, out.pred_original_sample, atol=1e-6, rtol=1e-6)


def test_plain_guidance_is_the_same_in_noise_and_x0_space_and_the_rescale_is_not():
    """x0 is linear in eps at fixed x_t, so u + w (c - u) commutes with the change of
    variable; the per-row standard deviations of the rescale do not. Leading spacing
    (grid 75, 50, 25, 0) keeps t = T - 1, where noise space skips guidance, out."""
    options = dict(steps=4, spacing="leading", guidance_scale=3.0)
    noise = run(guidance_space="noise", guidance_rescale=0.0, **options)
    torch.testing.assert_close(run(guidance_space="x0", guidance_rescale=0.0, **options), noise)
    rescaled = run(guidance_space="noise", guidance_rescale=0.7, **options)
    assert not torch.allclose(run(guidance_space="x0", guidance_rescale=0.7, **options), rescaled)


def test_epsilon_scaling_divides_the_noise_estimate_but_not_the_clean_sample():
    """steps=2 (grid 99, 49), eta = 0, guidance at t = 49 (noise space), by hand:
    t = 99: x0 = c(x), eps = x                 -> x_49 = sqrt(a49) x0 + sqrt(1 - a49) eps / k
    t = 49: guided eps g, x0 = (x_49 - sqrt(1 - a49) g) / sqrt(a49)   (unscaled g)
    and the result is that x0 (the step to a = 1 drops eps)."""
    k, w = 1.005, 3.0
    x = initial()
    c, _ = toy(x, 99)
    x49 = A[49].sqrt() * c + (1 - A[49]).sqrt() * x / k
    c, u = toy(x49, 49)
    eps_c, eps_u = [(x49 - A[49].sqrt() * v) / (1 - A[49]).sqrt() for v in (c, u)]
    g = eps_u + w * (eps_c - eps_u)
    expected = (x49 - (1 - A[49]).sqrt() * g) / A[49].sqrt()
    got = run(2, guidance_scale=w, guidance_rescale=0.0, epsilon_scaling=k)
    torch.testing.assert_close(got, expected, atol=1e-9, rtol=1e-9)
    assert not torch.allclose(run(2, guidance_scale=w, guidance_rescale=0.0), expected)


def test_dynamic_threshold_by_hand_and_against_diffusers():
    rows = torch.tensor([[0.5, -3.0, 2.0, 1.0], [0.5, 0.2, -0.1, 0.0], [9.0, 9.0, -9.0, 9.0]])
    # ratio 1: s = max |x| kept in [1, 2.5]: 2.5, 1 (nothing to do), 2.5
    expected = torch.tensor([[0.2, -1.0, 0.8, 0.4], [0.5, 0.2, -0.1, 0.0], [1.0, 1.0, -1.0, 1.0]])
    torch.testing.assert_close(ddim.dynamic_threshold(rows, 1.0, 2.5), expected)
    x = 3 * torch.randn(16, 64, generator=torch.Generator().manual_seed(0))
    for ratio, max_value in [(0.995, 6.0), (0.9, 2.0), (0.5, 1.0)]:
        theirs = DDIMScheduler(
            thresholding=True, dynamic_thresholding_ratio=ratio, sample_max_value=max_value
        )._threshold_sample(x[..., None])  # diffusers wants [batch, channels, *more]
        torch.testing.assert_close(ddim.dynamic_threshold(x, ratio, max_value), theirs[..., 0])
    bf16 = ddim.dynamic_threshold(x.bfloat16(), 0.9, 2.0)
    assert bf16.dtype == torch.bfloat16


@pytest.mark.parametrize(
    "options",
    [
        {"clip_sample": 0.5},
        {"thresholding": True, "dynamic_thresholding_ratio": 0.9, "sample_max_value": 1.5},
    ],
)
def test_clip_and_threshold_of_x0_match_diffusers_steps(options):
    """Unguided, steps=5 (divides T): diffusers clips / thresholds the clean sample and keeps
    the noise estimate of the unclipped output, as the reference and this sampler do."""
    extra = {"clip_sample": "clip_sample" in options, "clip_sample_range": 0.5}
    extra |= {k: v for k, v in options.items() if k != "clip_sample"}
    scheduler = DDIMScheduler(num_train_timesteps=100, beta_schedule="squaredcos_cap_v2",
                              rescale_betas_zero_snr=True, timestep_spacing="trailing",
                              prediction_type="sample", **extra)  # fmt: skip
    scheduler.set_timesteps(5)
    x = initial()[..., None]  # diffusers' thresholding wants [batch, channels, *more]
    for t in scheduler.timesteps.tolist():
        x = scheduler.step(toy(x[..., 0], t)[0][..., None], t, x).prev_sample
    x = x[..., 0]
    got = run(5, guidance_scale=1.0, **options)
    torch.testing.assert_close(got, x, atol=1e-6, rtol=1e-6)
    assert not torch.allclose(run(5, guidance_scale=1.0), x)


def test_clip_latent_clamps_every_model_input_but_not_the_result():
    """steps=3 (grid 99, 66, 32), c = 0.5, a model whose clean sample is 3 everywhere: each
    input is the clamped DDIM latent, written out here; the result is the last x0 = 3."""
    c, inputs = 0.5, []

    def model(x_t, t):
        inputs.append(x_t.clone())
        return torch.full_like(x_t, 3.0), None

    config = SamplerConfig(steps=3, guidance_scale=1.0, clip_latent=c)
    out = ddim.sample(model, SHAPE, SCHEDULE, config, torch.Generator().manual_seed(0), TARGET)
    x, expected = initial(), []
    for t, s in [(99, 66), (66, 32), (32, -1)]:
        x = x.clamp(-c, c)
        expected.append(x)
        eps = (x - A[t].sqrt() * 3.0) / (1 - A[t]).sqrt()
        x = A[s].sqrt() * 3.0 + (1 - A[s]).sqrt() * eps
    for got, want in zip(inputs, expected, strict=True):
        torch.testing.assert_close(got, want, atol=1e-9, rtol=1e-9)
    assert inputs[0].abs().max() == c  # 0.6 * N(0, 1) reaches past 0.5 in 24 draws
    torch.testing.assert_close(out, torch.full(SHAPE, 3.0, dtype=torch.float64))


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"guidance_space": "eps"}, "guidance_space"),
        ({"spacing": "even"}, "spacing"),
        ({"epsilon_scaling": 0.0}, "epsilon_scaling"),
        ({"thresholding": True, "clip_sample": 1.0}, "not both"),
        ({"thresholding": True, "sample_max_value": 0.5}, "sample_max_value"),
    ],
)
def test_bad_sampler_options_are_named(bad, match):
    with pytest.raises(ValueError, match=match):
        SamplerConfig(**bad)
    model = toy_model("two_tower")
    with pytest.raises(ValueError, match=match):
        model.sample_next(torch.randn(2, model.dim), **bad)


@pytest.mark.parametrize("model_type", ["two_tower", "one_tower"])
def test_models_sample_finite_values_with_every_option(model_type):
    model = toy_model(model_type)
    if model_type == "two_tower":  # AdaLN-zero starts with the context shut out: open it
        for layer in model.denoiser:
            torch.nn.init.normal_(layer.modulation.weight, std=0.1)
    context = torch.randn(3, model.dim)
    default = model.sample_next(context, num_samples=2, seed=0, steps=5)
    for options in [
        {"guidance_space": "x0"},
        {"epsilon_scaling": 1.005},
        {"clip_latent": 1.0},
        {"clip_sample": 1.0},
        {"thresholding": True},
    ]:
        out = model.sample_next(context, num_samples=2, seed=0, steps=5, **options)
        assert torch.isfinite(out).all() and not torch.allclose(out, default), options
