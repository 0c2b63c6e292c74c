"""One-Tower diffusion LCM (paper section 2.3.3; the reference code never shipped it).

A single causal transformer reads clean and noisy concepts interleaved,
noisy_0, clean_0, noisy_1, clean_1, ...: a clean position sees the clean positions up to
its own, a noisy position sees the clean positions before it and itself, never another
noisy one. So the clean prefix is an ordinary KV cache and sampling runs only the noisy
query against it. The timestep embedding is added to the noisy inputs. Training drops a
noisy position's context with probability cfg_dropout for classifier-free guidance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import ddim
from .blocks import (
    KVCache,
    TimestepEmbedding,
    Transformer,
    causal_mask,
    extended,
    ffn_hidden_dim,
    positions_of,
)
from .config import LCMConfig, SamplerConfig
from .diffusion import DiffusionLCM


@dataclass
class OneTowerState:
    caches: list[KVCache]  # keys/values of the clean positions
    valid: torch.Tensor  # [B, S]


class OneTowerLCM(DiffusionLCM):
    model_type = "one_tower"

    def __init__(self, config: LCMConfig) -> None:
        super().__init__(config)
        d = config.d_model
        self.prenet = nn.Linear(config.dim, d)
        self.time_embed = TimestepEmbedding(d)
        self.body = Transformer(
            d, config.n_heads, config.n_layers, ffn_hidden_dim(d, config.ffn_multiple_of),
            config.norm_eps, config.rope_theta, config.dropout, config.attention_dropout,
            config.bias,
        )  # fmt: skip
        self.postnet = nn.Linear(d, config.dim)

    def forward(
        self,
        x: torch.Tensor,
        valid: torch.Tensor,
        x_t: torch.Tensor,
        t: torch.Tensor,
        dropped: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Training: every noisy position in one pass over the interleaved sequence, each
        masked to its own clean prefix (DiffusionLCM.forward says what goes in and out)."""
        length = x.shape[1]
        noisy = self.prenet(x_t) + self.time_embed(t)
        sequence = torch.stack([noisy, self.prenet(x)], dim=2).flatten(1, 2)  # [B, 2L, d]
        # Even indices are noisy, odd are clean; index // 2 is the concept position.
        query = torch.arange(2 * length, device=x.device)[:, None]
        key = torch.arange(2 * length, device=x.device)[None]
        limit = torch.where(query % 2 == 0, query // 2 - 1, query // 2)  # last clean visible
        allowed = (key % 2 == 1) & (key // 2 <= limit) & valid.repeat_interleave(2, 1)[:, None]
        if dropped is not None:
            no_context = torch.stack([dropped, torch.zeros_like(dropped)], dim=2).flatten(1, 2)
            allowed = allowed & ~no_context[..., None]
        allowed = allowed | (key == query)
        positions = positions_of(valid).repeat_interleave(2, dim=1)
        return self.postnet(self.body(sequence, positions, allowed[:, None])[:, 0::2])

    def start(self, x: torch.Tensor, valid: torch.Tensor) -> OneTowerState:
        caches = self.body.new_caches()
        if valid.shape[1]:
            self.body(self.prenet(x), positions_of(valid), causal_mask(valid, x.shape[1]), caches)
        return OneTowerState(caches, valid)

    def append(self, state: OneTowerState, x: torch.Tensor) -> None:
        state.valid = extended(state.valid)
        position = positions_of(state.valid)[:, -1:]
        self.body(self.prenet(x[:, None]), position, causal_mask(state.valid, 1), state.caches)

    def propose(
        self,
        state: OneTowerState,
        num_samples: int,
        generator: torch.Generator,
        options: SamplerConfig,
    ) -> torch.Tensor:
        batch = state.valid.shape[0]
        guided = options.guidance_scale != 1.0

        def expand(t: torch.Tensor) -> torch.Tensor:
            return ddim.sampling_rows(t, num_samples, guided)

        caches = [cache.map(expand) for cache in state.caches]
        keys = extended(state.valid)
        mask = expand(keys)[:, None, None, :]  # clean context, then the noisy query itself
        if guided:  # the unconditional half sees only itself
            mask[batch * num_samples :, ..., :-1] = False
        position = expand(state.valid.sum(dim=1, keepdim=True))

        def predict(x_t: torch.Tensor, t: int) -> torch.Tensor:
            steps = torch.full((1, 1), t, device=x_t.device)  # one timestep, broadcast
            h = self.prenet(x_t[:, None]) + self.time_embed(steps)
            return self.postnet(self.body(h, position, mask, caches, store=False))[:, 0]

        return self.sample(predict, batch, num_samples, guided, options, generator)
