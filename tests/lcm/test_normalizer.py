"""The embedding normaliser against scikit-learn's scalers (what the reference fits)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.lcm import Normalizer
from engine.lcm.normalizer import load_normalizer, save_normalizer

sklearn_preprocessing = pytest.importorskip("sklearn.preprocessing")


def skewed_sample(n: int = 2000, dim: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    data = rng.standard_normal((n, dim)) * rng.uniform(0.1, 5, dim) + rng.uniform(-3, 3, dim)
    data[:20] *= 100  # outliers: the robust scaler must ignore them
    return data.astype(np.float32)


SCALERS = {
    "robust": lambda: sklearn_preprocessing.RobustScaler(unit_variance=True),
    "standard": lambda: sklearn_preprocessing.StandardScaler(),
}


@pytest.mark.parametrize("kind", sorted(SCALERS))
def test_matches_scikit_learn(kind):
    data = skewed_sample()
    reference = SCALERS[kind]().fit(data.astype(np.float64))
    normalizer = Normalizer(8, kind).fit(torch.from_numpy(data))
    x = torch.from_numpy(data[:50])
    expected = torch.from_numpy(reference.transform(data[:50].astype(np.float64))).float()
    torch.testing.assert_close(normalizer.normalize(x), expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(
        normalizer.denormalize(normalizer.normalize(x)), x, atol=1e-4, rtol=1e-5
    )


def test_robust_scale_is_the_standard_deviation_for_gaussian_data():
    data = torch.randn(20000, 4) * torch.tensor([0.5, 1.0, 2.0, 4.0]) + 3
    normalizer = Normalizer(4).fit(data)
    torch.testing.assert_close(
        normalizer.scale, torch.tensor([0.5, 1.0, 2.0, 4.0]), rtol=0.05, atol=0
    )
    torch.testing.assert_close(normalizer.center, torch.full((4,), 3.0), rtol=0, atol=0.1)


def test_constant_dimensions_and_bad_input():
    data = torch.randn(100, 3)
    data[:, 1] = 7.0
    normalizer = Normalizer(3).fit(data)
    assert normalizer.scale[1] == 1.0 and normalizer.center[1] == 7.0
    with pytest.raises(ValueError, match=r"\[N >= 2, 3\]"):
        normalizer.fit(torch.randn(10, 4))
    with pytest.raises(ValueError, match="robust"):
        Normalizer(3, "minmax")


def flat_sample(n: int = 3000, dim: int = 12) -> np.ndarray:
    """Concepts like the demo codec's: a few strong directions, a weak tail, skewed
    per-dimension offsets and scales."""
    rng = np.random.default_rng(1)
    strengths = np.geomspace(8.0, 0.01, dim)
    latent = rng.standard_normal((n, dim)) * strengths
    mixing = np.linalg.qr(rng.standard_normal((dim, dim)))[0]
    return (latent @ mixing.T * rng.uniform(0.5, 2, dim) + rng.uniform(-3, 3, dim)).astype(
        np.float32
    )


def test_whitened_is_robust_scaling_then_scikit_learns_pca_whitening():
    pca = pytest.importorskip("sklearn.decomposition").PCA
    data = flat_sample()
    robust = SCALERS["robust"]().fit(data.astype(np.float64))
    reference = pca(svd_solver="full").fit(robust.transform(data.astype(np.float64)))
    normalizer = Normalizer(12, "whitened").fit(torch.from_numpy(data), whiten_dims=5)
    x = torch.from_numpy(data[:50])
    projected = reference.transform(robust.transform(data[:50].astype(np.float64)))
    spread = np.sqrt(np.maximum(reference.explained_variance_, reference.explained_variance_[4]))
    expected = torch.from_numpy(projected / spread).float()
    got = normalizer.normalize(x)
    signs = torch.sign((got * expected).sum(0))  # principal directions have no sign
    torch.testing.assert_close(got * signs, expected, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(
        normalizer.denormalize(normalizer.normalize(x)), x, atol=1e-4, rtol=1e-5
    )


def test_whitened_concepts_have_unit_variance_in_the_top_directions_only():
    data = torch.from_numpy(flat_sample())
    normalizer = Normalizer(12, "whitened").fit(data, whiten_dims=5)
    covariance = torch.cov(normalizer.normalize(data).T.double())
    torch.testing.assert_close(
        covariance[:5, :5], torch.eye(5, dtype=torch.float64), atol=1e-4, rtol=0
    )
    tail = covariance.diagonal()[5:]
    assert (tail < 1).all() and (tail[1:] < tail[:-1]).all()  # scaled like the 5th, still ordered
    assert covariance.triu(1).abs().max() < 1e-4  # decorrelated


def test_a_whitened_normaliser_survives_its_file(tmp_path):
    data = torch.from_numpy(flat_sample())
    normalizer = Normalizer(12, "whitened").fit(data, whiten_dims=4)
    save_normalizer(normalizer, tmp_path / "n.safetensors", codec="demo")
    loaded, meta = load_normalizer(tmp_path / "n.safetensors")
    assert meta["kind"] == "whitened" and loaded.kind == "whitened"
    torch.testing.assert_close(loaded.normalize(data[:20]), normalizer.normalize(data[:20]))


def test_whitening_more_directions_than_the_sample_spans_is_refused():
    data = torch.from_numpy(flat_sample(dim=6))
    with pytest.raises(ValueError, match="whiten_dims must be between 1 and 6, got 7"):
        Normalizer(6, "whitened").fit(data, whiten_dims=7)
    flat = data.clone()
    flat[:, 3:] = flat[:, :3] * 2  # six dimensions, three directions
    refused = Normalizer(6, "whitened")
    with pytest.raises(ValueError, match="fewer than whiten_dims=4 directions"):
        refused.fit(flat, whiten_dims=4)
    assert torch.equal(refused.center, torch.zeros(6))  # a refused fit changes nothing
    assert torch.equal(refused.axes, torch.eye(6))
