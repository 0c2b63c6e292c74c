"""WriterService on real tiny models and a real SQLite file: what each action stores."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.service import ServiceError, TranslationUnavailableError
from storage import Kind, Origin, State

TEXT = """# Travel notes

The train left early. Fog covered the river.

- Arrival in the city
- A walk by the harbour

## Evening

We ate late. The streets were quiet. Music came from a window.
"""


def shape(doc):
    return [(n.depth, n.kind.value, n.text) for n in doc.nodes]


def test_import_builds_sections_outline_items_and_sentences(service):
    doc = service.import_text(TEXT)
    assert doc.title == "Travel notes"
    assert shape(doc) == [
        (0, "section", "Travel notes"),
        (1, "paragraph", ""),
        (2, "sentence", "The train left early."),
        (2, "sentence", "Fog covered the river."),
        (1, "outline", "Arrival in the city"),
        (1, "outline", "A walk by the harbour"),
        (1, "section", "Evening"),
        (2, "paragraph", ""),
        (3, "sentence", "We ate late."),
        (3, "sentence", "The streets were quiet."),
        (3, "sentence", "Music came from a window."),
    ]
    for node in doc.nodes:
        assert (node.embedding is None) == (node.kind is Kind.PARAGRAPH)
        assert node.origin is Origin.IMPORTED
    encoded = service.codec.encode(["Fog covered the river."], lang=doc.language)[0]
    stored = next(n for n in doc.nodes if n.text == "Fog covered the river.")
    np.testing.assert_allclose(stored.embedding, encoded.numpy(), atol=1e-5)


def test_empty_import_is_refused_with_a_message(service):
    with pytest.raises(ServiceError, match="nothing to import"):
        service.import_text("  \n\n ")


def test_edit_re_encodes_and_marks_the_node_edited(service):
    doc = service.import_text("One sentence here. Another one there.")
    node = next(doc.sentences())
    edited = service.edit(node.id, doc.id, "  A new first sentence.  ", node.version)
    assert edited.text == "A new first sentence." and edited.edited and edited.state is State.OK
    expected = service.codec.encode(["A new first sentence."], lang=doc.language)[0]
    np.testing.assert_allclose(edited.embedding, expected.numpy(), atol=1e-5)
    with pytest.raises(ServiceError, match="empty"):
        service.edit(node.id, doc.id, "   ", edited.version)


def test_regenerate_keeps_k_variants_scored_by_cosine(service):
    doc = service.import_text("First one. Second one. Third one.")
    third = list(doc.sentences())[2]
    options = service.regenerate(doc.id, third.id, 4)
    assert len(options) == 4
    stored = service.store.list_variants(third.id)
    assert [v.id for v in stored] == [o.variant_id for o in options]
    current = third.embedding / np.linalg.norm(third.embedding)
    for option, variant in zip(options, stored, strict=True):
        cosine = float(variant.embedding @ current / np.linalg.norm(variant.embedding))
        assert option.similarity == pytest.approx(cosine, abs=1e-4)
        assert option.text == variant.text
    first = list(doc.sentences())[0]  # nothing before it: sampled from an empty context
    assert len(service.regenerate(doc.id, first.id, 2)) == 2


def test_expand_adds_exactly_n_generated_sentences_under_an_outline_item(service):
    doc = service.import_text("An opening line.\n\n- The plan for part one\n- Part two")
    item = next(n for n in doc.nodes if n.kind is Kind.OUTLINE)
    added = service.expand(doc.id, item.id, 5)
    assert len(added) == 5
    after = service.store.get_document(doc.id)
    children = after.children(item.id)
    assert [c.id for c in children] == [a.id for a in added]
    assert all(c.origin is Origin.GENERATED and c.embedding is not None for c in children)
    with pytest.raises(ServiceError, match="Continue"):
        service.expand(doc.id, children[0].id, 2)


def test_continue_inserts_after_the_sentence(service):
    doc = service.import_text("Alpha begins. Beta follows. Gamma ends.")
    beta = list(doc.sentences())[1]
    added = service.continue_after(doc.id, beta.id)
    assert 1 <= len(added) <= 32
    texts = [n.id for n in service.store.get_document(doc.id).sentences()]
    start = texts.index(beta.id) + 1
    assert texts[start : start + len(added)] == [a.id for a in added]


def test_expand_outline_reports_progress_per_empty_item(service):
    doc = service.import_text("- One\n- Two\n- Three")
    steps = list(service.expand_outline(doc.id, 2))
    assert steps == [(1, 3), (2, 3), (3, 3)]
    after = service.store.get_document(doc.id)
    assert sum(1 for _ in after.sentences()) == 6
    with pytest.raises(ServiceError, match="nothing to expand"):
        list(service.expand_outline(doc.id, 2))


def test_translation_decodes_the_concept_in_a_language_the_codec_writes(service):
    doc = service.import_text("A sentence to translate. And a second one.")
    first, second = doc.sentences()
    french = service.translate(first.id, doc.id, "fra_Latn")
    concepts = torch.tensor([first.embedding, second.embedding])
    assert french == service.codec.decode(concepts, lang="fra_Latn")[0]
    assert service.translate_document(doc.id, "fra_Latn") == {
        first.id: french,
        second.id: service.codec.decode(concepts, lang="fra_Latn")[1],
    }
    assert service.translate_document(doc.id, doc.language) == {}


def test_translation_into_a_language_the_codec_lacks_says_how_to_get_it(service):
    doc = service.import_text("A sentence to translate.")
    node = next(doc.sentences())
    message = "writes only eng_Latn, fra_Latn, deu_Latn, spa_Latn, not rus_Cyrl.*--codec sonar"
    with pytest.raises(TranslationUnavailableError, match=message):
        service.translate(node.id, doc.id, "rus_Cyrl")
    with pytest.raises(TranslationUnavailableError, match="--codec sonar"):
        service.translate_document(doc.id, "jpn_Jpan")


def test_french_input_is_read_as_french(service):
    doc = service.import_text(
        "Le boulanger ouvre sa boutique tous les matins à six heures. "
        "Les clients attendent déjà devant la porte avec leurs paniers."
    )
    assert doc.language == "fra_Latn"


def test_insert_after_a_node_and_export(service):
    doc = service.import_text("Start here. End here.")
    start = next(doc.sentences())
    node = service.insert(doc.id, start.id, Kind.SENTENCE, "In between.")
    texts = [n.text for n in service.store.get_document(doc.id).sentences()]
    assert texts == ["Start here.", "In between.", "End here."]
    assert node.origin is Origin.TYPED and node.embedding is not None
    name, markdown = service.export(doc.id, "md")
    assert name.endswith(".md") and "Start here. In between. End here." in markdown
    with pytest.raises(ServiceError, match="Unknown export format"):
        service.export(doc.id, "docx")
