"""The writer on the bundled demo models (assets/demo), as a person gets it from
`make run`: what the models write is measured in the model cards; here, what the app
promises with them."""

from __future__ import annotations

import random

import pytest

from app.service import WriterService
from engine.codec import load_codec
from engine.lcm import load_lcm
from storage import DocumentStore, Kind

STORY = """# The bakery

- Opening the shop before dawn

The baker lit the ovens at four. Flour dust hung in the warm air. The first loaves went
in while the street outside was still dark."""


@pytest.fixture(scope="module")
def bundled(tmp_path_factory) -> WriterService:
    store = DocumentStore(f"sqlite:///{tmp_path_factory.mktemp('db') / 'bundled.sqlite3'}")
    yield WriterService(load_codec("demo", device="cpu"), load_lcm("demo", device="cpu"), store)
    store.close()


def test_expand_adds_exactly_the_sentences_asked_for_in_twenty_seeded_tries(bundled):
    short = 0
    for seed in range(20):
        bundled.rng = random.Random(seed)
        doc = bundled.import_text(STORY, title=f"Bakery {seed}")
        item = next(n for n in doc.nodes if n.kind is Kind.OUTLINE)
        added = bundled.expand(doc.id, item.id, 5)
        short += len(added) != 5
    assert short == 0, f"{short} of 20 expansions added fewer than 5 sentences"
