"""Generation drives any GenerativeModel: every LCM is one, and so is a stand-in that is no
ConceptModel (the seam that lets generation.py stay free of model.py)."""

from typing import Any

import pytest
import torch

from engine.lcm import LCMConfig, Normalizer, build_model, preset
from engine.lcm.generation import GenerativeModel, generate_batch, sample_next
from tests.lcm.helpers import MODEL_TYPES, QUANT_TYPES


@pytest.mark.parametrize("model_type", [*MODEL_TYPES, *QUANT_TYPES])
def test_every_lcm_is_a_generative_model(model_type):
    assert isinstance(build_model(preset("toy", model_type=model_type)), GenerativeModel)


class Counter:
    """Proposes the last concept plus one in every dimension, its samples numbered 0, 1, ..."""

    def __init__(self, dim: int = 3) -> None:
        self.config = LCMConfig(dim=dim, d_model=8, n_heads=2)
        self.normalizer = Normalizer(dim)
        self.eot = torch.full((dim,), -1.0)
        self.training = False
        self.dim, self.device = dim, torch.device("cpu")

    def train(self, mode: bool = True) -> Any:
        self.training = mode
        return self

    def eval(self) -> Any:
        return self.train(False)

    def start(self, x: torch.Tensor, valid: torch.Tensor) -> list[torch.Tensor]:
        return [x[:, -1]]

    def propose(self, state, num_samples, generator, options) -> torch.Tensor:
        return state[-1][:, None] + 1 + torch.arange(num_samples)[None, :, None]

    def append(self, state: list[torch.Tensor], x: torch.Tensor) -> None:
        state.append(x)


def test_generation_needs_nothing_but_the_protocol():
    model = Counter()
    assert isinstance(model, GenerativeModel)
    context = torch.zeros(2, 3)
    assert sample_next(model, context, 2, seed=0)[:, 0].tolist() == [1.0, 2.0]
    (out,) = generate_batch(model, [context], 3, seed=0, repeat_threshold=2.0)
    assert out[:, 0].tolist() == [1.0, 2.0, 3.0]
