"""Building the frozen views from database rows (inside the transaction that read them)."""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import islice

from sqlalchemy import Row, and_, func, null, or_, select
from sqlalchemy.orm import Session

from storage import history, walk
from storage.models import ChangeStatus, Document, Node, Revision, Variant
from storage.types import (
    DocumentSummary,
    DocumentView,
    Kind,
    NodeView,
    ReadingWindow,
    RevisionView,
    State,
    VariantView,
)
from storage.validate import decode_embedding, fidelity_of


def state_of(locked: bool, stale: bool) -> State:
    return State.LOCKED if locked else State.STALE if stale else State.OK


# The node fields a view needs, in the order `_node` unpacks them.
VIEW_FIELDS = (
    "id",
    "document_id",
    "parent_id",
    "position_key",
    "kind",
    "text",
    "language",
    "embedding",
    "embedding_dtype",
    "origin",
    "stale",
    "locked",
    "edited",
    "version",
    "created_at",
    "updated_at",
    "reading",
    "reading_cosine",
    "reading_chrf",
    "nearest_id",
    "nearest_cosine",
)


def _node(values: tuple, position: int, depth: int, variant_count: int) -> NodeView:
    """A view from the VIEW_FIELDS values (positional: this runs once per node on load)."""
    (ident, document_id, parent_id, _, kind, text, language, embedding, dtype, origin) = values[:10]
    stale, locked, edited, version, created_at, updated_at = values[10:16]
    reading, reading_cosine, reading_chrf, nearest_id, nearest_cosine = values[16:]
    return NodeView(
        ident,
        document_id,
        parent_id,
        position,
        depth,
        kind,
        text,
        language,
        decode_embedding(embedding, dtype),
        origin,
        state_of(locked, stale),
        edited,
        version,
        created_at,
        updated_at,
        variant_count,
        fidelity_of(reading, reading_cosine, reading_chrf),
        nearest_id,
        nearest_cosine,
    )


def document_view(session: Session, doc: Document, *, with_embeddings: bool = True) -> DocumentView:
    """The document with its live nodes in reading order, from one query for the nodes.
    Without embeddings (enough to show or export the text) it reads far fewer bytes."""
    table = Node.__table__  # a Core query: 10,000 rows without ORM bookkeeping
    columns = [
        table.c[name] if with_embeddings or name != "embedding" else null().label(name)
        for name in VIEW_FIELDS
    ]
    query = select(*columns).where(table.c.document_id == doc.id, table.c.deleted.is_(False))
    counts = _variant_counts(session, doc.id)
    with _no_cycle_collection():
        nodes = [
            _node(row, position, depth, counts.get(row[0], 0))
            for row, depth, position in _reading_order(session.connection().execute(query).all())
        ]
    undo, redo = history.last_undoable(session, doc.id), history.first_redoable(session, doc.id)
    return DocumentView(
        **_document_fields(doc),
        nodes=tuple(nodes),
        undo_action=undo.action if undo else None,
        redo_action=redo.action if redo else None,
    )


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Building 10,000 views allocates some 100,000 objects, none of them in a cycle; the
    cyclic collector would walk every live object (models included) over and over while
    they are made, which cost more than the building itself at 10,000 nodes."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _reading_order(rows: Sequence[Row]) -> Iterator[tuple[tuple, int, int]]:
    """(row, depth, position among siblings) depth first, for rows whose first four
    values are (id, document_id, parent_id, position_key)."""
    children = defaultdict(list)
    for row in rows:
        children[row[2]].append(tuple(row))
    for siblings in children.values():
        siblings.sort(key=lambda values: (values[3], values[0]))  # (position_key, id)
    stack = [(row, 0, position) for position, row in reversed(list(enumerate(children[None])))]
    while stack:
        row, depth, position = stack.pop()
        yield row, depth, position
        below = children.get(row[0], ())
        stack.extend((child, depth + 1, i) for i, child in reversed(list(enumerate(below))))


def reading_window(session: Session, doc: Document, node_id: int, limit: int) -> ReadingWindow:
    """The node, the concepts of the last `limit` live sentences before it in reading
    order (what the LCM reads to propose the node) and of the first sentence after it
    (what a proposal should lead on to); for a node that is not live in `doc`, None and
    the last `limit` sentences of the document. Reading order is walked outward from the
    node (storage/walk.py) and only `limit` + 1 embeddings are read, so its cost is the
    nodes within the window and the node's depth, not the length of the document."""
    start = walk.path(session, doc.id, node_id)
    sentences = (
        step.id for step in walk.before(session, doc.id, start) if step.kind is Kind.SENTENCE
    )
    before = list(islice(sentences, limit))[::-1]
    following = () if start is None else walk.after(session, doc.id, start)
    after = next((step.id for step in following if step.kind is Kind.SENTENCE), None)
    ids = before + ([after] if after is not None else [])
    rows = session.execute(
        select(Node.id, Node.embedding, Node.embedding_dtype).where(Node.id.in_(ids))
    )
    by_id = {ident: decode_embedding(blob, dtype) for ident, blob, dtype in rows}
    node = None if start is None else session.get_one(Node, node_id)
    return ReadingWindow(
        document=summary(doc, node_count=0),
        node=None if node is None else node_view(session, node),
        concepts=tuple(by_id[i] for i in before if by_id[i] is not None),
        after=None if after is None else by_id[after],
    )


def _variant_counts(session: Session, document_id: int) -> dict[int, int]:
    rows = session.execute(
        select(Variant.node_id, func.count())
        .join(Node, Variant.node_id == Node.id)
        .where(Node.document_id == document_id)
        .group_by(Variant.node_id)
    )
    return {node_id: count for node_id, count in rows}


def node_view(session: Session, node: Node) -> NodeView:
    """One node's view: its index among live siblings, its depth, its variant count."""
    session.flush()
    same_parent = (
        Node.parent_id.is_(None) if node.parent_id is None else Node.parent_id == node.parent_id
    )
    position = session.scalar(
        select(func.count()).where(
            Node.document_id == node.document_id,
            same_parent,
            Node.deleted.is_(False),
            or_(
                Node.position_key < node.position_key,
                and_(Node.position_key == node.position_key, Node.id < node.id),
            ),
        )
    )
    depth, parent_id = 0, node.parent_id
    while parent_id is not None:
        depth += 1
        parent_id = session.scalar(select(Node.parent_id).where(Node.id == parent_id))
    count = session.scalar(select(func.count()).where(Variant.node_id == node.id))
    values = tuple(getattr(node, name) for name in VIEW_FIELDS)
    return _node(values, position or 0, depth, count or 0)


def summary(doc: Document, node_count: int) -> DocumentSummary:
    return DocumentSummary(**_document_fields(doc), node_count=node_count)


def _document_fields(doc: Document) -> dict:
    """What a document's summary and its full view both show."""
    return {
        "id": doc.id,
        "title": doc.title,
        "language": doc.language,
        "codec_name": doc.codec_name,
        "codec_dim": doc.codec_dim,
        "created_at": doc.created_at,
        "updated_at": doc.updated_at,
        "version": doc.version,
        "deleted": doc.deleted_at is not None,
    }


def variant_view(variant: Variant) -> VariantView:
    return VariantView(
        id=variant.id,
        node_id=variant.node_id,
        text=variant.text,
        embedding=decode_embedding(variant.embedding, variant.embedding_dtype),
        language=variant.language,
        score=variant.score,
        created_at=variant.created_at,
        accepted=variant.accepted,
        follows=variant.follows,
        leads_on=variant.leads_on,
        temperature=variant.temperature,
    )


def revision_view(revision: Revision, status: ChangeStatus) -> RevisionView:
    return RevisionView(
        id=revision.id,
        node_id=revision.node_id,
        action=revision.action,
        text=revision.text,
        language=revision.language,
        embedding=decode_embedding(revision.embedding, revision.embedding_dtype),
        origin=revision.origin,
        state=state_of(revision.locked, revision.stale),
        edited=revision.edited,
        deleted=revision.deleted,
        created_at=revision.created_at,
        status=status.value,
        fidelity=fidelity_of(revision.reading, revision.reading_cosine, revision.reading_chrf),
    )
