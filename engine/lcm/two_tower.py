"""Two-Tower diffusion LCM (paper section 2.3.4).

The *contextualizer* is a causal transformer over the clean context. The *denoiser* turns
a noisy next concept into a clean one; each of its layers attends to itself only, then
cross-attends to [zero vector, contextualizer outputs of earlier positions], then runs a
feed-forward, all AdaLN-zero modulated by the diffusion timestep. Training drops a
position's context with probability cfg_dropout (it then sees only the zero vector), which
makes the same network the unconditional model of classifier-free guidance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import ddim
from .blocks import (
    DenoiserBlock,
    KVCache,
    RMSNorm,
    TimestepEmbedding,
    Transformer,
    causal_mask,
    extended,
    ffn_hidden_dim,
    positions_of,
)
from .config import LCMConfig, SamplerConfig
from .diffusion import DiffusionLCM

KV = tuple[torch.Tensor, torch.Tensor]


@dataclass
class TwoTowerState:
    caches: list[KVCache]  # contextualizer self-attention
    valid: torch.Tensor  # [B, S] real context positions
    memory_kv: list[KV]  # per denoiser layer: cross-attention keys/values of [zero, h_0..]
    memory_valid: torch.Tensor  # [B, S + 1]


class TwoTowerLCM(DiffusionLCM):
    model_type = "two_tower"

    def __init__(self, config: LCMConfig) -> None:
        super().__init__(config)
        d, eps = config.d_model, config.norm_eps
        hidden = ffn_hidden_dim(d, config.ffn_multiple_of)
        self.context_prenet = nn.Linear(config.dim, d)
        layer_options = (config.dropout, config.attention_dropout, config.bias)
        self.contextualizer = Transformer(
            d, config.n_heads, config.n_layers, hidden, eps, config.rope_theta, *layer_options
        )
        self.denoiser_prenet = nn.Linear(config.dim, d)
        self.time_embed = self.step_embedding(config)
        self.denoiser = nn.ModuleList(
            DenoiserBlock(d, config.n_heads, hidden, eps, *layer_options)
            for _ in range(config.n_denoiser_layers)
        )
        self.final_norm = RMSNorm(d, eps)
        self.postnet = nn.Linear(d, self.output_dim(config))

    # The denoiser is a head conditioned on a step and the context: the quantized LCMs
    # reuse it with codebook levels for steps and their own outputs.
    def step_embedding(self, config: LCMConfig) -> nn.Module:
        """Embeds the steps t [B, L] the denoiser is conditioned on (diffusion timesteps)."""
        return TimestepEmbedding(config.d_model)

    def output_dim(self, config: LCMConfig) -> int:
        return config.dim

    def memory_kv(self, memory: torch.Tensor) -> list[KV]:
        """Cross-attention keys/values of every denoiser layer for memory [B, S, d]."""
        return [layer.cross_attn.kv(memory) for layer in self.denoiser]

    def denoise(
        self, x_t: torch.Tensor, t: torch.Tensor, memory_kv: list[KV], cross_mask: torch.Tensor
    ) -> torch.Tensor:
        """Model output [B, L, dim] for noisy concepts x_t [B, L, dim] at timesteps t [B, L]."""
        h, cond = self.denoiser_prenet(x_t), self.time_embed(t)
        length = x_t.shape[1]
        itself = torch.eye(length, dtype=torch.bool, device=x_t.device)[None, None]
        for layer, kv in zip(self.denoiser, memory_kv, strict=True):
            h = layer(h, cond, itself, kv, cross_mask)
        return self.postnet(self.final_norm(h))

    def forward(
        self,
        x: torch.Tensor,
        valid: torch.Tensor,
        x_t: torch.Tensor,
        t: torch.Tensor,
        dropped: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Training: the contextualizer reads the clean context once, then the denoiser
        predicts every position (DiffusionLCM.forward says what goes in and out)."""
        batch, length, _ = x.shape
        h = self.contextualizer(
            self.context_prenet(x), positions_of(valid), causal_mask(valid, length)
        )
        memory = torch.cat([torch.zeros_like(h[:, :1]), h], dim=1)
        # Position i sees memory entries 0..i: the zero vector and h_0 .. h_{i-1}.
        query = torch.arange(length, device=x.device)[:, None]
        key = torch.arange(length + 1, device=x.device)[None]
        allowed = (key <= query).expand(batch, length, length + 1)
        if dropped is not None:
            allowed = allowed & (~dropped[..., None] | (key == 0))
        return self.denoise(x_t, t, self.memory_kv(memory), allowed[:, None])

    def start(self, x: torch.Tensor, valid: torch.Tensor) -> TwoTowerState:
        batch, length = valid.shape
        caches = self.contextualizer.new_caches()
        memory = torch.zeros(batch, 1, self.config.d_model, device=x.device, dtype=x.dtype)
        if length:
            h = self.contextualizer(
                self.context_prenet(x), positions_of(valid), causal_mask(valid, length), caches
            )
            memory = torch.cat([memory, h], dim=1)
        memory_valid = torch.cat([valid.new_ones(valid.shape[0], 1), valid], dim=1)
        return TwoTowerState(caches, valid, self.memory_kv(memory), memory_valid)

    def append(self, state: TwoTowerState, x: torch.Tensor) -> None:
        state.valid = extended(state.valid)
        h = self.contextualizer(
            self.context_prenet(x[:, None]),
            positions_of(state.valid)[:, -1:],
            causal_mask(state.valid, 1),
            state.caches,
        )
        new_kv = self.memory_kv(h)
        state.memory_kv = [
            (torch.cat([k, k_new], dim=2), torch.cat([v, v_new], dim=2))
            for (k, v), (k_new, v_new) in zip(state.memory_kv, new_kv, strict=True)
        ]
        state.memory_valid = extended(state.memory_valid)

    def sampling_memory(
        self, state: TwoTowerState, num_samples: int, guided: bool
    ) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
        """The cached context's keys, values and attention mask, repeated for every row
        the denoiser runs on (ddim.sampling_rows: num_samples each, twice when guided)."""

        def expand(t: torch.Tensor) -> torch.Tensor:
            return ddim.sampling_rows(t, num_samples, guided)

        memory_kv = [(expand(k), expand(v)) for k, v in state.memory_kv]
        return memory_kv, expand(state.memory_valid)[:, None, None, :]

    def propose(
        self,
        state: TwoTowerState,
        num_samples: int,
        generator: torch.Generator,
        options: SamplerConfig,
    ) -> torch.Tensor:
        batch = state.memory_valid.shape[0]
        guided = options.guidance_scale != 1.0
        memory_kv, mask = self.sampling_memory(state, num_samples, guided)
        if guided:  # the unconditional half sees only the zero vector
            half = batch * num_samples
            mask[half:, ..., 1:] = False

        def predict(x_t: torch.Tensor, t: int) -> torch.Tensor:
            steps = torch.full((1, 1), t, device=x_t.device)  # one timestep, broadcast
            return self.denoise(x_t[:, None], steps, memory_kv, mask)[:, 0]

        return self.sample(predict, batch, num_samples, guided, options, generator)
