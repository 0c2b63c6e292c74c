"""Noise schedules of the diffusion LCMs and the conversions between what a model predicts.

A schedule is the table alpha_bar[t] (t = 0 .. T-1) of how much signal survives at step t:
x_t = sqrt(alpha_bar[t]) * x0 + sqrt(1 - alpha_bar[t]) * eps. It is built from betas the
way diffusers does (so the two can be compared), optionally rescaled so that the last step
has zero signal-to-noise ratio (Lin et al. 2023), which the paper uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .config import DiffusionConfig


def betas_for_alpha_bar(
    alpha_bar: Callable[[float], float], steps: int, max_beta: float = 0.999
) -> torch.Tensor:
    """Discretise a continuous alpha_bar(t), t in [0, 1], into per-step betas."""
    betas = [
        min(1 - alpha_bar((i + 1) / steps) / alpha_bar(i / steps), max_beta) for i in range(steps)
    ]
    return torch.tensor(betas, dtype=torch.float64)


def cosine_alpha_bar(t: float) -> float:
    return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2


def sigmoid_alpha_bar(alpha: float, beta: float) -> Callable[[float], float]:
    """The paper's sigmoid schedule: alpha_bar(t) = sigmoid(beta - alpha * logit(t))."""

    def alpha_bar(t: float) -> float:
        if t <= 0:
            return 1.0
        if t >= 1:
            return 0.0
        return 1 / (1 + math.exp(-(beta - alpha * math.log(t / (1 - t)))))

    return alpha_bar


def make_betas(config: DiffusionConfig) -> torch.Tensor:
    steps, start, end = config.num_train_steps, config.beta_start, config.beta_end
    if config.schedule == "cosine":
        return betas_for_alpha_bar(cosine_alpha_bar, steps)
    if config.schedule == "sigmoid":
        alpha_bar = sigmoid_alpha_bar(config.sigmoid_alpha, config.sigmoid_beta)
        return betas_for_alpha_bar(alpha_bar, steps)
    if config.schedule == "quadratic":  # linear in sqrt(beta), diffusers' "scaled_linear"
        return torch.linspace(start**0.5, end**0.5, steps, dtype=torch.float64) ** 2
    if config.schedule == "linear":
        return torch.linspace(start, end, steps, dtype=torch.float64)
    raise ValueError(
        f"unknown noise schedule {config.schedule!r}; use cosine, quadratic, sigmoid or linear"
    )


def rescale_zero_terminal_snr(betas: torch.Tensor) -> torch.Tensor:
    """Shift and scale sqrt(alpha_bar) so the last step is pure noise while the first keeps
    its value (Lin et al. 2023, "Common diffusion noise schedules ... are flawed")."""
    root = torch.cumprod(1 - betas, dim=0).sqrt()
    first, last = root[0].clone(), root[-1].clone()
    root = (root - last) * first / (first - last)
    alpha_bar = root**2
    alphas = torch.cat([alpha_bar[:1], alpha_bar[1:] / alpha_bar[:-1]])
    return 1 - alphas


class NoiseSchedule:
    """alpha_bar[t] plus everything that depends only on it: noising, training targets,
    converting a prediction back to the clean sample, SNR loss weights, timestep draws."""

    def __init__(self, config: DiffusionConfig) -> None:
        self.config = config
        betas = make_betas(config)
        if config.zero_terminal_snr:
            betas = rescale_zero_terminal_snr(betas)
        self.num_train_steps = config.num_train_steps
        self.prediction = config.prediction
        self.betas = betas.float()
        self.alphas_cumprod = torch.cumprod(1 - betas, dim=0).float()
        self._tables: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}

    def alpha_bar(self, t: torch.Tensor | int, like: torch.Tensor) -> torch.Tensor:
        """alpha_bar at t (int, or tensor of x's leading shape) broadcast against `like`;
        t = -1 means "before the first step" (alpha_bar = 1, the clean sample)."""
        key = (like.device, like.dtype)
        if key not in self._tables:  # looked up at every sampling step: build it once
            table = torch.cat([self.alphas_cumprod, torch.ones(1)])
            self._tables[key] = table.to(like.device, like.dtype)
        a = self._tables[key][t]  # index -1 picks the appended 1.0
        return a[..., None] if torch.is_tensor(t) and t.dim() > 0 else a

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = self.alpha_bar(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """What the model should output for this prediction type."""
        if self.prediction == "sample":
            return x0
        if self.prediction == "epsilon":
            return noise
        a = self.alpha_bar(t, x0)
        return a.sqrt() * noise - (1 - a).sqrt() * x0

    def to_x0(self, pred: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """The clean sample implied by a model output (epsilon needs alpha_bar > 0)."""
        if self.prediction == "sample":
            return pred
        a = self.alpha_bar(t, x_t)
        if self.prediction == "epsilon":
            return (x_t - (1 - a).sqrt() * pred) / a.sqrt()
        return a.sqrt() * x_t - (1 - a).sqrt() * pred

    def to_eps(self, pred: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """The noise implied by a model output (always defined: 1 - alpha_bar > 0 for t >= 0)."""
        if self.prediction == "epsilon":
            return pred
        a = self.alpha_bar(t, x_t)
        if self.prediction == "sample":
            return (x_t - a.sqrt() * pred) / (1 - a).sqrt()
        return a.sqrt() * pred + (1 - a).sqrt() * x_t

    def snr(self, t: torch.Tensor) -> torch.Tensor:
        a = self.alphas_cumprod.to(t.device)[t]
        return a / (1 - a)

    def loss_weight(self, t: torch.Tensor) -> torch.Tensor:
        """Per-position weight of the reconstruction loss. min_snr is Hang et al. 2023's
        min(SNR, gamma) expressed for the model's own prediction space."""
        if self.config.loss_weighting == "none":
            return torch.ones(t.shape, device=t.device)
        if self.config.loss_weighting != "min_snr":
            raise ValueError(
                f"loss_weighting must be 'none' or 'min_snr', got {self.config.loss_weighting!r}"
            )
        snr, gamma = self.snr(t), self.config.min_snr_gamma
        if self.prediction == "sample":
            return snr.clamp(max=gamma)
        if self.prediction == "epsilon":  # min(snr, gamma) / snr, finite at snr = 0
            return (gamma / snr).clamp(max=1.0)
        return snr.clamp(max=gamma) / (snr + 1)

    def sample_timesteps(self, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
        """Training timesteps: uniform over 0..T-1, or Beta(a, b) stretched over [0, T)."""
        steps = self.num_train_steps
        if self.config.timestep_sampling == "uniform":
            return torch.randint(0, steps, shape, device=device)
        if self.config.timestep_sampling == "beta":
            dist = torch.distributions.Beta(
                torch.tensor(self.config.timestep_beta_a), torch.tensor(self.config.timestep_beta_b)
            )
            u = dist.sample(shape).to(device)
            return (u * steps).long().clamp(max=steps - 1)
        raise ValueError(
            f"timestep_sampling must be 'uniform' or 'beta', got {self.config.timestep_sampling!r}"
        )
