"""Per-dimension scaling of codec embeddings into the space the LCM works in.

SONAR dimensions have very different spreads; diffusion assumes unit-scale data. The
robust variant matches scikit-learn's RobustScaler(unit_variance=True): centre on the
median and divide by IQR / 1.349, which is the standard deviation for Gaussian data but
ignores outliers. It is a Module so its statistics travel in the model's checkpoint.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .config import NormalizerKind

IQR_TO_STD = 1.3489795003921634  # inverse normal CDF(0.75) - CDF(0.25)


class Normalizer(nn.Module):
    def __init__(self, dim: int, kind: NormalizerKind = "robust") -> None:
        super().__init__()
        if kind not in ("robust", "standard"):
            raise ValueError(f"normalizer kind must be 'robust' or 'standard', got {kind!r}")
        self.kind = kind
        self.register_buffer("center", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))

    @torch.no_grad()
    def fit(self, embeddings: torch.Tensor | np.ndarray) -> Normalizer:
        """Set centre and scale from a sample of raw embeddings [N, dim] (N >= 2)."""
        data = np.asarray(
            embeddings.detach().cpu().float() if torch.is_tensor(embeddings) else embeddings,
            dtype=np.float64,
        )
        if data.ndim != 2 or data.shape[1] != self.center.numel() or data.shape[0] < 2:
            raise ValueError(
                f"fit needs an [N >= 2, {self.center.numel()}] array of embeddings, "
                f"got shape {tuple(data.shape)}"
            )
        if self.kind == "robust":
            q25, median, q75 = np.quantile(data, [0.25, 0.5, 0.75], axis=0)
            center, scale = median, (q75 - q25) / IQR_TO_STD
        else:
            center, scale = data.mean(axis=0), data.std(axis=0)
        scale = np.where(scale > 1e-12, scale, 1.0)  # constant dimensions stay unscaled
        self.center.copy_(torch.from_numpy(center))
        self.scale.copy_(torch.from_numpy(scale))
        return self

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.center) / self.scale

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.center

    def extra_repr(self) -> str:
        return f"dim={self.center.numel()}, kind={self.kind}"
