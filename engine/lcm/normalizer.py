"""Per-dimension scaling of codec embeddings into the space the LCM works in.

SONAR dimensions have very different spreads; diffusion assumes unit-scale data. The
robust variant matches scikit-learn's RobustScaler(unit_variance=True): centre on the
median and divide by IQR / 1.349, which is the standard deviation for Gaussian data but
ignores outliers. It is a Module so its statistics travel in the model's checkpoint, and
`save_normalizer` / `load_normalizer` give it its own file (what fit-normalizer writes and
a training recipe's `normalizer` names).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from engine.errors import EngineError

from .config import NormalizerKind

IQR_TO_STD = 1.3489795003921634  # inverse normal CDF(0.75) - CDF(0.25)


class NormalizerFileError(EngineError, ValueError):
    """A normaliser file is missing or does not match the model or data."""


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


def save_normalizer(normalizer: Normalizer, path: str | Path, codec: str) -> None:
    """Write the statistics as safetensors; `codec` names the embedding space."""
    metadata = {"kind": normalizer.kind, "codec": codec, "dim": str(normalizer.center.numel())}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(dict(normalizer.state_dict()), str(path), metadata=metadata)


def load_normalizer(path: str | Path) -> tuple[Normalizer, dict[str, str]]:
    """The normaliser saved at `path` and its metadata ({"kind", "codec", "dim"})."""
    path = Path(path)
    if not path.is_file():
        raise NormalizerFileError(f"no normaliser at {path}; create it with fit-normalizer")
    with safe_open(str(path), "pt") as f:
        metadata = f.metadata() or {}
    if "kind" not in metadata or "dim" not in metadata:
        raise NormalizerFileError(f"{path} was not written by `lcm-writer fit-normalizer`")
    normalizer = Normalizer(int(metadata["dim"]), metadata["kind"])
    normalizer.load_state_dict(load_file(str(path)))
    return normalizer, metadata
