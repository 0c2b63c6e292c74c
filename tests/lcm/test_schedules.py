"""Noise schedules and DDIM against an independent implementation (diffusers)."""

from __future__ import annotations

import math

import pytest
import torch
from diffusers import DDIMScheduler

from engine.lcm import DiffusionConfig, SamplerConfig, ddim
from engine.lcm.schedules import NoiseSchedule, sigmoid_alpha_bar

DIFFUSERS_NAME = {"cosine": "squaredcos_cap_v2", "quadratic": "scaled_linear", "linear": "linear"}


def both(schedule: str, steps: int = 100, zero_snr: bool = True, prediction: str = "sample"):
    config = DiffusionConfig(
        num_train_steps=steps,
        schedule=schedule,
        zero_terminal_snr=zero_snr,
        prediction=prediction,
        beta_start=0.00085,
        beta_end=0.012,
    )
    ours = NoiseSchedule(config)
    extra = {"trained_betas": None}
    if schedule == "sigmoid":  # diffusers has no such schedule: hand it our raw betas
        raw = NoiseSchedule(DiffusionConfig(num_train_steps=steps, schedule="sigmoid",
                                            zero_terminal_snr=False))  # fmt: skip
        extra = {"trained_betas": raw.betas.numpy()}
    theirs = DDIMScheduler(
        num_train_timesteps=steps,
        beta_schedule=DIFFUSERS_NAME.get(schedule, "linear"),
        beta_start=0.00085,
        beta_end=0.012,
        rescale_betas_zero_snr=zero_snr,
        prediction_type=prediction,
        clip_sample=False,
        set_alpha_to_one=True,
        **extra,
    )
    return ours, theirs


@pytest.mark.parametrize("schedule", ["cosine", "quadratic", "linear", "sigmoid"])
@pytest.mark.parametrize("zero_snr", [False, True])
def test_betas_and_alphas_cumprod_match_diffusers(schedule, zero_snr):
    ours, theirs = both(schedule, zero_snr=zero_snr)
    torch.testing.assert_close(ours.betas, theirs.betas.float(), atol=2e-6, rtol=1e-5)
    torch.testing.assert_close(ours.alphas_cumprod, theirs.alphas_cumprod, atol=2e-6, rtol=1e-5)
    if zero_snr:
        assert ours.alphas_cumprod[-1] == 0


def test_sigmoid_schedule_follows_the_paper_formula():
    """alpha_bar after k of T steps is sigmoid(beta - alpha * logit(k / T))."""
    config = DiffusionConfig(schedule="sigmoid", zero_terminal_snr=False, sigmoid_alpha=1.5,
                             sigmoid_beta=-1.0)  # fmt: skip
    schedule = NoiseSchedule(config)
    for k in (1, 10, 50, 90, 99):
        logit = math.log((k / 100) / (1 - k / 100))
        expected = 1 / (1 + math.exp(-(-1.0 - 1.5 * logit)))
        assert schedule.alphas_cumprod[k - 1].item() == pytest.approx(expected, rel=1e-5)
    assert sigmoid_alpha_bar(1.5, -1.0)(0.0) == 1.0


@pytest.mark.parametrize("spacing", ["trailing", "leading", "linspace"])
@pytest.mark.parametrize(("train_steps", "steps"), [(100, 40), (100, 25), (1000, 30), (100, 7)])
def test_timestep_grid_matches_diffusers(spacing, train_steps, steps):
    theirs = DDIMScheduler(num_train_timesteps=train_steps, timestep_spacing=spacing)
    theirs.set_timesteps(steps)
    assert ddim.timestep_grid(train_steps, steps, spacing) == theirs.timesteps.tolist()


# Steps counts whose float trailing grid, round(arange(T, 0, -T / steps)) - 1, overshoots to
# a timestep of -1 (counted on this machine: 5 of 100 with T = 100, 62 of 1,000 with T = 1000).
OVERSHOOTING = {100: [29, 31, 58, 62, 97], 1000: [61, 103, 121, 122, 201, 206, 217, 223]}


@pytest.mark.parametrize("train_steps", [100, 1000])
def test_trailing_grid_is_diffusers_without_its_overshoot(train_steps):
    """Ours equals diffusers' grid cut to `steps` entries for every steps count; diffusers'
    grid has the extra -1 exactly where listed above."""
    overshooting = []
    for steps in range(1, train_steps + 1):
        theirs = DDIMScheduler(num_train_timesteps=train_steps, timestep_spacing="trailing")
        theirs.set_timesteps(steps)
        theirs = theirs.timesteps.tolist()
        assert ddim.timestep_grid(train_steps, steps, "trailing") == theirs[:steps]
        if len(theirs) > steps:
            assert theirs[steps:] == [-1]
            overshooting.append(steps)
    assert overshooting[: len(OVERSHOOTING[train_steps])] == OVERSHOOTING[train_steps]
    assert len(overshooting) == {100: 5, 1000: 62}[train_steps]


@pytest.mark.parametrize("spacing", ["trailing", "leading", "linspace"])
@pytest.mark.parametrize("train_steps", [100, 1000])
def test_every_grid_is_strictly_decreasing_and_in_range(spacing, train_steps):
    for steps in range(1, train_steps + 1):
        grid = ddim.timestep_grid(train_steps, steps, spacing)
        assert len(grid) == steps, steps
        assert all(a > b for a, b in zip(grid, grid[1:], strict=False)), steps
        assert grid[-1] >= 0 and grid[0] <= train_steps - 1, steps
        if spacing == "trailing":
            assert grid[0] == train_steps - 1


def _finite_for_every_steps_count(train_steps: int, steps_counts, **options) -> list[int]:
    """Steps counts whose guided sample (a fixed toy model) is not finite."""
    schedule = NoiseSchedule(DiffusionConfig(num_train_steps=train_steps))
    x0 = torch.randn(2, 4, generator=torch.Generator().manual_seed(0))

    def model(x_t, t):  # conditional and unconditional clean-sample estimates
        return x0 + 0.01 * x_t, 0.5 * x0

    bad = []
    for steps in steps_counts:
        config = SamplerConfig(steps=steps, **options)
        out = ddim.sample(model, (2, 4), schedule, config, torch.Generator().manual_seed(1), x0)
        if not torch.isfinite(out).all():
            bad.append(steps)
    return bad


@pytest.mark.parametrize("spacing", ["trailing", "leading", "linspace"])
def test_sampling_is_finite_for_every_steps_count_of_100_training_steps(spacing):
    assert _finite_for_every_steps_count(100, range(1, 101), spacing=spacing) == []


def test_sampling_is_finite_where_the_float_grid_of_1000_steps_overshoots():
    assert _finite_for_every_steps_count(1000, OVERSHOOTING[1000]) == []


@pytest.mark.slow
def test_sampling_is_finite_for_every_steps_count_of_1000_training_steps():
    """All 1,000 steps counts (about two minutes on two CPU cores)."""
    assert _finite_for_every_steps_count(1000, range(1, 1001)) == []


@pytest.mark.parametrize("prediction", ["sample", "epsilon", "v_prediction"])
@pytest.mark.parametrize("spacing", ["trailing", "leading"])
@pytest.mark.parametrize("eta", [0.0, 0.7])
def test_ddim_step_matches_diffusers_when_steps_divide_T(prediction, spacing, eta):
    ours, theirs = both("cosine", prediction=prediction)
    steps = 20  # divides T = 100, so diffusers' prev = t - T // steps is the next grid entry
    theirs = DDIMScheduler.from_config(theirs.config, timestep_spacing=spacing)
    theirs.set_timesteps(steps)
    assert theirs.timesteps.tolist() == ddim.timestep_grid(100, steps, spacing)
    grid = ddim.timestep_grid(100, steps, spacing)
    gen = torch.Generator().manual_seed(0)
    for i, t in enumerate(grid):
        t_prev = t - 100 // steps
        if ours.alphas_cumprod[t] == 0 and prediction == "epsilon":
            continue  # epsilon at zero SNR is undefined in both
        x_t = torch.randn(3, 8, generator=gen)
        output = torch.randn(3, 8, generator=gen)
        noise = torch.randn(3, 8, generator=gen)
        expected = theirs.step(output, t, x_t, eta=eta, variance_noise=noise).prev_sample
        x0, eps = ours.to_x0(output, x_t, t), ours.to_eps(output, x_t, t)
        got = ddim.ddim_step(ours, x0, eps, t, max(t_prev, -1), eta, noise if eta else None)
        assert i + 1 == len(grid) or grid[i + 1] == t_prev
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("spacing", ["trailing", "leading", "linspace"])
@pytest.mark.parametrize("steps", [40, 30, 7, 100])
def test_sampler_walks_the_grid_and_recovers_x0_with_an_exact_model(spacing, steps):
    """T = 100 is not a multiple of 40, 30 or 7: every grid timestep is visited once, in
    order, and with a perfect clean-sample model deterministic DDIM lands exactly on x0."""
    schedule, _ = both("cosine")
    x0 = torch.randn(5, 8)
    visited = []

    def exact(x_t, t):
        visited.append(t)
        return x0, None

    options = SamplerConfig(steps=steps, spacing=spacing, guidance_scale=1.0)
    out = ddim.sample(exact, (5, 8), schedule, options, torch.Generator(), x0)
    assert visited == ddim.timestep_grid(100, steps, spacing)
    assert visited == sorted(set(visited), reverse=True)
    torch.testing.assert_close(out, x0)


def test_epsilon_sampling_skips_the_zero_snr_step():
    schedule, _ = both("cosine", prediction="epsilon")
    visited = []

    def model(x_t, t):
        visited.append(t)
        return torch.zeros_like(x_t), None

    options = SamplerConfig(steps=10, guidance_scale=1.0)
    out = ddim.sample(model, (2, 4), schedule, options, torch.Generator(), torch.zeros(1))
    assert visited == ddim.timestep_grid(100, 10, "trailing")[1:]
    assert torch.isfinite(out).all()


def test_guidance_scale_one_is_the_conditional_output_and_rescale_keeps_its_spread():
    cond, uncond = torch.randn(4, 32), torch.randn(4, 32)
    torch.testing.assert_close(ddim.guide(cond, uncond, 1.0, 0.7), cond)
    guided = ddim.guide(cond, uncond, 5.0, 1.0)
    torch.testing.assert_close(guided.std(dim=-1), cond.std(dim=-1))
    plain = ddim.guide(cond, uncond, 5.0, 0.0)
    torch.testing.assert_close(plain, uncond + 5.0 * (cond - uncond))


def test_min_snr_weights():
    config = DiffusionConfig(loss_weighting="min_snr", min_snr_gamma=5.0, prediction="epsilon")
    schedule = NoiseSchedule(config)
    t = torch.arange(100)
    snr = schedule.snr(t)
    weight = schedule.loss_weight(t)
    assert torch.isfinite(weight).all() and weight[-1] == 1.0  # zero SNR: full weight
    high = snr > 5
    torch.testing.assert_close(weight[high], 5.0 / snr[high])


@pytest.mark.parametrize("bad", [{"schedule": "exp"}, {"prediction": "x1"}])
def test_bad_schedule_settings_are_named(bad):
    with pytest.raises(ValueError, match=next(iter(bad.values()))):
        NoiseSchedule(DiffusionConfig(**bad))
