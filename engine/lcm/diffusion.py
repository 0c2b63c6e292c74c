"""What the diffusion LCMs (One-Tower, Two-Tower; paper section 2.3) share: the noise
schedule, the training loss and the DDIM run around a model's denoising call.

A subclass is the architecture: `forward` predicts every position at once (training), and
`propose` lays out its cached context for a `predict(x_t, t)` that it hands to `sample`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from . import ddim
from .config import LCMConfig, SamplerConfig
from .model import ConceptModel, masked_mean
from .schedules import NoiseSchedule


class DiffusionLCM(ConceptModel):
    def __init__(self, config: LCMConfig) -> None:
        super().__init__(config)
        self.schedule = NoiseSchedule(config.diffusion)

    def forward(
        self,
        x: torch.Tensor,
        valid: torch.Tensor,
        x_t: torch.Tensor,
        t: torch.Tensor,
        dropped: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """All positions at once (training): the output [B, L, dim] for noisy x_t [B, L, dim]
        at timesteps t [B, L], position i conditioned on clean x[:, :i] (normalised, right
        padded as `valid` says); positions marked in `dropped` [B, L] see no context."""
        raise NotImplementedError

    def loss(self, concepts, mask, loss_mask=None) -> torch.Tensor:
        """Noise each concept at a random timestep, drop contexts for classifier-free
        guidance, and average the weighted reconstruction error over the scored positions."""
        x, scored = self.prepare_batch(concepts, mask, loss_mask)
        schedule, config = self.schedule, self.config.diffusion
        t = schedule.sample_timesteps(tuple(x.shape[:2]), x.device)
        noise = torch.randn_like(x)
        dropped = None
        if self.training and config.cfg_dropout > 0:
            dropped = torch.rand(x.shape[:2], device=x.device) < config.cfg_dropout
        pred = self(x, mask, schedule.add_noise(x, noise, t), t, dropped)
        per_position = (pred - schedule.target(x, noise, t)).pow(2).mean(dim=-1)
        return masked_mean(per_position * schedule.loss_weight(t), scored)

    def sample(
        self,
        predict: Callable[[torch.Tensor, int], torch.Tensor],
        batch: int,
        num_samples: int,
        guided: bool,
        options: SamplerConfig,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """num_samples DDIM samples [batch, num_samples, dim] (normalised); predict(x_t, t)
        is the model's output for rows laid out as ddim.sampling_rows lays them out."""
        samples = ddim.sample(
            ddim.with_guidance(predict, guided),
            (batch * num_samples, self.dim),
            self.schedule,
            options,
            generator,
            self.eot,
        )
        return samples.view(batch, num_samples, self.dim)
