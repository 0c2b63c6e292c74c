"""Regenerate on a quantized LCM: the writer's temperature reaches the candidates drawn (not
the predictions that rank them), the same concept is listed once, every variant keeps
the temperature it was drawn at, and temperatures that cannot be used are refused. Real
tiny models with random weights, a real SQLite file."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from app.service import MAX_TEMPERATURE, OutOfRangeError, ServiceError
from engine.lcm.scoring import PREDICTION_STEPS

TEXT = "The harbour woke early. Boats slid out. Gulls followed them. The sun rose."


def sentences(service, text: str = TEXT):
    doc = service.store.get_document(service.import_text(text).id)
    return doc, list(doc.sentences())


@pytest.fixture
def calls(quant_service, monkeypatch) -> list[tuple[str, dict]]:
    """Every sampling call the quantized LCM gets, with its sampler options."""
    lcm, seen = quant_service.lcm, []

    def spying(name: str, real):
        def spy(*args, **kwargs):
            options = {k: v for k, v in kwargs.items() if k not in ("num_samples", "seed")}
            seen.append((name, options))
            return real(*args, **kwargs)

        return spy

    for name in ("sample_next", "sample_next_batch"):
        monkeypatch.setattr(lcm, name, spying(name, getattr(lcm, name)))
    return seen


def test_the_default_temperature_is_the_quantized_models_and_none_for_diffusion(
    quant_service, service
):
    assert quant_service.default_temperature == quant_service.lcm.config.sampler.temperature
    assert service.default_temperature is None


def test_a_temperature_reaches_the_draws_and_the_ranking_keeps_the_models_sampler(
    quant_service, calls
):
    doc, (_, boats, *_) = sentences(quant_service)
    options = quant_service.regenerate(doc.id, boats.id, 4, temperature=1.5).alternatives
    yardstick = {"steps": PREDICTION_STEPS}  # the ranking's fixed setting, not the user's
    assert calls == [("sample_next", {"temperature": 1.5}), ("sample_next_batch", yardstick)]
    stored = quant_service.store.list_variants(boats.id)
    assert [v.id for v in stored] == [o.variant_id for o in options]
    assert len({v.embedding.tobytes() for v in stored}) == 4  # four different concepts
    assert [v.temperature for v in stored] == [1.5] * 4


def test_at_temperature_zero_every_draw_is_one_concept_listed_once(quant_service):
    doc, (harbour, boats, *_, sun) = sentences(quant_service)
    (only,) = quant_service.regenerate(doc.id, boats.id, 4, temperature=0).alternatives
    (variant,) = quant_service.store.list_variants(boats.id)
    assert (variant.id, variant.temperature) == (only.variant_id, 0.0)
    context = torch.tensor(harbour.embedding)[None]
    greedy = quant_service.lcm.sample_next(context, num_samples=1, temperature=0.0)[0]
    np.testing.assert_allclose(variant.embedding, greedy.numpy(), atol=1e-6)
    assert (
        len(quant_service.regenerate(doc.id, sun.id, 3, temperature=0.0).alternatives) == 1
    )  # at the end


def test_without_a_temperature_variants_record_the_models_own(quant_service, service):
    doc, (_, boats, *_) = sentences(quant_service)
    quant_service.regenerate(doc.id, boats.id, 2)
    default = quant_service.lcm.config.sampler.temperature
    assert [v.temperature for v in quant_service.store.list_variants(boats.id)] == [default] * 2
    doc, (_, boats, *_) = sentences(service)
    service.regenerate(doc.id, boats.id, 2)
    assert [v.temperature for v in service.store.list_variants(boats.id)] == [None, None]


def test_a_diffusion_lcm_refuses_a_temperature_and_says_what_has_one(service):
    doc, (_, boats, *_) = sentences(service)
    with pytest.raises(ServiceError, match="diffusion model: it has no temperature") as error:
        service.regenerate(doc.id, boats.id, 2, temperature=0.7)
    assert "--lcm demo-quant" in str(error.value)
    assert service.store.list_variants(boats.id) == []


@pytest.mark.parametrize(
    ("temperature", "message"),
    [
        (-0.1, "from 0 (always the most likely concept) to 5, not -0.1"),
        (math.nan, "to 5, not nan"),
        (math.inf, "to 5, not inf"),
        (MAX_TEMPERATURE + 0.01, "to 5, not 5.01"),
        ("hot", "a number from 0 to 5, not 'hot'"),
        (True, "a number from 0 to 5, not True"),
    ],
)
def test_unusable_temperatures_are_refused_before_the_model_runs(
    quant_service, calls, temperature, message
):
    doc, (_, boats, *_) = sentences(quant_service)
    calls.clear()  # the import ran no sampling, but be sure
    with pytest.raises(OutOfRangeError, match=re.escape(message)):
        quant_service.regenerate(doc.id, boats.id, 2, temperature=temperature)
    assert calls == [] and quant_service.store.list_variants(boats.id) == []


def test_the_cap_itself_is_allowed(quant_service):
    doc, (_, boats, *_) = sentences(quant_service)
    assert quant_service.regenerate(doc.id, boats.id, 1, temperature=MAX_TEMPERATURE).alternatives
