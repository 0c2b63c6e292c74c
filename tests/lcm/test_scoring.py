"""Sampler options through engine.lcm.scoring: they shape the candidates drawn, never the
predictions that judge how the candidates lead on. A toy Quant-LCM-d with random weights."""

from __future__ import annotations

import torch

from engine.lcm.scoring import best_fitting, leads_on
from tests.lcm.helpers import toy_quant_model


def test_a_temperature_reaches_the_candidates_and_not_the_yardstick():
    model = toy_quant_model()
    context, following = torch.randn(3, model.dim), torch.randn(model.dim)
    scored = best_fitting(model, context, following, shown=2, drawn=6, seed=4, temperature=0.0)
    greedy = model.sample_next(context, num_samples=6, seed=4, temperature=0.0)
    assert torch.equal(scored.candidates, greedy[:2])  # all six draws are the same concept
    judged = leads_on(model, context, greedy, following, seed=4)  # the model's own sampler
    torch.testing.assert_close(scored.leads_on, judged.sort(descending=True).values[:2])


def test_the_end_of_a_text_draws_with_the_options_too():
    model = toy_quant_model()
    context = torch.randn(3, model.dim)
    scored = best_fitting(model, context, None, shown=3, drawn=9, seed=1, temperature=0.0)
    assert torch.equal(scored.candidates, model.sample_next(context, 3, seed=1, temperature=0.0))
    assert scored.leads_on is None
