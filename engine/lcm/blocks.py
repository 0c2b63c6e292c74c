"""Transformer parts shared by every LCM: pre-norm RMSNorm blocks with SwiGLU and rotary
positions, attention through F.scaled_dot_product_attention with an optional KV cache,
and the DiT pieces of the diffusion denoiser (timestep embedding, AdaLN-zero).

Masks are boolean, True where a query may attend to a key, shaped [B, 1, Lq, Lk].
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def ffn_hidden_dim(d_model: int, multiple_of: int) -> int:
    """SwiGLU width: 2/3 of 4 * d_model (the FLOPs of a 4x GELU FFN), rounded up."""
    return multiple_of * math.ceil(int(8 * d_model / 3) / multiple_of)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5, affine: bool = True) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.float()
        y = (y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x)
        return y * self.weight if self.weight is not None else y


class SwiGLU(nn.Module):
    def __init__(self, d_model: int, hidden: int, bias: bool = False) -> None:
        super().__init__()
        self.gate = nn.Linear(d_model, hidden, bias=bias)
        self.up = nn.Linear(d_model, hidden, bias=bias)
        self.down = nn.Linear(hidden, d_model, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Rotary(nn.Module):
    """Rotary position embedding (RoPE): turns integer positions [B, L] into cos/sin."""

    def __init__(self, head_dim: int, theta: float = 10000.0) -> None:
        super().__init__()
        inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        angles = positions[..., None].float() * self.inv_freq  # [B, L, head_dim / 2]
        angles = torch.cat([angles, angles], dim=-1)[:, None]  # [B, 1, L, head_dim]
        return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return x * cos.type_as(x) + torch.cat([-second, first], dim=-1) * sin.type_as(x)


class KVCache:
    """Keys and values [B, H, S, head_dim] of the positions seen so far by one layer."""

    def __init__(self, k: torch.Tensor | None = None, v: torch.Tensor | None = None) -> None:
        self.k, self.v = k, v

    def with_new(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The cached keys/values followed by new ones, without storing them."""
        if self.k is None:
            return k, v
        return torch.cat([self.k, k], dim=2), torch.cat([self.v, v], dim=2)

    def extend(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.k, self.v = self.with_new(k, v)
        return self.k, self.v

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> KVCache:
        """A cache whose keys and values are fn(keys), fn(values): e.g. rows repeated for
        several samples of each sequence."""
        return KVCache() if self.k is None else KVCache(fn(self.k), fn(self.v))


class Attention(nn.Module):
    """Multi-head attention; `dropout` drops attention weights (training only)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = False):
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.q = nn.Linear(d_model, d_model, bias=bias)
        self.k = nn.Linear(d_model, d_model, bias=bias)
        self.v = nn.Linear(d_model, d_model, bias=bias)
        self.out = nn.Linear(d_model, d_model, bias=bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.n_heads, -1).transpose(1, 2)

    def kv(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of `source` [B, S, d]: computed once for cross-attention."""
        return self._heads(self.k(source)), self._heads(self.v(source))

    def attend(
        self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Cross-attention of queries from x [B, L, d] to given keys/values."""
        return self._attend(self._heads(self.q(x)), k, v, mask)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        cache: KVCache | None = None,
        store: bool = True,
    ) -> torch.Tensor:
        """Self-attention. With a cache, x holds only the new positions; `store=False`
        attends to cache + x without keeping x (a noisy query must not become context)."""
        q, k, v = self._heads(self.q(x)), self._heads(self.k(x)), self._heads(self.v(x))
        if rope is not None:
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        if cache is not None:
            k, v = cache.extend(k, v) if store else cache.with_new(k, v)
        return self._attend(q, k, v, mask)

    def _attend(self, q, k, v, mask) -> torch.Tensor:
        dropout = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        batch, _, length, _ = y.shape
        return self.out(y.transpose(1, 2).reshape(batch, length, -1))


class Block(nn.Module):
    """Pre-norm transformer layer: x + attn(norm(x)), then x + ffn(norm(x)); `dropout`
    drops the sub-layer outputs, `attention_dropout` the attention weights."""

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        hidden: int,
        eps: float,
        dropout: float,
        attention_dropout: float = 0.0,
        bias: bool = False,
    ):
        super().__init__()
        self.attn_norm = RMSNorm(d_model, eps)
        self.attn = Attention(d_model, n_heads, attention_dropout, bias)
        self.ffn_norm = RMSNorm(d_model, eps)
        self.ffn = SwiGLU(d_model, hidden, bias)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x, mask, rope, cache: KVCache | None = None, store: bool = True):
        x = x + self.drop(self.attn(self.attn_norm(x), mask, rope, cache, store))
        return x + self.drop(self.ffn(self.ffn_norm(x)))


class Transformer(nn.Module):
    """A stack of pre-norm blocks and a final norm; positions enter through RoPE."""

    def __init__(
        self,
        d_model,
        n_heads,
        n_layers,
        hidden,
        eps,
        rope_theta,
        dropout,
        attention_dropout: float = 0.0,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.rotary = Rotary(d_model // n_heads, rope_theta)
        self.layers = nn.ModuleList(
            Block(d_model, n_heads, hidden, eps, dropout, attention_dropout, bias)
            for _ in range(n_layers)
        )
        self.norm = RMSNorm(d_model, eps)

    def new_caches(self) -> list[KVCache]:
        return [KVCache() for _ in self.layers]

    def forward(
        self,
        x: torch.Tensor,
        positions: torch.Tensor,
        mask: torch.Tensor,
        caches: list[KVCache] | None = None,
        store: bool = True,
    ) -> torch.Tensor:
        rope = self.rotary(positions)
        for i, layer in enumerate(self.layers):
            x = layer(x, mask, rope, caches[i] if caches is not None else None, store)
        return self.norm(x)


def causal_mask(key_valid: torch.Tensor, q_len: int) -> torch.Tensor:
    """Mask [B, 1, q_len, S] for the last q_len of S positions: each query sees valid keys
    at or before it. A query always sees itself, so padded rows stay finite (never NaN)."""
    length = key_valid.shape[1]
    q_idx = torch.arange(length - q_len, length, device=key_valid.device)[:, None]
    k_idx = torch.arange(length, device=key_valid.device)[None]
    allowed = ((k_idx <= q_idx) & key_valid[:, None, :]) | (k_idx == q_idx)
    return allowed[:, None]


def positions_of(valid: torch.Tensor) -> torch.Tensor:
    """Positions 0, 1, ... counting only valid entries (left padding does not shift them)."""
    return (valid.long().cumsum(dim=1) - 1).clamp(min=0)


def extended(valid: torch.Tensor) -> torch.Tensor:
    """valid [B, S] followed by one more valid position."""
    return torch.cat([valid, valid.new_ones(valid.shape[0], 1)], dim=1)


class TimestepEmbedding(nn.Module):
    """DiT timestep embedding: sinusoidal features of t, then a two-layer MLP."""

    def __init__(self, d_model: int, freq_dim: int = 256) -> None:
        super().__init__()
        half = freq_dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        self.register_buffer("freqs", freqs, persistent=False)
        self.mlp = nn.Sequential(
            nn.Linear(freq_dim, d_model), nn.SiLU(), nn.Linear(d_model, d_model)
        )

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        args = t[..., None].float() * self.freqs
        features = torch.cat([args.cos(), args.sin()], dim=-1)
        return self.mlp(features.to(self.mlp[0].weight.dtype))


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class DenoiserBlock(nn.Module):
    """Two-Tower denoiser layer: self-attention (each position sees only itself),
    cross-attention to the context, feed-forward; each sub-layer AdaLN-zero modulated by
    the timestep embedding (shift, scale and a gate that starts at zero, as in DiT)."""

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        hidden: int,
        eps: float,
        dropout: float,
        attention_dropout: float = 0.0,
        bias: bool = False,
    ):
        super().__init__()
        self.self_attn = Attention(d_model, n_heads, attention_dropout, bias)
        self.cross_attn = Attention(d_model, n_heads, attention_dropout, bias)
        self.ffn = SwiGLU(d_model, hidden, bias)
        self.norms = nn.ModuleList(RMSNorm(d_model, eps, affine=False) for _ in range(3))
        self.modulation = nn.Linear(d_model, 9 * d_model)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x, cond, self_mask, memory_kv, cross_mask) -> torch.Tensor:
        mods = self.modulation(F.silu(cond)).chunk(9, dim=-1)
        (s1, c1, g1), (s2, c2, g2), (s3, c3, g3) = mods[0:3], mods[3:6], mods[6:9]
        h = modulate(self.norms[0](x), s1, c1)
        x = x + g1 * self.drop(self.self_attn(h, self_mask))
        h = modulate(self.norms[1](x), s2, c2)
        x = x + g2 * self.drop(self.cross_attn.attend(h, *memory_kv, cross_mask))
        h = modulate(self.norms[2](x), s3, c3)
        return x + g3 * self.drop(self.ffn(h))
