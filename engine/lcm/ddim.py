"""DDIM sampling (Song et al. 2021) with classifier-free guidance, written out in full.

Any model output at timestep t (clean sample, noise or velocity) fixes both a clean-sample
estimate x0 and a noise estimate eps, through x_t = sqrt(a_t) x0 + sqrt(1 - a_t) eps
(alpha_bar written a). One step from t to the previous grid timestep s:
    x0, eps = the estimates, guided (below)
    eps     = eps / epsilon_scaling                 optional (Ning et al. 2023)
    x0      = threshold(x0) or clamp(x0)            optional (Saharia et al. 2022)
    sig     = eta * sqrt((1 - a_s) / (1 - a_t)) * sqrt(1 - a_t / a_s)
    x_s     = sqrt(a_s) x0 + sqrt(1 - a_s - sig^2) eps + sig z
and, optionally, x_s is clamped before it goes back into the model. The last step lands on
a_s = 1, so the result is the last x0.

Classifier-free guidance mixes the conditional and unconditional estimates,
g = u + w (c - u), and its rescale (Lin et al. 2023) pulls g's per-row standard deviation
towards c's. As in the reference, the default guides the *noise* estimates and derives x0
from the guided noise. At t = T - 1 under zero terminal SNR (a = 0) both noise estimates
equal x_t and x0 = (x_t - eps) / 0 is undefined, so that step (the reference: t = T - 1
always) takes the conditional estimate unguided. guidance_space="x0" guides the
clean-sample estimates at every step instead: plain guidance gives the same x0 either way
(the map between the two is linear), the rescale does not.

The grid of timesteps is computed once and each step moves to the *next entry of the grid*
(the reference and diffusers use s = t - T // steps, which skips or repeats timesteps
with "trailing" spacing when T is not a multiple of the number of steps).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .config import SamplerConfig, Spacing
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


def timestep_grid(num_train_steps: int, steps: int, spacing: Spacing) -> list[int]:
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


def guided_estimates(
    schedule: NoiseSchedule,
    cond: torch.Tensor,
    uncond: torch.Tensor | None,
    x_t: torch.Tensor,
    t: int,
    options: SamplerConfig,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The clean-sample and noise estimates (x0, eps) at t, guided in options.guidance_space
    when an unconditional output is given (see the module docstring)."""
    scale, rescale = options.guidance_scale, options.guidance_rescale
    if uncond is None or (options.guidance_space == "noise" and t == schedule.num_train_steps - 1):
        return schedule.to_x0(cond, x_t, t), schedule.to_eps(cond, x_t, t)
    a = schedule.alpha_bar(t, x_t)
    if options.guidance_space == "noise":
        eps = guide(schedule.to_eps(cond, x_t, t), schedule.to_eps(uncond, x_t, t), scale, rescale)
        return (x_t - (1 - a).sqrt() * eps) / a.sqrt(), eps
    x0 = guide(schedule.to_x0(cond, x_t, t), schedule.to_x0(uncond, x_t, t), scale, rescale)
    return x0, (x_t - a.sqrt() * x0) / (1 - a).sqrt()


def dynamic_threshold(x0: torch.Tensor, ratio: float, max_value: float) -> torch.Tensor:
    """Imagen's dynamic thresholding (Saharia et al. 2022): per row, s = the `ratio` quantile
    of |x0| kept within [1, max_value]; clamp x0 to [-s, s] and divide by s. Rows whose
    values mostly lie in [-1, 1] are only clipped; wider rows are also shrunk."""
    y = x0.float()  # torch.quantile needs float32 or float64
    s = torch.quantile(y.abs(), ratio, dim=-1, keepdim=True).clamp(1.0, max_value)
    return (y.clamp(-s, s) / s).to(x0.dtype)


def ddim_step(
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    eps: torch.Tensor,
    t: int,
    t_prev: int,
    eta: float = 0.0,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Move from t to t_prev (-1 = the end: returns x0) given the estimates x0 and eps;
    `noise` (standard Gaussian) is needed only when eta > 0."""
    a_t, a_s = schedule.alpha_bar(t, x0), schedule.alpha_bar(t_prev, x0)
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
    for t, t_prev in zip(grid, [*grid[1:], -1], strict=True):
        if options.clip_latent is not None:
            x = x.clamp(-options.clip_latent, options.clip_latent)
        cond, uncond = denoise(x, t)
        x0, eps = guided_estimates(schedule, cond, uncond, x, t, options)
        if options.epsilon_scaling is not None:
            eps = eps / options.epsilon_scaling
        if options.thresholding:
            x0 = dynamic_threshold(x0, options.dynamic_thresholding_ratio, options.sample_max_value)
        elif options.clip_sample is not None:
            x0 = x0.clamp(-options.clip_sample, options.clip_sample)
        noise = None
        if options.eta > 0 and t_prev >= 0:
            noise = _gaussian(shape, generator, like, options.clip_noise)
        x = ddim_step(schedule, x0, eps, t, t_prev, options.eta, noise)
    return x
