"""Random sequences of edits, structure changes, undo and redo (hypothesis): undo always
returns to exactly the previous state, redo to the next, and the tree stays well formed."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from storage_helpers import DIM, emb

from storage import (
    DocumentStore,
    InvalidMoveError,
    LockedError,
    NewNode,
    NewVariant,
    NothingToUndoError,
)

ACTIONS = ("edit", "embed", "insert", "delete", "move_up", "move_down", "indent", "outdent")
ACTIONS += ("lock", "unlock", "accept", "undo", "redo", "undo")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentStore]:
    documents = DocumentStore(f"sqlite:///{tmp_path_factory.mktemp('history') / 'h.sqlite3'}")
    yield documents
    documents.close()


def snapshot(store: DocumentStore, document_id: int) -> tuple:
    """Everything a writer can see of the document, versions aside."""
    doc = store.get_document(document_id)
    return tuple(
        (n.id, n.parent_id, n.position, n.depth, n.kind, n.text, n.state, n.origin, n.edited)
        + (None if n.embedding is None else n.embedding.tobytes(),)
        for n in doc.nodes
    )


def apply(store: DocumentStore, document_id: int, action: str, pick: int, step: int) -> None:
    """Do `action` on the `pick`-th live node, or refuse with a typed error."""
    nodes = store.get_document(document_id).nodes
    if action == "insert" or not nodes:
        parent = nodes[pick % len(nodes)].parent_id if nodes else None
        new = NewNode("sentence", f"New {step}.", emb(step))
        store.insert_node(document_id, new, parent_id=parent, position=0)
        return
    node = nodes[pick % len(nodes)]
    if action == "edit":
        store.edit_text(node.id, f"Edit {step}.", expected_version=node.version)
    elif action == "embed":
        store.set_embedding(node.id, emb(1000 + step), expected_version=node.version)
    elif action == "delete":
        store.delete_node(node.id, expected_version=node.version)
    elif action == "accept":
        (variant,) = store.add_variants(node.id, [NewVariant(f"Alt {step}.", emb(2000 + step))])
        store.accept_variant(node.id, variant.id, expected_version=node.version)
    elif action in ("lock", "unlock"):
        getattr(store, f"{action}_node")(node.id, expected_version=node.version)
    else:
        getattr(store, action)(node.id, expected_version=node.version)


def assert_well_formed(store: DocumentStore, document_id: int) -> None:
    doc = store.get_document(document_id)
    positions = defaultdict(list)
    for node in doc.nodes:
        positions[node.parent_id].append(node.position)
        if node.parent_id is not None:
            assert doc.node(node.parent_id).depth == node.depth - 1
    assert all(p == list(range(len(p))) for p in positions.values())


@settings(max_examples=12, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 40)), max_size=16))
def test_undo_and_redo_walk_the_history_exactly(store: DocumentStore, steps) -> None:  # noqa: ANN001
    doc = store.create_document(
        "Walk",
        [
            NewNode(
                "section", "Head", children=[NewNode("sentence", f"S{i}.", emb(i)) for i in (1, 2)]
            )
        ]
        + [NewNode("outline", "Item", emb(9))],
        language="eng_Latn",
        codec_name="t",
        codec_dim=DIM,
    )
    states, at = [snapshot(store, doc.id)], 0
    for step, (action, pick) in enumerate(steps):
        if action in ("undo", "redo"):
            try:
                getattr(store, action)(doc.id)
            except NothingToUndoError:
                assert at == (0 if action == "undo" else len(states) - 1)
                continue
            at += -1 if action == "undo" else 1
            assert snapshot(store, doc.id) == states[at]
            continue
        version = store.get_document(doc.id).version
        with contextlib.suppress(InvalidMoveError, LockedError):  # refused: nothing changes
            apply(store, doc.id, action, pick, step)
        if store.get_document(doc.id).version != version:  # a change: a new undo step
            states, at = [*states[: at + 1], snapshot(store, doc.id)], at + 1
        assert snapshot(store, doc.id) == states[at]
        assert_well_formed(store, doc.id)
    for _ in range(at):
        store.undo(doc.id)
    assert snapshot(store, doc.id) == states[0]
