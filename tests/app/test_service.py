"""WriterService on real tiny models and a real SQLite file: what each action stores."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.service import (
    ChangedElsewhereError,
    DocumentMissingError,
    ForeignNodeError,
    NodeMissingError,
    OutOfRangeError,
    ServiceError,
    StaleViewError,
    TranslationUnavailableError,
)
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
    doc = service.store.get_document(service.import_text(TEXT).id)
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


def test_import_reports_its_progress_up_to_saving(service):
    reports = []
    text = " ".join(f"Sentence number {i} is here." for i in range(600))
    service.import_text(text, progress=lambda done, what: reports.append((done, what)))
    fractions = [done for done, _ in reports]
    assert fractions == sorted(fractions) and fractions[0] == 0 and fractions[-1] == 1.0
    assert reports[0][1] == "Encoding 0 of 600 sentences"
    assert reports[-1][1] == "Saving 600 sentences"


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
    doc = service.store.get_document(service.import_text("First one. Second one. Third one.").id)
    third = list(doc.sentences())[2]
    options = service.regenerate(doc.id, third.id, 4).alternatives
    assert len(options) == 4
    stored = service.store.list_variants(third.id)
    assert [v.id for v in stored] == [o.variant_id for o in options]
    current = third.embedding / np.linalg.norm(third.embedding)
    for option, variant in zip(options, stored, strict=True):
        cosine = float(variant.embedding @ current / np.linalg.norm(variant.embedding))
        assert option.similarity == pytest.approx(cosine, abs=1e-4)
        assert option.text == variant.text
    first = list(doc.sentences())[0]  # nothing before it: sampled from an empty context
    assert len(service.regenerate(doc.id, first.id, 2).alternatives) == 2


def test_expand_adds_exactly_n_generated_sentences_under_an_outline_item(service):
    doc = service.import_text("An opening line.\n\n- The plan for part one\n- Part two")
    item = next(n for n in doc.nodes if n.kind is Kind.OUTLINE)
    expansion = service.expand(doc.id, item.id, 5)
    added = expansion.added
    assert len(added) == 5 and expansion.shortfall is None
    after = service.store.get_document(doc.id)
    children = after.children(item.id)
    assert [c.id for c in children] == [a.id for a in added]
    assert all(c.origin is Origin.GENERATED and c.embedding is not None for c in children)
    with pytest.raises(ServiceError, match="Continue"):
        service.expand(doc.id, children[0].id, 2)


@pytest.mark.parametrize("at", [0, 1, 2])
def test_continue_inserts_after_any_sentence_including_the_last(service, at):
    doc = service.import_text("Alpha begins. Beta follows. Gamma ends.")
    chosen = list(doc.sentences())[at]
    added = service.continue_after(doc.id, chosen.id).added
    assert 1 <= len(added) <= 32
    ids = [n.id for n in service.store.get_document(doc.id).sentences()]
    start = ids.index(chosen.id) + 1
    assert ids[start : start + len(added)] == [a.id for a in added]
    assert len(ids) == 3 + len(added)


def test_expand_outline_reports_progress_per_empty_item(service):
    doc = service.import_text("- One\n- Two\n- Three")
    steps = list(service.expand_outline(doc.id, 2))
    assert [s.node.text for s in steps] == ["One", "Two", "Three"]
    after = service.store.get_document(doc.id)
    for step in steps:
        assert [c.id for c in after.children(step.node.id)] == [a.id for a in step.added]
    assert sum(len(s.added) for s in steps) == sum(1 for _ in after.sentences())
    with pytest.raises(ServiceError, match="nothing to expand"):
        list(service.expand_outline(doc.id, 2))


def test_translation_decodes_the_concept_in_a_language_the_codec_writes(service):
    doc = service.store.get_document(
        service.import_text("A sentence to translate. And a second one.").id
    )
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


# -- every entry refuses bad requests with a message for the writer ------------------------


@pytest.fixture
def two_docs(service):
    mine = service.import_text("Mine starts. Mine ends.\n\n- A plan", title="Mine")
    other = service.import_text("Theirs is here.", title="Theirs")
    return mine, other


def node_calls(service, doc_id: int, node_id: int):
    """Every entry that takes a (document, node) pair, with valid other arguments."""
    return {
        "edit": lambda: service.edit(node_id, doc_id, "New text.", 0),
        "regenerate": lambda: service.regenerate(doc_id, node_id, 2),
        "expand": lambda: service.expand(doc_id, node_id, 2),
        "continue": lambda: service.continue_after(doc_id, node_id),
        "insert": lambda: service.insert(doc_id, node_id, Kind.SENTENCE, "More."),
        "translate": lambda: service.translate(node_id, doc_id, "fra_Latn"),
        "replace": lambda: service.replace_with_translation(doc_id, node_id, "fra_Latn", 0),
        "lock": lambda: service.toggle_lock(doc_id, node_id, 0),
        "delete": lambda: service.delete_node(doc_id, node_id, 0),
        "move": lambda: service.move(doc_id, node_id, "move_down", 0),
        "accept": lambda: service.accept_variant(doc_id, node_id, 1, 0),
    }


def test_unknown_foreign_and_deleted_nodes_are_refused_by_every_entry(service, two_docs):
    mine, other = two_docs
    foreign = next(other.sentences()).id
    gone = next(mine.sentences())
    service.delete_node(mine.id, gone.id, gone.version)
    for call in node_calls(service, mine.id, 10**9).values():
        with pytest.raises(NodeMissingError, match="There is no node 1000000000"):
            call()
    for call in node_calls(service, mine.id, foreign).values():
        with pytest.raises(ForeignNodeError, match=f"Node {foreign} belongs to another document"):
            call()
    for call in node_calls(service, mine.id, gone.id).values():
        with pytest.raises(NodeMissingError, match="was deleted"):
            call()
    assert [n.text for n in service.store.get_document(mine.id).sentences()] == ["Mine ends."]


def test_a_deleted_or_unknown_document_is_refused_and_can_be_restored(service, two_docs):
    mine, _ = two_docs
    node = list(mine.sentences())[1]
    service.delete_document(mine.id)
    for call in node_calls(service, mine.id, node.id).values():
        with pytest.raises(DocumentMissingError, match="“Mine” was deleted.*Recently deleted"):
            call()
    for call in node_calls(service, 10**9, node.id).values():
        with pytest.raises(DocumentMissingError, match="does not exist"):
            call()
    assert issubclass(DocumentMissingError, StaleViewError)
    assert service.workspace(mine.id).document is None  # not an error: nothing open
    assert mine.id in [d.id for d in service.workspace(None).deleted]
    service.restore_document(mine.id)
    assert service.workspace(mine.id, node.id).node.text == "Mine ends."


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s, d, o: s.expand(d.id, o.id, 0), "from 1 to 10, not 0"),
        (lambda s, d, o: s.expand(d.id, o.id, -1), "from 1 to 10, not -1"),
        (lambda s, d, o: s.expand(d.id, o.id, 11), "from 1 to 10, not 11"),
        (lambda s, d, o: s.expand(d.id, o.id, 2.5), "whole number"),
        (lambda s, d, o: s.regenerate(d.id, next(d.sentences()).id, 0), "from 1 to 8, not 0"),
        (lambda s, d, o: s.regenerate(d.id, next(d.sentences()).id, 9), "from 1 to 8, not 9"),
        (lambda s, d, o: list(s.expand_outline(d.id, 0)), "from 1 to 10, not 0"),
    ],
)
def test_counts_out_of_range_are_refused_before_the_model_runs(service, two_docs, call, message):
    mine, _ = two_docs
    item = next(n for n in mine.nodes if n.kind is Kind.OUTLINE)
    with pytest.raises(OutOfRangeError, match=message):
        call(service, mine, item)
    assert service.store.get_document(mine.id).version == mine.version


def test_a_stale_version_is_changed_elsewhere_and_nothing_is_saved(service, two_docs):
    mine, _ = two_docs
    node = next(mine.sentences())
    service.edit(node.id, mine.id, "First tab wins.", node.version)
    with pytest.raises(ChangedElsewhereError, match="changed elsewhere.*Reload"):
        service.edit(node.id, mine.id, "Second tab.", node.version)
    assert service.store.get_document(mine.id).node(node.id).text == "First tab wins."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Fine text \ud800 here.", "unpaired surrogate at position 10"),
        ("\u200b\u200c\ufeff \u2060", "no visible characters"),
        ("", "nothing to import"),
    ],
)
def test_unstorable_or_invisible_imports_are_refused_with_a_message(service, text, message):
    with pytest.raises(ServiceError, match=message):
        service.import_text(text)


def test_invisible_sentences_are_dropped_from_an_import(service):
    doc = service.import_text("A visible one.\n\n\u200b\u200b\n\nAnother one.")
    assert [n.text for n in doc.sentences()] == ["A visible one.", "Another one."]


def test_a_json_export_imports_back_to_an_identical_document(service, tmp_path):
    doc = service.import_text(TEXT)
    item = next(n for n in doc.nodes if n.kind is Kind.OUTLINE)
    service.expand(doc.id, item.id, 2)
    original = service.store.get_document(doc.id)
    name, content = service.export(doc.id, "json")
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    copy = service.import_file(str(path))
    assert copy.id != doc.id and copy.title == original.title

    def fingerprint(view):
        return [
            (n.depth, n.kind, n.text, n.language, n.origin,
             None if n.embedding is None else (n.embedding.dtype.str, n.embedding.tobytes()))
            for n in view.nodes
        ]  # fmt: skip

    assert fingerprint(service.store.get_document(copy.id)) == fingerprint(original)
    path.write_text(content.replace('"dim": 16', '"dim": 8', 1), encoding="utf-8")
    with pytest.raises(ServiceError, match="concepts of the .* codec \\(8-d\\)"):
        service.import_file(str(path))
    path.write_text('{"format": "something else"}', encoding="utf-8")
    with pytest.raises(ServiceError, match="not an LCM Writer export"):
        service.import_file(str(path))


def test_generation_reads_a_bounded_window_of_concepts(service, monkeypatch):
    from app.service import CONTEXT_WINDOW

    text = " ".join(f"Sentence number {i} is here." for i in range(140))
    doc = service.store.get_document(service.import_text(text).id)
    last = list(doc.sentences())[-1]
    seen = []
    sample_next = service.lcm.sample_next
    monkeypatch.setattr(
        service.lcm,
        "sample_next",
        lambda context, **kw: seen.append(context) or sample_next(context, **kw),
    )
    service.regenerate(doc.id, last.id, 2)
    before = [n.embedding for n in doc.sentences()][-1 - CONTEXT_WINDOW : -1]
    assert CONTEXT_WINDOW == 128 and seen[0].shape == (CONTEXT_WINDOW, service.codec.dim)
    np.testing.assert_array_equal(seen[0].numpy(), np.stack(before))
