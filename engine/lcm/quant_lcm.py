"""Quantized LCMs (paper section 2.5): the next concept as residual-VQ units, coarse to fine.

A concept is the sum of one unit from each of K codebooks (engine.lcm.rvq). Both models
keep the Two-Tower's contextualizer and its head of DenoiserBlocks: where the Two-Tower's
head reads a noisy concept and a diffusion timestep, theirs reads the partial sum of the
units chosen so far and the codebook level k, cross-attending to the context the same way
(so the context is read once into KV caches and each level costs one head pass).
- Quant-LCM-d predicts the level's unit directly: logits over the codebook, cross-entropy.
- Quant-LCM-c predicts the continuous residual (concept minus partial sum, normalised),
  MSE; a unit's logit is minus half its squared distance to the prediction (raw space, in
  units of the mean variance of a dimension), so temperature 0 snaps to the nearest unit.
Training draws one level per position (as diffusion draws a timestep). Sampling draws the
K units in turn with temperature, top-k and top-p from one seeded generator. There is no
classifier-free guidance: the context is never dropped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import LCMConfig, SamplerConfig
from .model import masked_mean
from .rvq import ResidualVQ, squared_distances
from .two_tower import TwoTowerLCM, TwoTowerState


class QuantLCM(TwoTowerLCM):
    """What both quantized LCMs share; subclasses say what the head predicts."""

    def __init__(self, config: LCMConfig) -> None:
        super().__init__(config)
        quant = config.quant
        self.rvq = ResidualVQ(config.dim, quant.num_codebooks, quant.codebook_size)

    def step_embedding(self, config: LCMConfig) -> nn.Module:
        return nn.Embedding(config.quant.num_codebooks, config.d_model)

    def partial_sums(self, codes: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
        """Raw-space sums [B, L, dim] of the first levels[b, l] units of codes [B, L, K]."""
        units = self.rvq.codebooks[torch.arange(codes.shape[-1], device=codes.device), codes]
        cumulative = F.pad(units.cumsum(dim=-2), (0, 0, 1, 0))  # [B, L, K + 1, dim]
        index = levels[..., None, None].expand(*levels.shape, 1, self.dim)
        return cumulative.gather(-2, index).squeeze(-2)

    def level_loss(self, out, codes, levels, x, partial) -> torch.Tensor:
        """Per-position loss [B, L] of the head's output for the unit at `levels`."""
        raise NotImplementedError

    def unit_logits(self, out: torch.Tensor, level: int) -> torch.Tensor:
        """Logits [N, codebook_size] of the level's units from the head's output [N, ...]."""
        raise NotImplementedError

    def loss(self, concepts, mask, loss_mask=None) -> torch.Tensor:
        x, scored = self.prepare_batch(concepts, mask, loss_mask)
        codes = self.rvq.encode(concepts.to(self.rvq.codebooks.dtype))
        levels = torch.randint(0, self.rvq.num_codebooks, x.shape[:2], device=x.device)
        partial = self.partial_sums(codes, levels)
        out = self(x, mask, self.normalizer.normalize(partial), levels)
        return masked_mean(self.level_loss(out, codes, levels, x, partial), scored)

    def propose(
        self,
        state: TwoTowerState,
        num_samples: int,
        generator: torch.Generator,
        options: SamplerConfig,
    ) -> torch.Tensor:
        batch = state.memory_valid.shape[0]
        memory_kv, mask = self.sampling_memory(state, num_samples, guided=False)
        partial = self.eot.new_zeros(batch * num_samples, self.dim)
        for level, units in enumerate(self.rvq.codebooks):
            steps = torch.full((1, 1), level, device=partial.device)
            x_t = self.normalizer.normalize(partial)[:, None]
            out = self.denoise(x_t, steps, memory_kv, mask)[:, 0]
            chosen = sample_units(self.unit_logits(out, level), options, generator)
            partial = partial + units[chosen]
        return self.normalizer.normalize(partial).view(batch, num_samples, self.dim)


class QuantLCMD(QuantLCM):
    """Quant-LCM-d: a softmax over each codebook's units."""

    model_type = "quant_lcm_d"

    def output_dim(self, config: LCMConfig) -> int:
        return config.quant.codebook_size

    def level_loss(self, out, codes, levels, x, partial) -> torch.Tensor:
        target = codes.gather(-1, levels[..., None]).squeeze(-1)
        return F.cross_entropy(out.flatten(0, 1), target.flatten(), reduction="none").view(
            target.shape
        )

    def unit_logits(self, out: torch.Tensor, level: int) -> torch.Tensor:
        return out


class QuantLCMC(QuantLCM):
    """Quant-LCM-c: regress the remaining residual, then pick a unit near it."""

    model_type = "quant_lcm_c"

    def level_loss(self, out, codes, levels, x, partial) -> torch.Tensor:
        residual = x - self.normalizer.normalize(partial)  # = (concept - partial) / scale
        return (out - residual).pow(2).mean(dim=-1)

    def unit_logits(self, out: torch.Tensor, level: int) -> torch.Tensor:
        # Distances in raw space, where the RVQ chose its units, so temperature 0 picks the
        # unit that encoding the predicted concept would; divided by the mean variance of
        # a dimension, so the logits are on the normalised scale of the loss.
        scale = self.normalizer.scale
        distances = squared_distances(out * scale, self.rvq.codebooks[level])
        return -0.5 * distances / scale.pow(2).mean()


def sample_units(
    logits: torch.Tensor, options: SamplerConfig, generator: torch.Generator
) -> torch.Tensor:
    """One unit per row of logits [N, V]: the argmax at temperature 0 (or top_k 1), else a
    draw from softmax(logits / temperature) restricted to the top_k most likely units and
    to the smallest set of them whose probability reaches top_p."""
    if options.temperature == 0 or options.top_k == 1:
        return logits.argmax(dim=-1)
    logits = logits.float() / options.temperature
    if options.top_k is not None and options.top_k < logits.shape[-1]:
        kth = logits.topk(options.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if options.top_p < 1:
        ordered, order = logits.sort(dim=-1, descending=True)
        probs = ordered.softmax(dim=-1)
        before = probs.cumsum(dim=-1) - probs  # mass of the more likely units
        drop = torch.zeros_like(before, dtype=torch.bool).scatter(
            -1, order, before >= options.top_p
        )
        logits = logits.masked_fill(drop, float("-inf"))
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator).squeeze(-1)
