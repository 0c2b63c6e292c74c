"""Base-LCM: PreNet -> causal transformer -> PostNet, regressing the next concept (MSE).

A zero vector is fed in front of every document, so the output at position i predicts
concept i from concepts < i, including the very first concept of a document.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .blocks import KVCache, Transformer, causal_mask, extended, ffn_hidden_dim, positions_of
from .config import LCMConfig, SamplerConfig
from .model import ConceptModel, masked_mean


@dataclass
class BaseState:
    caches: list[KVCache]
    valid: torch.Tensor  # [B, S] which cached positions are real
    last: torch.Tensor  # [B, d_model] output at the last position


class BaseLCM(ConceptModel):
    model_type = "base_lcm"

    def __init__(self, config: LCMConfig) -> None:
        super().__init__(config)
        d = config.d_model
        self.prenet = nn.Linear(config.dim, d)
        self.decoder = Transformer(
            d, config.n_heads, config.n_layers, ffn_hidden_dim(d, config.ffn_multiple_of),
            config.norm_eps, config.rope_theta, config.dropout, config.attention_dropout,
            config.bias,
        )  # fmt: skip
        self.postnet = nn.Linear(d, config.dim)

    def _shifted(self, x: torch.Tensor, valid: torch.Tensor):
        """Prepend the zero start vector: inputs [B, L+1, dim] and their validity."""
        start = x.new_zeros(x.shape[0], 1, x.shape[2])
        return torch.cat([start, x], dim=1), torch.cat([valid.new_ones(len(valid), 1), valid], 1)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Predictions [B, L+1, dim] (normalised) for every position of x [B, L, dim] and
        the one after it, without caches."""
        inputs, valid = self._shifted(x, valid)
        mask = causal_mask(valid, valid.shape[1])
        return self.postnet(self.decoder(self.prenet(inputs), positions_of(valid), mask))

    def loss(self, concepts, mask, loss_mask=None) -> torch.Tensor:
        x, scored = self.prepare_batch(concepts, mask, loss_mask)
        pred = self(x, mask)[:, :-1]
        return masked_mean((pred - x).pow(2).mean(dim=-1), scored)

    def start(self, x: torch.Tensor, valid: torch.Tensor) -> BaseState:
        inputs, valid = self._shifted(x, valid)
        caches = self.decoder.new_caches()
        mask = causal_mask(valid, valid.shape[1])
        out = self.decoder(self.prenet(inputs), positions_of(valid), mask, caches)
        return BaseState(caches, valid, out[:, -1])

    def propose(
        self, state: BaseState, num_samples: int, generator: torch.Generator, options: SamplerConfig
    ) -> torch.Tensor:
        """Base-LCM is deterministic: every "sample" is the same regression output."""
        return self.postnet(state.last)[:, None].expand(-1, num_samples, -1)

    def append(self, state: BaseState, x: torch.Tensor) -> None:
        state.valid = extended(state.valid)
        position = positions_of(state.valid)[:, -1:]
        mask = causal_mask(state.valid, 1)
        state.last = self.decoder(self.prenet(x[:, None]), position, mask, state.caches)[:, 0]
