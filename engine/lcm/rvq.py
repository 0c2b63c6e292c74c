"""Residual vector quantisation (RVQ) of concept vectors, coarse to fine (paper section 2.5).

Codebook 0 quantises the concept, codebook 1 what codebook 0 left over, and so on, so
the sum of the first k chosen units is a coarse-to-fine approximation of the concept:
`decode(codes[:, :k])` is meaningful for every k. Each codebook is fitted by seeded
k-means on the residuals the earlier ones leave, which makes the mean squared error on
the fitting data fall with every codebook (a cluster's mean is never farther from its
members than the zero vector is). Works in raw codec space; a Module so its codebooks
travel inside a quantized LCM's checkpoint, and `save` / `load` give it its own file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from engine.errors import EngineError

FORMAT = "lcm-writer/rvq/1"
CHUNK = 8192  # rows per distance computation, so memory stays at CHUNK x codebook_size
SEEDING_ROWS_PER_UNIT = 32  # k-means++ seeds each codebook from a sample of this many rows per unit


class RVQFileError(EngineError, ValueError):
    """An RVQ file is missing or was not written by `ResidualVQ.save`."""


class ResidualVQ(nn.Module):
    def __init__(self, dim: int, num_codebooks: int, codebook_size: int) -> None:
        super().__init__()
        if num_codebooks < 1 or codebook_size < 2:
            raise ValueError(
                f"an RVQ needs >= 1 codebook of >= 2 units, got {num_codebooks} x {codebook_size}"
            )
        self.register_buffer("codebooks", torch.zeros(num_codebooks, codebook_size, dim))

    @property
    def dim(self) -> int:
        return self.codebooks.shape[2]

    @property
    def num_codebooks(self) -> int:
        return self.codebooks.shape[0]

    @property
    def codebook_size(self) -> int:
        return self.codebooks.shape[1]

    @torch.no_grad()
    def fit(
        self,
        x: torch.Tensor,
        iterations: int = 20,
        seed: int = 0,
        progress: Callable[[int], None] | None = None,
    ) -> ResidualVQ:
        """Fit every codebook by k-means (k-means++ seeding drawn by `seed`, then
        `iterations` Lloyd steps) on the residuals of the codebooks before it.
        `progress(level)` is called after each codebook."""
        x = x.to(self.codebooks.device, torch.float32)
        if x.ndim != 2 or x.shape[1] != self.dim or len(x) < self.codebook_size:
            raise ValueError(
                f"fit needs an [N >= {self.codebook_size}, {self.dim}] tensor, got {tuple(x.shape)}"
            )
        generator = torch.Generator().manual_seed(seed)
        residual = x.clone()
        for level in range(self.num_codebooks):
            units = kmeans_plus_plus(
                self._seeding_rows(residual, generator), self.codebook_size, generator
            )
            for _ in range(iterations):
                assigned = nearest(residual, units)
                sums = torch.zeros_like(units).index_add_(0, assigned, residual)
                counts = torch.bincount(assigned, minlength=len(units))
                filled = counts > 0  # an empty unit keeps its place (it changes no error)
                units[filled] = sums[filled] / counts[filled, None]
            self.codebooks[level] = units
            residual -= units[nearest(residual, units)]
            if progress is not None:
                progress(level)
        return self

    def _seeding_rows(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """At most SEEDING_ROWS_PER_UNIT rows per unit for k-means++: its k sequential
        passes cost more than all the Lloyd steps on the full data, which place the units."""
        most = SEEDING_ROWS_PER_UNIT * self.codebook_size
        if len(x) <= most:
            return x
        return x[torch.randperm(len(x), generator=generator)[:most].to(x.device)]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes [..., num_codebooks] (int64) of concepts x [..., dim]: at each level the
        unit nearest to what the earlier levels left."""
        residual = x.reshape(-1, self.dim).to(self.codebooks.dtype)
        codes = []
        for units in self.codebooks:
            chosen = nearest(residual, units)
            residual = residual - units[chosen]
            codes.append(chosen)
        return torch.stack(codes, dim=-1).view(*x.shape[:-1], self.num_codebooks)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Concepts [..., dim] from the first k levels' codes [..., k], any 0 <= k <= K."""
        k = codes.shape[-1]
        if k > self.num_codebooks:
            raise ValueError(f"{k} levels of codes, but the RVQ has {self.num_codebooks}")
        levels = torch.arange(k, device=codes.device)
        return self.codebooks[levels, codes].sum(dim=-2)

    def save(self, path: str | Path, codec: str) -> Path:
        """Write the codebooks as safetensors; `codec` names the embedding space."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        metadata = {"format": FORMAT, "codec": codec}
        save_file({"codebooks": self.codebooks.detach().cpu().contiguous()}, str(path), metadata)
        return path

    @classmethod
    def load(cls, path: str | Path) -> tuple[ResidualVQ, dict[str, str]]:
        """The RVQ saved at `path` and its metadata ({"format", "codec"})."""
        path = Path(path)
        if not path.is_file():
            raise RVQFileError(f"no RVQ at {path}; create it with `lcm-writer fit-rvq`")
        with safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
        if metadata.get("format") != FORMAT:
            raise RVQFileError(f"{path} was not written by `lcm-writer fit-rvq`")
        codebooks = load_file(str(path))["codebooks"]
        rvq = cls(codebooks.shape[2], codebooks.shape[0], codebooks.shape[1])
        rvq.codebooks.copy_(codebooks)
        return rvq, metadata

    def extra_repr(self) -> str:
        return f"dim={self.dim}, codebooks={self.num_codebooks} x {self.codebook_size}"


def kmeans_plus_plus(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k starting units drawn from the rows of x, each with probability proportional to
    its squared distance from the units drawn so far (Arthur and Vassilvitskii, 2007):
    spread-out starts, so Lloyd's steps rarely merge two clusters."""
    norms = x.pow(2).sum(-1)

    def distances(i: int) -> torch.Tensor:  # one matrix-vector product, no [N, dim] temporary
        return (norms - 2 * (x @ x[i]) + norms[i]).clamp_min(0)

    first = torch.randint(len(x), (1,), generator=generator).item()
    chosen = [first]
    closest = distances(first)
    for _ in range(k - 1):
        weights = closest.cpu().double()
        if weights.sum() <= 0:  # fewer distinct rows than units: any row will do
            weights = torch.ones_like(weights)
        index = torch.multinomial(weights, 1, generator=generator).item()
        chosen.append(index)
        closest = torch.minimum(closest, distances(index))
    return x[chosen].clone()


def curve_levels(num_codebooks: int) -> list[int]:
    """Codebook counts of an auto-encoding curve: 1, 2, 4, ... and all of them."""
    powers = (2**i for i in range(num_codebooks.bit_length()))
    return sorted({*(k for k in powers if k <= num_codebooks), num_codebooks})


def squared_distances(x: torch.Tensor, units: torch.Tensor) -> torch.Tensor:
    """||x_i - u_j||^2 [N, V] as one matrix product (what k-means and snapping both need)."""
    return x.pow(2).sum(-1, keepdim=True) - 2 * x @ units.T + units.pow(2).sum(-1)


def nearest(x: torch.Tensor, units: torch.Tensor) -> torch.Tensor:
    """Index of the nearest unit for every row of x [N, dim], in chunks of CHUNK rows."""
    return torch.cat([squared_distances(part, units).argmin(dim=1) for part in x.split(CHUNK)])
