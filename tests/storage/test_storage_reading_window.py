"""The reading window walks outward from its node (storage/walk.py) instead of ordering the
whole document: on nested outlines, after deletes, moves, undo and ties of sort keys, it
finds what the full reading order (`views._reading_order` over every row) finds, and the
work SQLite does for it and for add_variants does not grow with the document."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, event, select, update
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool
from storage_helpers import DIM, emb

from storage import (
    DocumentStore,
    InvalidInputError,
    InvalidMoveError,
    Kind,
    LockedError,
    NewNode,
    NewVariant,
    NothingToUndoError,
    walk,
)
from storage.models import Node
from storage.views import _reading_order

LIMITS = (0, 1, 2, 3, 5, 100)


@pytest.fixture(scope="module")
def walk_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentStore]:
    documents = DocumentStore(f"sqlite:///{tmp_path_factory.mktemp('walk') / 'w.sqlite3'}")
    yield documents
    documents.close()


@pytest.fixture(scope="module")
def engine(walk_store: DocumentStore) -> Iterator[Engine]:
    """A second connection to the same file, to read it as the reference does."""
    reader = create_engine(walk_store.url)
    yield reader
    reader.dispose()


@pytest.fixture
def reader(store: DocumentStore) -> Iterator[Engine]:
    """The same for `store` (SQLite, and PostgreSQL where configured)."""
    connection = create_engine(store.url)
    yield connection
    connection.dispose()


def reading_order(engine: Engine, document_id: int) -> list[tuple]:
    """Every live node's (id, document_id, parent_id, position_key, kind) in reading
    order, from all the document's rows at once: what reading_window did before #18."""
    table = Node.__table__
    columns = ("id", "document_id", "parent_id", "position_key", "kind")
    query = select(*(table.c[name] for name in columns)).where(
        table.c.document_id == document_id, table.c.deleted.is_(False)
    )
    with engine.connect() as connection:
        return [row for row, _, _ in _reading_order(connection.execute(query).all())]


def expected_window(
    order: list[tuple], node_id: int, limit: int
) -> tuple[int | None, list[int], int | None]:
    """(node id or None, the sentence ids before it, the sentence id after it)."""
    ids = [row[0] for row in order]
    at = ids.index(node_id) if node_id in ids else len(order)
    before = [row[0] for row in order[:at] if row[4] is Kind.SENTENCE]
    after = next((row[0] for row in order[at + 1 :] if row[4] is Kind.SENTENCE), None)
    return (node_id if at < len(order) else None), (before[-limit:] if limit else []), after


def assert_window(
    store: DocumentStore, engine: Engine, doc_id: int, node_id: int, limit: int
) -> None:
    """reading_window(node_id, limit) holds exactly the reference's node and concepts."""
    node, before, after = expected_window(reading_order(engine, doc_id), node_id, limit)
    concepts = {n.id: n.embedding for n in store.get_document(doc_id).nodes}
    window = store.reading_window(doc_id, node_id, limit)
    assert (window.node.id if window.node else None) == node
    expected = [concepts[i].tolist() for i in before if concepts[i] is not None]
    assert [c.tolist() for c in window.concepts] == expected
    following = None if after is None else concepts[after]
    assert listed(window.after) == listed(following)


def listed(concept: np.ndarray | None) -> list[float] | None:
    return None if concept is None else concept.tolist()


def assert_walks(engine: Engine, doc_id: int, node_ids: list[int]) -> None:
    """`walk.before` and `walk.after` list the whole rest of the reading order, each node
    once, for every node; a node that is not live has no path."""
    ids = [row[0] for row in reading_order(engine, doc_id)]
    with Session(engine) as session:
        assert [s.id for s in walk.before(session, doc_id, None)] == ids[::-1]
        for node_id in node_ids:
            path = walk.path(session, doc_id, node_id)
            if node_id not in ids:
                assert path is None
                continue
            at = ids.index(node_id)
            assert [s.id for s in walk.before(session, doc_id, path)] == ids[:at][::-1]
            assert [s.id for s in walk.after(session, doc_id, path)] == ids[at + 1 :]


def create(store: DocumentStore, nodes: list[NewNode], title: str = "Outline"):  # noqa: ANN201
    return store.create_document(
        title, nodes, language="eng_Latn", codec_name="test", codec_dim=DIM
    )


def outline() -> list[NewNode]:
    """Sections holding outline items and paragraphs, sentences under both, a sentence
    without a concept yet, an empty paragraph and a sentence at the top level."""
    return [
        NewNode("section", "Plan", emb(100), children=[
            NewNode("outline", "Why", emb(101), children=[
                NewNode("sentence", "One.", emb(1)),
                NewNode("sentence", "Two.", emb(2)),
            ]),
            NewNode("paragraph", "", children=[
                NewNode("sentence", "Three.", emb(3)),
                NewNode("sentence", "Not encoded yet."),
                NewNode("sentence", "Four.", emb(4)),
            ]),
            NewNode("paragraph", ""),
        ]),
        NewNode("section", "Method", emb(102), children=[
            NewNode("paragraph", "", children=[
                NewNode("sentence", "Five.", emb(5)),
                NewNode("sentence", "Six.", emb(6)),
            ]),
            NewNode("outline", "Then", emb(103)),
        ]),
        NewNode("sentence", "Seven.", emb(7)),
    ]  # fmt: skip


def test_window_matches_the_full_reading_order_on_a_nested_outline(
    store: DocumentStore, reader: Engine
) -> None:
    doc = create(store, outline())
    other = create(store, outline(), title="Other")
    by_text = {n.text: n for n in doc.nodes if n.text}
    first, last = by_text["One."], by_text["Seven."]

    def check_every_node() -> None:
        ids = [n.id for n in doc.nodes] + [other.nodes[3].id, 10**9]  # foreign, missing
        for node_id in ids:
            for limit in LIMITS:
                assert_window(store, reader, doc.id, node_id, limit)
        assert_walks(reader, doc.id, ids)

    check_every_node()
    window = store.reading_window(doc.id, first.id, 100)
    assert window.concepts == () and window.after.tolist() == emb(2).tolist()
    window = store.reading_window(doc.id, last.id, 2)
    assert window.after is None and [c.tolist() for c in window.concepts] == [
        emb(5).tolist(),
        emb(6).tolist(),
    ]
    assert store.reading_window(doc.id, by_text["Four."].id, 0).concepts == ()

    store.move_node(
        by_text["Two."].id, parent_id=by_text["Then"].id, position=0, expected_version=None
    )
    store.move_node(by_text["Method"].id, parent_id=None, position=0, expected_version=None)
    store.delete_node(by_text["Why"].id, expected_version=None)  # "One." goes with it
    store.delete_node(by_text["Six."].id, expected_version=None)
    check_every_node()
    window = store.reading_window(doc.id, by_text["One."].id, 3)  # under a deleted item
    assert window.node is None
    # The last 3 sentences: one has no concept yet, so it counts but gives none.
    assert [c.tolist() for c in window.concepts] == [emb(i).tolist() for i in (4, 7)]
    assert window.after is None
    store.undo(doc.id)  # "Six." is back
    check_every_node()


def test_window_refuses_a_negative_limit(walk_store: DocumentStore) -> None:
    doc = create(walk_store, outline())
    with pytest.raises(InvalidInputError, match="limit"):
        walk_store.reading_window(doc.id, doc.nodes[0].id, -1)


KINDS = st.sampled_from(["section", "outline", "paragraph", "sentence", "sentence"])
# Each node: (which earlier node is its parent, or the top level; kind; has a concept).
SHAPES = st.lists(st.tuples(st.integers(0, 10**6), KINDS, st.booleans()), min_size=1, max_size=24)
CHANGES = st.lists(
    st.tuples(
        st.sampled_from(["delete", "move", "tie", "undo", "restore"]),
        st.integers(0, 10**6),
        st.integers(0, 10**6),
        st.integers(0, 10**6),
    ),
    max_size=8,
)


def random_forest(shape: list[tuple[int, str, bool]]) -> list[NewNode]:
    """Node i hangs under node (pick mod i + 1), or at the top level when that is i."""
    children: dict[int | None, list[int]] = {}
    for i, (pick, _, _) in enumerate(shape):
        parent = pick % (i + 1)
        children.setdefault(None if parent == i else parent, []).append(i)

    def build(i: int) -> NewNode:
        _, kind, encoded = shape[i]
        below = [build(j) for j in children.get(i, [])]
        return NewNode(kind, f"Node {i}.", emb(i) if encoded else None, children=below)

    return [build(i) for i in children.get(None, [])]


def change(
    store: DocumentStore,
    engine: Engine,
    doc_id: int,
    ids: list[int],
    step: tuple[str, int, int, int],
) -> None:
    """Delete, move, restore or undo, or give a node a sibling's sort key (written
    directly: the order then falls back on the ids); refusals change nothing."""
    action, a, b, c = step
    node = ids[a % len(ids)]
    refused = (InvalidMoveError, InvalidInputError, LockedError, NothingToUndoError)
    with contextlib.suppress(*refused):
        if action == "delete":
            store.delete_node(node, expected_version=None)
        elif action == "restore":
            store.restore_node(node)
        elif action == "undo":
            store.undo(doc_id)
        elif action == "move":
            parent = None if c % 3 == 0 else ids[b % len(ids)]
            store.move_node(node, parent_id=parent, position=c % 4, expected_version=None)
        else:
            with Session(engine) as session, session.begin():
                parent = session.get_one(Node, node).parent_id
                keys = session.scalars(
                    select(Node.position_key).where(
                        Node.document_id == doc_id,
                        Node.parent_id.is_(None) if parent is None else Node.parent_id == parent,
                    )
                ).all()
                key = keys[b % len(keys)]
                session.execute(update(Node).where(Node.id == node).values(position_key=key))


@settings(max_examples=50, deadline=None, derandomize=True, database=None)
@given(SHAPES, CHANGES)
def test_bounded_walk_matches_the_full_reading_order_on_random_trees(
    walk_store: DocumentStore,
    engine: Engine,
    shape: list[tuple[int, str, bool]],
    changes: list[tuple[str, int, int, int]],
) -> None:
    doc = create(walk_store, random_forest(shape))
    ids = [n.id for n in doc.nodes]
    for step in changes:
        change(walk_store, engine, doc.id, ids, step)
    for i, node_id in enumerate(ids):
        assert_window(walk_store, engine, doc.id, node_id, LIMITS[i % len(LIMITS)])
    assert_walks(engine, doc.id, ids)


def test_small_batches_walk_the_same_order(
    store: DocumentStore, reader: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sibling runs longer than a batch are fetched in several (growing) batches."""
    monkeypatch.setattr(walk, "FIRST_BATCH", 1)
    monkeypatch.setattr(walk, "LARGEST_BATCH", 2)
    flat = [NewNode("sentence", f"S{i}.", emb(i)) for i in range(9)]
    doc = create(store, [*flat[:3], NewNode("paragraph", "", children=flat[3:8]), flat[8]])
    ids = [n.id for n in doc.nodes]
    assert_walks(reader, doc.id, ids)
    for node_id in ids:
        for limit in LIMITS:
            assert_window(store, reader, doc.id, node_id, limit)


def sqlite_steps(action) -> int:  # noqa: ANN001
    """SQLite virtual-machine steps that `action` makes: the work of its statements, the
    same on every run, unlike time."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0  # go on

    def on_checkout(dbapi_connection, _record, _proxy) -> None:  # noqa: ANN001
        dbapi_connection.set_progress_handler(count, 1)

    def on_checkin(dbapi_connection, _record) -> None:  # noqa: ANN001
        if dbapi_connection is not None:
            dbapi_connection.set_progress_handler(None, 1)

    event.listen(Pool, "checkout", on_checkout)
    event.listen(Pool, "checkin", on_checkin)
    try:
        action()
    finally:
        event.remove(Pool, "checkout", on_checkout)
        event.remove(Pool, "checkin", on_checkin)
    return steps[0]


def test_regenerate_reads_do_not_grow_with_the_document(sqlite_url: str) -> None:
    """The window and add_variants cost the same after 20 sections of 4 sentences as after
    200 (the whole-document read the window made before #18 took 8 times the steps)."""
    store = DocumentStore(sqlite_url)

    def document(sections: int):  # noqa: ANN202
        rng = np.random.default_rng(sections)
        return create(store, [
            NewNode("section", f"Section {s}", children=[NewNode("paragraph", "", children=[
                NewNode("sentence", f"Sentence {s}.{i}.", rng.standard_normal(DIM))
                for i in range(4)
            ])])
            for s in range(sections)
        ])  # fmt: skip

    costs = []
    for sections in (20, 200):
        doc = document(sections)
        node = [n for n in doc.nodes if n.kind is Kind.SENTENCE][-2]
        variants = [NewVariant(f"Other {i}.", emb(i)) for i in range(4)]
        window = store.reading_window(doc.id, node.id, 10)
        assert len(window.concepts) == 10 and window.after is not None
        costs.append(
            (
                sqlite_steps(lambda: store.reading_window(doc.id, node.id, 10)),  # noqa: B023
                sqlite_steps(lambda: store.add_variants(node.id, variants)),  # noqa: B023
            )
        )
    store.close()
    (small_window, small_variants), (big_window, big_variants) = costs
    assert big_window <= small_window * 1.05
    assert big_variants <= small_variants * 1.05
