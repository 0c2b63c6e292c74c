"""DocumentStore round trips and per-action behaviour on a real database."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import numpy as np
import pytest
from storage_helpers import DIM, emb, sample_tree

from storage import (
    ConflictError,
    DocumentStore,
    InvalidMoveError,
    Kind,
    LockedError,
    NewNode,
    NewVariant,
    NothingToUndoError,
    Origin,
    State,
)
from storage.tree import INSERT_CHUNK

TEXT = """# Introduction

Concepts are sentences. Models predict the next one.

Short.

# Plan

- Explain diffusion.
"""


def create(store: DocumentStore, nodes=None, title: str = "Draft"):  # noqa: ANN001
    nodes = sample_tree() if nodes is None else nodes
    return store.create_document(
        title, nodes, language="eng_Latn", codec_name="test", codec_dim=DIM
    )


def sentence(doc, text: str):  # noqa: ANN001
    return next(n for n in doc.nodes if n.text == text)


def test_tree_is_stored_in_reading_order_and_exports_as_its_markdown(store: DocumentStore) -> None:
    doc = create(store)
    kinds = [(n.kind, n.depth, n.position) for n in doc.nodes]
    assert kinds == [
        (Kind.SECTION, 0, 0),
        (Kind.PARAGRAPH, 1, 0),
        (Kind.SENTENCE, 2, 0),
        (Kind.SENTENCE, 2, 1),
        (Kind.PARAGRAPH, 1, 1),
        (Kind.SENTENCE, 2, 0),
        (Kind.SECTION, 0, 1),
        (Kind.OUTLINE, 1, 0),
    ]
    assert store.export_markdown(doc.id) == TEXT
    assert store.export_text(doc.id) == TEXT.replace("# ", "")
    reread = store.get_document(doc.id)
    assert [n.text for n in reread.nodes] == [n.text for n in doc.nodes]
    text_only = store.get_document(doc.id, with_embeddings=False)
    assert [n.text for n in text_only.nodes] == [n.text for n in doc.nodes]
    assert all(n.embedding is None for n in text_only.nodes)


def test_fill_completes_each_chunk_of_a_level_just_before_it_is_written(
    store: DocumentStore,
) -> None:
    count = 2 * INSERT_CHUNK + 3
    paragraph = NewNode(
        "paragraph", "", children=[NewNode("sentence", f"S{i}.") for i in range(count)]
    )
    chunks: list[list[str]] = []

    def fill(chunk: list[NewNode]) -> list[NewNode]:
        chunks.append([n.text for n in chunk])
        return [
            replace(n, embedding=emb(int(n.text[1:-1]))) if n.kind == "sentence" else n
            for n in chunk
        ]

    doc = store.create_document(
        "Long", [paragraph], language="eng_Latn", codec_name="test", codec_dim=DIM, fill=fill
    )
    assert [len(c) for c in chunks] == [1, INSERT_CHUNK, INSERT_CHUNK, 3]
    stored = [n.embedding for n in store.get_document(doc.id).sentences()]
    assert [v.tobytes() for v in stored] == [emb(i).tobytes() for i in range(count)]


def test_a_fill_that_fails_leaves_no_document(store: DocumentStore) -> None:
    sentences = [NewNode("sentence", f"S{i}.", emb(i)) for i in range(INSERT_CHUNK + 1)]
    chunks = iter([True, False])

    def fill(chunk: list[NewNode]) -> list[NewNode]:
        if not next(chunks):
            raise RuntimeError("the encoder ran out of memory")
        return chunk

    with pytest.raises(RuntimeError, match="out of memory"):
        store.create_document(
            "Half", sentences, language="eng_Latn", codec_name="test", codec_dim=DIM, fill=fill
        )
    assert store.list_documents(include_deleted=True) == []


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_embeddings_round_trip_bit_exact(store: DocumentStore, dtype: str) -> None:
    vectors = [emb(i, dtype=dtype) for i in range(3)]
    vectors[0][0] = np.finfo(dtype).tiny  # a subnormal-adjacent extreme survives too
    nodes = [NewNode("sentence", f"S{i}.", v) for i, v in enumerate(vectors)]
    doc = create(store, nodes)
    stored = [n.embedding for n in store.get_document(doc.id).sentences()]
    for original, back in zip(vectors, stored, strict=True):
        assert back.dtype == original.dtype
        assert back.tobytes() == original.tobytes()
    exported = json.loads(store.export_json(doc.id))
    for original, node in zip(vectors, exported["nodes"], strict=True):
        data = base64.b64decode(node["embedding"]["base64"])
        assert np.frombuffer(data, node["embedding"]["dtype"]).tobytes() == (original.tobytes())


def test_raw_float32_bytes_are_accepted(store: DocumentStore) -> None:
    vector = emb(9)
    doc = create(store, [NewNode("sentence", "Raw.", vector.tobytes())])
    assert doc.nodes[0].embedding.tobytes() == vector.tobytes()


def test_library_rename_soft_delete_restore_and_purge(store: DocumentStore) -> None:
    first, second = create(store, title="First"), create(store, title="Second")
    assert [d.title for d in store.list_documents()] == ["Second", "First"]
    assert {d.id: d.node_count for d in store.list_documents()} == {first.id: 8, second.id: 8}
    renamed = store.rename_document(first.id, "  Renamed ", expected_version=first.version)
    assert renamed.title == "Renamed"
    with pytest.raises(ConflictError):
        store.rename_document(first.id, "Again", expected_version=first.version)
    store.delete_document(second.id)
    assert [d.id for d in store.list_documents()] == [first.id]
    assert store.list_documents(include_deleted=True)[0].deleted
    store.restore_document(second.id)
    assert store.get_document(second.id).nodes[2].text == "Concepts are sentences."
    store.purge_document(second.id)
    assert [d.id for d in store.list_documents(include_deleted=True)] == [first.id]


def test_edit_keeps_history_and_undo_redo_restore_exactly(store: DocumentStore) -> None:
    doc = create(store)
    node = sentence(doc, "Short.")
    edited = store.edit_text(node.id, "Brief.", expected_version=node.version, embedding=emb(7))
    assert (edited.text, edited.edited, edited.state) == ("Brief.", True, State.OK)
    assert store.get_document(doc.id).undo_action == "edit_text"
    store.undo(doc.id)
    back = store.get_document(doc.id).node(node.id)
    assert back.text == "Short." and back.embedding.tobytes() == emb(3).tobytes()
    assert store.get_document(doc.id).redo_action == "edit_text"
    store.redo(doc.id)
    assert store.get_document(doc.id).node(node.id).text == "Brief."
    history = store.node_history(node.id)
    assert [(r.action, r.text, r.status) for r in history] == [
        ("create", "Short.", "applied"),
        ("edit_text", "Brief.", "applied"),
    ]
    store.undo(doc.id)
    with pytest.raises(NothingToUndoError):
        store.undo(doc.id)  # the created tree is where history starts


def test_new_change_after_undo_discards_redo_but_keeps_the_text(store: DocumentStore) -> None:
    doc = create(store)
    node = sentence(doc, "Short.")
    node = store.edit_text(node.id, "One.", expected_version=node.version)
    assert node.state is State.STALE  # text changed, no new concept given
    store.undo(doc.id)
    node = store.get_document(doc.id).node(node.id)
    store.edit_text(node.id, "Two.", expected_version=node.version)
    with pytest.raises(NothingToUndoError):
        store.redo(doc.id)
    assert [r.status for r in store.node_history(node.id)] == ["applied", "discarded", "applied"]
    assert store.node_history(node.id)[1].text == "One."


def test_two_tabs_editing_one_node_conflict_instead_of_losing_an_update(
    store: DocumentStore,
) -> None:
    doc = create(store)
    node = sentence(doc, "Short.")
    store.edit_text(node.id, "Tab one.", expected_version=node.version)
    with pytest.raises(ConflictError, match="changed elsewhere") as error:
        store.edit_text(node.id, "Tab two.", expected_version=node.version)
    assert (error.value.expected, error.value.actual) == (node.version, node.version + 1)
    assert store.get_document(doc.id).node(node.id).text == "Tab one."


def test_insert_move_indent_outdent_and_their_undo(store: DocumentStore) -> None:
    doc = create(store)
    first_paragraph = doc.nodes[1]
    new = store.insert_node(
        doc.id, NewNode("sentence", "Inserted.", emb(5)), parent_id=first_paragraph.id, position=1
    )
    assert new.position == 1 and new.depth == 2
    texts = lambda: [n.text for n in store.get_document(doc.id).sentences()]  # noqa: E731
    assert texts()[:3] == ["Concepts are sentences.", "Inserted.", "Models predict the next one."]
    moved = store.move_up(new.id, expected_version=new.version)
    assert moved.position == 0 and texts()[0] == "Inserted."
    with pytest.raises(InvalidMoveError, match="already the first"):
        store.move_up(new.id, expected_version=moved.version)
    second_paragraph = doc.nodes[4]
    indented = store.indent(second_paragraph.id, expected_version=second_paragraph.version)
    assert indented.parent_id == first_paragraph.id and indented.position == 3
    outdented = store.outdent(indented.id, expected_version=indented.version)
    assert outdented.parent_id == doc.nodes[0].id and outdented.position == 1
    before = store.export_markdown(doc.id)
    section = doc.nodes[0]
    with pytest.raises(InvalidMoveError, match="itself"):
        store.move_node(section.id, parent_id=first_paragraph.id, position=0, expected_version=None)
    store.move_node(section.id, parent_id=None, position=1, expected_version=None)
    assert store.export_markdown(doc.id).startswith("# Plan")
    store.undo(doc.id)
    assert store.export_markdown(doc.id) == before
    for _ in range(4):  # outdent, indent, move up, insert
        store.undo(doc.id)
    assert store.export_markdown(doc.id) == TEXT


def test_many_inserts_at_one_place_renumber_siblings_and_undo_restores_order(
    store: DocumentStore,
) -> None:
    doc = create(store, [NewNode("sentence", "First."), NewNode("sentence", "Last.")])
    for i in range(45):  # halving the key gap 45 times forces a renumbering
        store.insert_node(doc.id, NewNode("sentence", f"In {i}."), position=1)
    texts = [n.text for n in store.get_document(doc.id).nodes]
    assert texts == ["First.", *[f"In {i}." for i in reversed(range(45))], "Last."]
    assert [n.position for n in store.get_document(doc.id).nodes] == list(range(47))
    for _ in range(45):
        store.undo(doc.id)
    assert [n.text for n in store.get_document(doc.id).nodes] == ["First.", "Last."]


def test_soft_delete_hides_a_subtree_and_restore_brings_it_back(store: DocumentStore) -> None:
    doc = create(store)
    section = doc.nodes[0]
    store.delete_node(section.id, expected_version=section.version)
    assert [n.text for n in store.get_document(doc.id).nodes] == ["Plan", "Explain diffusion."]
    assert [n.id for n in store.deleted_nodes(doc.id)] == [section.id]
    store.restore_node(section.id)
    assert store.export_markdown(doc.id) == TEXT
    store.delete_node(section.id, expected_version=None)
    store.undo(doc.id)
    assert store.export_markdown(doc.id) == TEXT


def test_locked_nodes_refuse_content_changes_until_unlocked(store: DocumentStore) -> None:
    doc = create(store)
    node = sentence(doc, "Models predict the next one.")
    locked = store.lock_node(node.id, expected_version=node.version)
    assert locked.state is State.LOCKED and locked.locked
    with pytest.raises(LockedError, match="unlock"):
        store.edit_text(node.id, "No.", expected_version=locked.version)
    with pytest.raises(LockedError, match="locked"):
        store.delete_node(doc.nodes[0].id, expected_version=None)  # contains the locked node
    moved = store.move_up(node.id, expected_version=locked.version)  # moving is allowed
    unlocked = store.unlock_node(node.id, expected_version=moved.version)
    assert unlocked.state is State.OK
    assert store.edit_text(node.id, "Yes.", expected_version=unlocked.version).text == "Yes."


def test_variants_are_kept_and_accepting_one_is_undoable(store: DocumentStore) -> None:
    doc = create(store)
    node = sentence(doc, "Short.")
    variants = store.add_variants(
        node.id, [NewVariant(f"Alt {i}.", emb(100 + i), score=0.5 + i / 10) for i in range(4)]
    )
    assert [v.text for v in store.list_variants(node.id)] == [f"Alt {i}." for i in range(4)]
    assert store.get_document(doc.id).node(node.id).variant_count == 4
    accepted = store.accept_variant(node.id, variants[2].id, expected_version=node.version)
    assert (accepted.text, accepted.origin, accepted.edited) == ("Alt 2.", Origin.GENERATED, False)
    assert accepted.embedding.tobytes() == emb(102).tobytes()
    assert [v.accepted for v in store.list_variants(node.id)] == [False, False, True, False]
    store.undo(doc.id)
    assert store.get_document(doc.id).node(node.id).text == "Short."
    assert len(store.list_variants(node.id)) == 4  # alternatives stay after undo


def test_a_variant_keeps_the_temperature_it_was_drawn_at(store: DocumentStore) -> None:
    node = sentence(create(store), "Short.")
    store.add_variants(node.id, [NewVariant("Cold.", emb(7), temperature=0), NewVariant("Any.")])
    assert [v.temperature for v in store.list_variants(node.id)] == [0.0, None]


def test_downgrading_below_the_temperature_keeps_the_variants(sqlite_url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from storage.store import MIGRATIONS

    store = DocumentStore(sqlite_url)
    node = sentence(create(store), "Short.")
    store.add_variants(node.id, [NewVariant("Warm.", emb(8), temperature=0.7)])
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(sqlite_url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    engine.dispose()
    store.upgrade()
    try:
        (variant,) = store.list_variants(node.id)
        assert (variant.text, variant.temperature) == ("Warm.", None)
    finally:
        store.close()


def test_translation_cache_follows_the_concept_revision(store: DocumentStore) -> None:
    doc = create(store)
    node = sentence(doc, "Short.")
    assert store.get_translation(node.id, "fra_Latn") is None
    store.put_translation(node.id, "fra_Latn", "Court.", expected_version=node.version)
    assert store.get_translation(node.id, "fra_Latn") == "Court."
    assert store.get_translations(doc.id, "fra_Latn") == {node.id: "Court."}
    edited = store.set_embedding(node.id, emb(50), expected_version=node.version)
    assert store.get_translation(node.id, "fra_Latn") is None  # a new concept
    with pytest.raises(ConflictError):  # a decoding of the old concept is not cached
        store.put_translation(node.id, "fra_Latn", "Vieux.", expected_version=node.version)
    store.undo(doc.id)
    assert store.get_translation(node.id, "fra_Latn") == "Court."  # the old concept again
    assert edited.version > node.version


def test_replace_with_translation_keeps_the_concept(store: DocumentStore) -> None:
    doc = create(store)
    node = sentence(doc, "Short.")
    replaced = store.replace_with_translation(
        node.id, "Court.", language="fra_Latn", expected_version=node.version
    )
    assert (replaced.text, replaced.language, replaced.origin) == (
        "Court.",
        "fra_Latn",
        Origin.TRANSLATED,
    )
    assert replaced.embedding.tobytes() == node.embedding.tobytes()


def test_insert_nodes_adds_a_subtree_in_one_undo_step(store: DocumentStore) -> None:
    doc = create(store)
    outline = sentence(doc, "Explain diffusion.")
    added = store.insert_nodes(
        doc.id,
        [NewNode("sentence", f"Step {i}.", emb(60 + i), origin="generated") for i in range(5)],
        parent_id=outline.id,
    )
    assert [n.position for n in added] == list(range(5))
    assert store.export_markdown(doc.id).endswith(
        "- Explain diffusion.\n\n  Step 0. Step 1. Step 2. Step 3. Step 4.\n"
    )
    store.undo(doc.id)
    assert store.export_markdown(doc.id) == TEXT


def test_schema_is_at_head_and_reopening_is_harmless(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from storage.models import Base

    DocumentStore(db_url).close()
    store = DocumentStore(db_url, upgrade=False)
    store.upgrade()  # again: nothing to do
    store.close()
    engine = create_engine(db_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == "0004"
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_reading_window_holds_the_last_sentences_before_a_node_in_reading_order(
    store: DocumentStore,
) -> None:
    doc = create(store)
    short, plan = sentence(doc, "Short."), sentence(doc, "Explain diffusion.")
    window = store.reading_window(doc.id, plan.id, limit=2)
    assert window.node.id == plan.id and window.node.text == plan.text
    assert window.document.title == "Draft"
    assert [c.tolist() for c in window.concepts] == [emb(2).tolist(), emb(3).tolist()]
    assert store.reading_window(doc.id, short.id, limit=10).concepts[0].tolist() == emb(1).tolist()
    first = sentence(doc, "Concepts are sentences.")
    assert store.reading_window(doc.id, first.id, limit=10).concepts == ()
    other = create(store, title="Other")
    assert store.reading_window(other.id, plan.id, limit=2).node is None  # a foreign node
    store.delete_node(short.id, expected_version=None)
    assert len(store.reading_window(doc.id, plan.id, limit=9).concepts) == 2  # deleted: skipped


def test_a_level_longer_than_one_insert_keeps_its_order(store: DocumentStore, monkeypatch) -> None:  # noqa: ANN001
    from storage import tree

    monkeypatch.setattr(tree, "INSERT_CHUNK", 3)
    texts = [f"Sentence {i}." for i in range(8)]
    nodes = [NewNode("paragraph", "", children=[NewNode("sentence", t, emb(i))
                                                for i, t in enumerate(texts)])]  # fmt: skip
    doc = create(store, nodes + [NewNode("paragraph", "", children=[]) for _ in range(4)])
    reread = store.get_document(doc.id)
    assert [n.text for n in reread.nodes if n.kind is Kind.SENTENCE] == texts
    assert [n.embedding.tolist() for n in reread.nodes[1:9]] == [emb(i).tolist() for i in range(8)]
    assert len(reread.nodes) == 13
