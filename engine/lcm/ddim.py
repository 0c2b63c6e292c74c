"""DDIM sampling (Song et al. 2021) with classifier-free guidance, written out in full.

One step from timestep t to the previous grid timestep s (alpha_bar written a):
    x0   = the model's clean-sample estimate (guided, optionally clipped)
    eps  = (x_t - sqrt(a_t) x0) / sqrt(1 - a_t)
    sig  = eta * sqrt((1 - a_s) / (1 - a_t)) * sqrt(1 - a_t / a_s)
    x_s  = sqrt(a_s) x0 + sqrt(1 - a_s - sig^2) eps + sig z
The grid of timesteps is computed once and each step moves to the *next entry of the grid*
(the reference and diffusers use s = t - T // steps, which skips or repeats timesteps
with "trailing" spacing when T is not a multiple of the number of steps).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .config import SamplerConfig
from .schedules import NoiseSchedule

# denoise(x_t, t) -> (conditional output, unconditional output or None), in the schedule's
# prediction space; unconditional is requested only when guidance is on.
DenoiseFn = Callable[[torch.Tensor, int], tuple[torch.Tensor, torch.Tensor | None]]


def with_guidance(predict: Callable[[torch.Tensor, int], torch.Tensor], guided: bool) -> DenoiseFn:
    """Turn a batched model call into a DenoiseFn. Guided, it runs once on [x_t; x_t]: the
    caller lays out its context masks so the first half is conditional and the second half
    unconditional."""

    def denoise(x_t: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not guided:
            return predict(x_t, t), None
        cond, uncond = predict(torch.cat([x_t, x_t]), t).chunk(2)
        return cond, uncond

    return denoise


def sampling_rows(t: torch.Tensor, num_samples: int, guided: bool) -> torch.Tensor:
    """Per-sequence rows laid out like the sampler's batch: each sequence repeated
    num_samples times, and the whole block twice when guided (conditional; unconditional)."""
    t = t.repeat_interleave(num_samples, dim=0)
    return torch.cat([t, t]) if guided else t


def timestep_grid(num_train_steps: int, steps: int, spacing: str) -> list[int]:
    """Descending inference timesteps, as defined by Lin et al. 2023 (table 2).

    Trailing is round(arange(T, 0, -T / steps)) - 1, as in diffusers and the reference,
    cut to `steps` entries: when T / steps is not exact in floating point, arange can yield
    one entry too many, a timestep of -1 (T = 100: steps 29, 31, 58, 62 and 97; T = 1000:
    62 values), on which the step divides by zero. The first `steps` entries are spaced
    T / steps >= 1 apart, so the grid decreases strictly from T - 1 to round(T / steps) - 1.
    """
    if not 1 <= steps <= num_train_steps:
        raise ValueError(f"steps must be in 1..{num_train_steps} (training steps), got {steps}")
    if spacing == "trailing":
        grid = np.round(np.arange(num_train_steps, 0, -num_train_steps / steps))[:steps] - 1
    elif spacing == "leading":
        grid = np.arange(steps)[::-1] * (num_train_steps // steps)
    elif spacing == "linspace":
        grid = np.linspace(0, num_train_steps - 1, steps).round()[::-1]
    else:
        raise ValueError(f"spacing must be trailing, leading or linspace, got {spacing!r}")
    return [int(t) for t in grid]


def guide(cond: torch.Tensor, uncond: torch.Tensor, scale: float, rescale: float) -> torch.Tensor:
    """Classifier-free guidance, then Lin et al. 2023's rescale: match the guided output's
    per-row standard deviation to the conditional one (rescale = 0 turns this off)."""
    guided = uncond + scale * (cond - uncond)
    if rescale > 0:
        ratio = cond.std(dim=-1, keepdim=True) / guided.std(dim=-1, keepdim=True).clamp(min=1e-12)
        guided = rescale * guided * ratio + (1 - rescale) * guided
    return guided


def ddim_step(
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    x_t: torch.Tensor,
    t: int,
    t_prev: int,
    eta: float = 0.0,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Move x_t at t to t_prev (-1 = the end: returns x0) given the clean estimate x0;
    `noise` (standard Gaussian) is needed only when eta > 0."""
    a_t, a_s = schedule.alpha_bar(t, x_t), schedule.alpha_bar(t_prev, x_t)
    eps = (x_t - a_t.sqrt() * x0) / (1 - a_t).sqrt()
    sigma = eta * ((1 - a_s) / (1 - a_t)).sqrt() * (1 - a_t / a_s).sqrt()
    x_prev = a_s.sqrt() * x0 + (1 - a_s - sigma**2).clamp(min=0).sqrt() * eps
    if noise is not None:
        x_prev = x_prev + sigma * noise
    return x_prev


def _gaussian(shape, generator, like: torch.Tensor, clip: float | None) -> torch.Tensor:
    z = torch.randn(shape, generator=generator, device=like.device, dtype=like.dtype)
    return z.clamp(-clip, clip) if clip is not None else z


def sample(
    denoise: DenoiseFn,
    shape: tuple[int, ...],
    schedule: NoiseSchedule,
    options: SamplerConfig,
    generator: torch.Generator,
    like: torch.Tensor,
) -> torch.Tensor:
    """Draw clean samples (normalised space) of `shape` by DDIM from scaled noise, on the
    device and in the dtype of `like`.

    With zero-terminal SNR the first trailing timestep has alpha_bar = 0: x_t is pure noise
    and an epsilon-predicting model cannot say anything about x0 there (x0 = (x_t - eps)/0),
    so that degenerate step is skipped and sampling starts at the next timestep.
    """
    grid = timestep_grid(schedule.num_train_steps, options.steps, options.spacing)
    if schedule.prediction == "epsilon":
        grid = [t for t in grid if schedule.alphas_cumprod[t] > 0] or grid[-1:]
    x = options.init_noise_scale * _gaussian(shape, generator, like, options.clip_noise)
    for i, t in enumerate(grid):
        t_prev = grid[i + 1] if i + 1 < len(grid) else -1
        cond, uncond = denoise(x, t)
        pred = cond
        if uncond is not None:
            pred = guide(cond, uncond, options.guidance_scale, options.guidance_rescale)
        x0 = schedule.to_x0(pred, x, t)
        if options.clip_sample is not None:
            x0 = x0.clamp(-options.clip_sample, options.clip_sample)
        noise = None
        if options.eta > 0 and t_prev >= 0:
            noise = _gaussian(shape, generator, like, options.clip_noise)
        x = ddim_step(schedule, x0, x, t, t_prev, options.eta, noise)
    return x
