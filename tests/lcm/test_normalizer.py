"""The embedding normaliser against scikit-learn's scalers (what the reference fits)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.lcm import Normalizer

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
