"""Concept metrics (LCM paper, section 2.4) against values computed by hand."""

import math

import pytest
import torch

from engine.eval.concept_metrics import (
    add_relative_noise,
    contrastive_accuracy,
    l2_distance,
    mean_cosine,
    paraphrasing,
    pointwise_mutual_information,
)


def t(rows):
    return torch.tensor(rows, dtype=torch.float32)


def test_l2_distance_is_the_mean_euclidean_distance():
    assert l2_distance(t([[0, 0], [1, 1]]), t([[3, 4], [1, 1]])) == pytest.approx(2.5)


def test_contrastive_accuracy_counts_other_targets_farther_than_the_own_one():
    predicted = t([[0, 0], [10, 0], [0, 10]])
    # rows 0 and 1: own target is the closest; row 2: own target (0,-5) is 15 away,
    # the two others are ~10.05 and ~13.45 away -> 0 of 2 farther.
    target = t([[1, 0], [9, 0], [0, -5]])
    assert contrastive_accuracy(predicted, target) == pytest.approx(2 / 3)


def test_contrastive_accuracy_needs_two_rows():
    with pytest.raises(ValueError, match="at least two"):
        contrastive_accuracy(t([[0, 0]]), t([[1, 1]]))


def test_paraphrasing_is_the_best_cosine_to_the_context():
    predicted = t([[1, 0], [0, 2]])
    contexts = [t([[0, 1], [1, 1]]), t([[0, 1]])]
    assert paraphrasing(predicted, contexts) == pytest.approx((1 / math.sqrt(2) + 1) / 2)


def test_pmi_is_the_per_token_log_likelihood_gain():
    # (-10 - -12) / 2 = 1 and (-4 - -8) / 4 = 1
    assert pointwise_mutual_information([-10, -4], [-12, -8], [2, 4]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least one token"):
        pointwise_mutual_information([-1.0], [-1.0], [0])


def test_relative_noise_scales_with_the_embedding():
    x = t([[3.0] * 1000, [0.1] * 1000])
    noisy = add_relative_noise(x, 0.5, torch.Generator().manual_seed(0))
    ratio = (noisy - x).norm(dim=-1) / x.norm(dim=-1)
    assert ratio.tolist() == pytest.approx([0.5, 0.5], rel=0.1)
    assert torch.equal(add_relative_noise(x, 0.0, torch.Generator()), x)


def test_mean_cosine():
    assert mean_cosine(t([[1, 0], [1, 1]]), t([[2, 0], [-1, -1]])) == pytest.approx(0.0, abs=1e-6)
