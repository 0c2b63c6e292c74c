"""What the store keeps for the concept checks: each node's round trip (with the revision
it describes, so undo and redo bring back the matching one) and each sentence's nearest
other sentence (kept by every change, undo and redo included, in the same transaction)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, inspect
from storage_helpers import DIM, emb
from test_storage_history import ACTIONS, apply

from storage import (
    DocumentStore,
    Fidelity,
    InvalidInputError,
    InvalidMoveError,
    LockedError,
    NewNode,
    NewVariant,
    NothingToUndoError,
)

READ_WELL = Fidelity("A cat sat.", 0.98, 91.5)
MISREAD = Fidelity("A hat spat.", 0.41, 22.0)


def brute_force_nearest(store: DocumentStore, document_id: int) -> dict[int, tuple[int, float]]:
    """Each live sentence's nearest other live sentence with a concept among the
    `store.neighbourhood` sentences on either side in reading order, from scratch."""
    sentences = list(store.get_document(document_id).sentences())
    found = {}
    for i, node in enumerate(sentences):
        if node.embedding is None:
            continue
        near = sentences[max(i - store.neighbourhood, 0) : i + store.neighbourhood + 1]
        others = [n for n in near if n.id != node.id and n.embedding is not None]
        if not others:
            continue
        vectors = np.stack([n.embedding for n in [node, *others]]).astype(np.float64)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        similarity = vectors[1:] @ vectors[0]
        best = int(similarity.argmax())
        found[node.id] = (others[best].id, similarity[best])
    return found


def stored_nearest(store: DocumentStore, document_id: int) -> dict[int, tuple[int, float]]:
    doc = store.get_document(document_id)
    assert all(n.nearest_id is None for n in doc.nodes if n.kind.value != "sentence")
    return {n.id: (n.nearest_id, n.nearest_cosine) for n in doc.sentences() if n.nearest_id}


def assert_nearest_is_current(store: DocumentStore, document_id: int) -> None:
    expected, stored = brute_force_nearest(store, document_id), stored_nearest(store, document_id)
    assert stored.keys() == expected.keys()
    for node_id, (other, cosine) in expected.items():
        assert stored[node_id][1] == pytest.approx(cosine, abs=1e-9)
        if stored[node_id][0] != other:  # a tie: both are nearest
            assert brute_force_nearest(store, document_id)[node_id][1] == pytest.approx(cosine)


def paragraph(*sentences: tuple[str, np.ndarray]) -> NewNode:
    return NewNode("paragraph", "", children=[NewNode("sentence", t, e) for t, e in sentences])


def create(store: DocumentStore, nodes: list[NewNode]) -> int:
    doc = store.create_document("Checks", nodes, language="eng_Latn", codec_name="t", codec_dim=DIM)
    return doc.id


def test_round_trip_is_stored_with_its_revision_and_undo_brings_back_the_matching_one(
    store: DocumentStore,
) -> None:
    doc_id = create(store, [NewNode("sentence", "A cat sat.", emb(1), fidelity=READ_WELL)])
    node = store.get_document(doc_id).nodes[0]
    assert node.fidelity == READ_WELL
    edited = store.edit_text(
        node.id, "A hat spat.", expected_version=node.version, embedding=emb(2), fidelity=MISREAD
    )
    assert edited.fidelity == MISREAD
    assert [r.fidelity for r in store.node_history(node.id)] == [READ_WELL, MISREAD]
    store.undo(doc_id)
    assert store.get_document(doc_id).nodes[0].fidelity == READ_WELL  # no stale badge
    store.redo(doc_id)
    node = store.get_document(doc_id).nodes[0]
    assert node.fidelity == MISREAD
    # New text without its concept: the old round trip no longer describes it.
    node = store.edit_text(node.id, "Other words.", expected_version=node.version)
    assert node.fidelity is None
    node = store.set_embedding(node.id, emb(3), expected_version=node.version, fidelity=READ_WELL)
    assert node.fidelity == READ_WELL
    # An accepted variant's text is its concept's own decoding: nothing to compare.
    (variant,) = store.add_variants(node.id, [NewVariant("Alt.", emb(4), follows=0.7)])
    assert (variant.follows, variant.leads_on) == (0.7, None)
    assert store.accept_variant(node.id, variant.id, expected_version=node.version).fidelity is None
    store.undo(doc_id)
    assert store.get_document(doc_id).nodes[0].fidelity == READ_WELL


def test_a_round_trip_that_cannot_be_stored_is_refused(store: DocumentStore) -> None:
    with pytest.raises(InvalidInputError, match="finite"):
        create(store, [NewNode("sentence", "A.", emb(1), fidelity=Fidelity("A.", np.nan, 1.0))])
    with pytest.raises(InvalidInputError, match="NUL"):
        create(store, [NewNode("sentence", "A.", emb(1), fidelity=Fidelity("\x00", 1.0, 1.0))])


def test_a_paraphrase_pair_points_both_ways_and_undo_restores_the_pair(
    store: DocumentStore,
) -> None:
    base = emb(10)
    near = base + 0.05 * emb(11)
    doc_id = create(
        store,
        [
            paragraph(("The cat sat.", base), ("Rain fell.", emb(12))),
            paragraph(("A cat was sitting.", near), ("Bread rose.", emb(13))),
        ],
    )
    doc = store.get_document(doc_id)
    cat, rain, sitting, bread = list(doc.sentences())
    assert cat.nearest_id == sitting.id and sitting.nearest_id == cat.id
    assert cat.nearest_cosine == pytest.approx(sitting.nearest_cosine) and cat.nearest_cosine > 0.99
    assert_nearest_is_current(store, doc_id)
    # Changing one sentence changes its partner's neighbour in the same transaction.
    store.edit_text(sitting.id, "Snow.", expected_version=sitting.version, embedding=-base)
    assert store.get_document(doc_id).node(cat.id).nearest_id != sitting.id
    assert_nearest_is_current(store, doc_id)
    store.undo(doc_id)
    assert store.get_document(doc_id).node(cat.id).nearest_id == sitting.id
    assert_nearest_is_current(store, doc_id)
    # Deleting the paragraph holding the partner, then undoing it.
    second = store.get_document(doc_id).node(sitting.parent_id)
    store.delete_node(second.id, expected_version=second.version)
    assert store.get_document(doc_id).node(cat.id).nearest_id == rain.id
    assert_nearest_is_current(store, doc_id)
    store.undo(doc_id)
    assert store.get_document(doc_id).node(cat.id).nearest_id == sitting.id
    assert_nearest_is_current(store, doc_id)
    store.redo(doc_id)
    assert_nearest_is_current(store, doc_id)
    assert bread.id not in stored_nearest(store, doc_id)


@pytest.fixture(scope="module")
def walk_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentStore]:
    # Two sentences each side: the random walks cross neighbourhoods' edges.
    path = tmp_path_factory.mktemp("nearest") / "n.sqlite3"
    documents = DocumentStore(f"sqlite:///{path}", neighbourhood=2)
    yield documents
    documents.close()


@settings(max_examples=12, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 40)), max_size=16))
def test_nearest_sentences_match_a_recomputation_after_every_change(
    walk_store: DocumentStore,
    steps,  # noqa: ANN001
) -> None:
    doc_id = create(
        walk_store,
        [
            paragraph(*((f"S{i}.", emb(i)) for i in range(4))),
            NewNode("section", "Head", children=[paragraph(("T.", emb(5)), ("U.", emb(6)))]),
        ],
    )
    for step, (action, pick) in enumerate(steps):
        with contextlib.suppress(InvalidMoveError, LockedError, NothingToUndoError):
            if action in ("undo", "redo"):
                getattr(walk_store, action)(doc_id)
            else:
                apply(walk_store, doc_id, action, pick, step)
        assert_nearest_is_current(walk_store, doc_id)


def test_upgrade_from_the_first_schema_keeps_the_documents(sqlite_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from storage.store import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(sqlite_url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.exec_driver_sql(
            "INSERT INTO documents (id, title, language, codec_name, codec_dim, created_at,"
            " updated_at, version, last_seq) VALUES (1, 'Old', 'eng_Latn', 't', 16,"
            " '2026-01-01', '2026-01-01', 1, 0)"
        )
    engine.dispose()
    store = DocumentStore(sqlite_url)
    try:
        assert [d.title for d in store.list_documents()] == ["Old"]
        columns = {c["name"] for c in inspect(create_engine(sqlite_url)).get_columns("nodes")}
        assert {"reading", "reading_chrf", "nearest_id", "nearest_cosine"} <= columns
    finally:
        store.close()
