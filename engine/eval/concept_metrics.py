"""Metrics on concepts: the pre-training metrics of the LCM paper (section 2.4).

For a predicted next concept x̂ (row of `predicted`), the true next concept x (same row
of `target`) and the context concepts that preceded it. All functions are pure: tensors
in, a float out, averaged over rows. Everything is measured in raw codec space.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _check_pairs(predicted: torch.Tensor, target: torch.Tensor) -> None:
    if predicted.ndim != 2 or predicted.shape != target.shape:
        raise ValueError(
            f"expected two [N, dim] tensors of one shape, got {tuple(predicted.shape)} "
            f"and {tuple(target.shape)}"
        )
    if len(predicted) == 0:
        raise ValueError("no concepts to measure")


def l2_distance(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """Mean Euclidean distance ‖x̂ − x‖.

    Also the round-trip l2 when `target` is encode(decode(x̂)): how far a prediction lies
    from the manifold of sentences the codec can express.
    """
    _check_pairs(predicted, target)
    return (predicted.float() - target.float()).norm(dim=-1).mean().item()


def contrastive_accuracy(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """Share of the *other* rows' true concepts that lie farther from x̂ than its own x.

    1.0: every prediction is closer to its own ground truth than to any other in the batch.
    """
    _check_pairs(predicted, target)
    n = len(predicted)
    if n < 2:
        raise ValueError("contrastive accuracy needs at least two predictions")
    distances = torch.cdist(predicted.float(), target.float())  # [N, N]
    own = distances.diagonal().unsqueeze(1)
    farther = (distances > own).float()
    farther.fill_diagonal_(0.0)
    return (farther.sum(dim=1) / (n - 1)).mean().item()


def paraphrasing(predicted: torch.Tensor, contexts: list[torch.Tensor]) -> float:
    """Mean over rows of the highest cosine between x̂ and any of its context concepts.

    High values mean the model repeats (paraphrases) its context instead of moving on.
    """
    if len(predicted) != len(contexts):
        raise ValueError(f"{len(predicted)} predictions but {len(contexts)} contexts")
    if any(len(c) == 0 for c in contexts):
        raise ValueError("every prediction needs a non-empty context")
    best = [
        F.cosine_similarity(x.float().unsqueeze(0), c.float(), dim=-1).max()
        for x, c in zip(predicted, contexts, strict=True)
    ]
    return torch.stack(best).mean().item()


def pointwise_mutual_information(
    conditional: list[float], unconditional: list[float], lengths: list[int]
) -> float:
    """Mean per-token PMI, log p(y | context) − log p(y), in nats per token.

    `conditional` / `unconditional` are the total log-probabilities of each decoded
    prediction y with and without its context under one language model; `lengths` are
    the token counts of each y.
    """
    if not len(conditional) == len(unconditional) == len(lengths) > 0:
        raise ValueError("PMI needs equal, non-empty lists of log-probabilities and lengths")
    if min(lengths) <= 0:
        raise ValueError("every decoded prediction needs at least one token")
    per_item = [(c - u) / n for c, u, n in zip(conditional, unconditional, lengths, strict=True)]
    return sum(per_item) / len(per_item)


def add_relative_noise(
    embeddings: torch.Tensor, level: float, generator: torch.Generator
) -> torch.Tensor:
    """x + level · rms(x) · z with z ~ N(0, I): noise scaled to each embedding's own size.

    The perturbation of the SONAR-fragility measurement; level 0.1 adds noise whose norm is
    about 10 % of the embedding's norm.
    """
    rms = embeddings.float().pow(2).mean(dim=-1, keepdim=True).sqrt()
    noise = torch.randn(embeddings.shape, generator=generator, dtype=torch.float32)
    return embeddings.float() + level * rms * noise.to(embeddings.device)


def mean_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean row-wise cosine similarity."""
    _check_pairs(a, b)
    return F.cosine_similarity(a.float(), b.float(), dim=-1).mean().item()
