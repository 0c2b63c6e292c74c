"""Per-dimension scaling of codec embeddings into the space the LCM works in.

SONAR dimensions have very different spreads; diffusion assumes unit-scale data. The
robust variant matches scikit-learn's RobustScaler(unit_variance=True): centre on the
median and divide by IQR / 1.349, which is the standard deviation for Gaussian data but
ignores outliers. It is a Module so its statistics travel in the model's checkpoint, and
`save_normalizer` / `load_normalizer` give it its own file (what fit-normalizer writes and
a training recipe's `normalizer` names).

The whitened variant follows the robust scaling with a rotation onto the principal
directions, each of the top `whiten_dims` divided by its standard deviation and the rest
by the last of those. Per-dimension scaling leaves a flat concept space flat: in the demo
codec's, 64 of 512 directions hold 98.5% of the variance (eigenvalues 54 down to 0.7), so
under isotropic noise the first directions are decided at the noisiest steps and the
others only at the last. Whitened, they share one signal-to-noise ratio at every step:
the demo Two-Tower trained so scored 0.848 against 0.839 in held-out contrastive accuracy
(0.841 against 0.834 on the documents its card reports), and is the bundled one.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from engine.errors import EngineError

from .config import NormalizerKind

IQR_TO_STD = 1.3489795003921634  # inverse normal CDF(0.75) - CDF(0.25)
WHITEN_DIMS = 64  # principal directions the whitened kind scales to unit variance


class NormalizerFileError(EngineError, ValueError):
    """A normaliser file is missing or does not match the model or data."""


class Normalizer(nn.Module):
    def __init__(self, dim: int, kind: NormalizerKind = "robust") -> None:
        super().__init__()
        if kind not in get_args(NormalizerKind):
            choices = ", ".join(map(repr, get_args(NormalizerKind)))
            raise ValueError(f"normalizer kind must be one of {choices}; got {kind!r}")
        self.kind = kind
        self.register_buffer("center", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))
        if kind == "whitened":  # after the robust scaling: z = (x - mean) @ axes / spread
            self.register_buffer("mean", torch.zeros(dim))
            self.register_buffer("axes", torch.eye(dim))  # columns: principal directions
            self.register_buffer("spread", torch.ones(dim))

    @torch.no_grad()
    def fit(
        self, embeddings: torch.Tensor | np.ndarray, whiten_dims: int = WHITEN_DIMS
    ) -> Normalizer:
        """Set the statistics from a sample of raw embeddings [N, dim] (N >= 2);
        `whiten_dims` counts only for the whitened kind."""
        dim = self.center.numel()
        data = np.asarray(
            embeddings.detach().cpu().float() if torch.is_tensor(embeddings) else embeddings,
            dtype=np.float64,
        )
        if data.ndim != 2 or data.shape[1] != dim or data.shape[0] < 2:
            raise ValueError(
                f"fit needs an [N >= 2, {dim}] array of embeddings, got shape {tuple(data.shape)}"
            )
        if self.kind == "standard":
            center, scale = data.mean(axis=0), data.std(axis=0)
        else:
            q25, median, q75 = np.quantile(data, [0.25, 0.5, 0.75], axis=0)
            center, scale = median, (q75 - q25) / IQR_TO_STD
        scale = np.where(scale > 1e-12, scale, 1.0)  # constant dimensions stay unscaled
        statistics = {"center": center, "scale": scale}
        if self.kind == "whitened":
            statistics |= _principal_axes((data - center) / scale, whiten_dims)
        for name, value in statistics.items():  # all or nothing: a refused fit changes none
            getattr(self, name).copy_(torch.from_numpy(np.ascontiguousarray(value)))
        return self

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.center) / self.scale
        if self.kind == "whitened":
            z = (z - self.mean) @ self.axes / self.spread
        return z

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        if self.kind == "whitened":
            z = (z * self.spread) @ self.axes.T + self.mean
        return z * self.scale + self.center

    def extra_repr(self) -> str:
        return f"dim={self.center.numel()}, kind={self.kind}"


def _principal_axes(scaled: np.ndarray, whiten_dims: int) -> dict[str, np.ndarray]:
    """The whitened kind's mean, axes (columns, largest variance first) and spread: the
    standard deviation along each axis, floored at the `whiten_dims`-th."""
    dim = scaled.shape[1]
    if not 1 <= whiten_dims <= dim:
        raise ValueError(f"whiten_dims must be between 1 and {dim}, got {whiten_dims}")
    mean = scaled.mean(axis=0)
    variance, axes = np.linalg.eigh(np.cov(scaled - mean, rowvar=False))
    variance, axes = variance[::-1].clip(min=0), axes[:, ::-1]
    floor = variance[whiten_dims - 1]
    if floor <= 1e-12:
        raise ValueError(
            f"the sample spans fewer than whiten_dims={whiten_dims} directions; "
            "fit on more concepts or whiten fewer directions"
        )
    return {"mean": mean, "axes": axes, "spread": np.sqrt(np.maximum(variance, floor))}


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
