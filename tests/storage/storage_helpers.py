"""Shared test data for the storage tests."""

from __future__ import annotations

import numpy as np

from storage import NewNode

DIM = 16


def emb(seed: int, dim: int = DIM, dtype: str = "float32") -> np.ndarray:
    """A reproducible random embedding."""
    return np.random.default_rng(seed).standard_normal(dim).astype(dtype)


def sample_tree() -> list[NewNode]:
    """Two sections: one with two paragraphs of sentences, one with an outline item."""
    return [
        NewNode(
            "section",
            "Introduction",
            children=[
                NewNode(
                    "paragraph",
                    "",
                    children=[
                        NewNode("sentence", "Concepts are sentences.", emb(1)),
                        NewNode("sentence", "Models predict the next one.", emb(2)),
                    ],
                ),
                NewNode("paragraph", "", children=[NewNode("sentence", "Short.", emb(3))]),
            ],
        ),
        NewNode("section", "Plan", children=[NewNode("outline", "Explain diffusion.", emb(4))]),
    ]
