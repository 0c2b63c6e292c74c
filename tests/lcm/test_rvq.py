"""Residual vector quantisation: k-means fitting, coarse-to-fine decoding, files, CLI."""

from __future__ import annotations

import pytest
import torch

from engine.lcm.rvq import ResidualVQ, RVQFileError, curve_levels


def clustered(n: int, seed: int = 0, scales=(4.0, 1.0), counts=(8, 32), noise=0.3):
    """n concepts (16-d) with structure at several scales: a sum of one random vector per
    scale, drawn from fixed sets (the same for every seed), plus noise; `seed` draws rows."""
    fixed = torch.Generator().manual_seed(1234)
    sets = [s * torch.randn(c, 16, generator=fixed) for s, c in zip(scales, counts, strict=True)]
    g = torch.Generator().manual_seed(seed)
    rows = [vectors[torch.randint(0, len(vectors), (n,), generator=g)] for vectors in sets]
    return sum(rows) + noise * torch.randn(n, 16, generator=g)


def fitted(num_codebooks: int = 6, size: int = 16, seed: int = 0) -> ResidualVQ:
    return ResidualVQ(16, num_codebooks, size).fit(clustered(2000), iterations=10, seed=seed)


def errors(rvq: ResidualVQ, x: torch.Tensor) -> list[float]:
    codes = rvq.encode(x)
    return [(x - rvq.decode(codes[:, :k])).pow(2).sum(-1).mean().item() for k in range(7)]


@pytest.mark.parametrize("held_out", [False, True])
def test_reconstruction_error_falls_with_every_codebook(held_out):
    rvq = fitted()
    x = clustered(500, seed=1) if held_out else clustered(2000)
    curve = errors(rvq, x)
    assert all(later < earlier for earlier, later in zip(curve, curve[1:], strict=False)), curve
    assert curve[-1] < 0.05 * curve[0]  # six codebooks keep most of the concept


def test_codes_round_trip():
    """encode(decode(codes)) == codes. A single unit is always its own nearest; deeper
    codes come back exactly when the levels' scales are well separated (here 100 / 10 / 1,
    one codebook per scale): k-means++ finds the clusters and greedy encoding is exact."""
    rvq = fitted()
    codes = rvq.encode(clustered(300, seed=2))
    assert codes.shape == (300, 6) and codes.dtype == torch.long
    assert codes.min() >= 0 and codes.max() < 16
    assert torch.equal(rvq.encode(rvq.decode(codes[:, :1]))[:, 0], codes[:, 0])

    def scaled(n: int, seed: int) -> torch.Tensor:
        return clustered(n, seed, scales=(100.0, 10.0, 1.0), counts=(8, 8, 8), noise=0.01)

    rvq = ResidualVQ(16, 3, 8).fit(scaled(2000, 0), iterations=10, seed=0)
    codes = rvq.encode(scaled(300, 1))
    assert torch.equal(rvq.encode(rvq.decode(codes)), codes)


def test_decode_any_prefix_and_batch_shapes():
    rvq = fitted()
    x = clustered(12, seed=3).view(3, 4, 16)
    codes = rvq.encode(x)
    assert codes.shape == (3, 4, 6)
    assert torch.equal(rvq.decode(codes[..., :0]), torch.zeros(3, 4, 16))
    first = rvq.codebooks[0][codes[..., 0]] + rvq.codebooks[1][codes[..., 1]]
    torch.testing.assert_close(rvq.decode(codes[..., :2]), first)
    with pytest.raises(ValueError, match="7 levels"):
        rvq.decode(torch.zeros(2, 7, dtype=torch.long))


def test_fit_is_seeded():
    assert torch.equal(fitted(seed=4).codebooks, fitted(seed=4).codebooks)
    assert not torch.equal(fitted(seed=4).codebooks, fitted(seed=5).codebooks)


def test_save_and_load(tmp_path):
    rvq = fitted()
    rvq.save(tmp_path / "rvq.safetensors", codec="toy")
    loaded, meta = ResidualVQ.load(tmp_path / "rvq.safetensors")
    assert meta["codec"] == "toy" and loaded.num_codebooks == 6 and loaded.codebook_size == 16
    assert torch.equal(loaded.codebooks, rvq.codebooks)
    with pytest.raises(RVQFileError, match="fit-rvq"):
        ResidualVQ.load(tmp_path / "missing.safetensors")


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="codebook"):
        ResidualVQ(16, 0, 16)
    with pytest.raises(ValueError, match=r"\[N >= 16, 16\]"):
        ResidualVQ(16, 2, 16).fit(torch.randn(10, 16))


def test_curve_levels():
    assert curve_levels(1) == [1]
    assert curve_levels(8) == [1, 2, 4, 8]
    assert curve_levels(12) == [1, 2, 4, 8, 12]
