"""Round trips measured after the change that stored a text: a long import stores its
sentences at once and leaves their read-back (decoding each concept, a model's work) to
the background, which finds them here and fills them in.

Filling one in is not a change: no revision, no version, nothing to undo. It writes the
node and every revision of it that holds the same text and concept and no round trip, so
undo and redo bring back a reading that matches the text they restore. A node whose text
changed since it was read keeps what its change measured."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import ColumnElement, and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from storage.models import Node, Revision
from storage.types import Fidelity, Origin, UnreadNode
from storage.validate import decode_embedding, fidelity_columns

_NODES, _REVISIONS = Node.__table__, Revision.__table__


def _unread(origins: Collection[Origin], languages: Collection[str]) -> ColumnElement[bool]:
    """Live nodes whose text is the truth, with a concept that matches it, in a language
    that can be read back, never read back."""
    return and_(
        _NODES.c.language.in_(list(languages)),
        _NODES.c.reading.is_(None),
        _NODES.c.embedding.is_not(None),
        _NODES.c.stale.is_(False),
        _NODES.c.deleted.is_(False),
        _NODES.c.origin.in_(list(origins)),
    )


def unread(
    session: Session,
    origins: Collection[Origin],
    languages: Collection[str],
    after: int,
    limit: int,
) -> list[UnreadNode]:
    columns = ("id", "document_id", "text", "language", "embedding", "embedding_dtype")
    rows = session.connection().execute(
        select(*(_NODES.c[name] for name in columns))
        .where(_NODES.c.id > after, _unread(origins, languages))
        .order_by(_NODES.c.id)
        .limit(limit)
    )
    return [
        UnreadNode(
            r.id,
            r.document_id,
            r.text,
            r.language,
            decode_embedding(r.embedding, r.embedding_dtype),
        )
        for r in rows
    ]


def count_unread(
    session: Session, document_id: int, origins: Collection[Origin], languages: Collection[str]
) -> int:
    query = select(func.count()).where(
        _NODES.c.document_id == document_id, _unread(origins, languages)
    )
    return session.connection().execute(query).scalar_one()


def fill(session: Session, trips: Sequence[tuple[UnreadNode, Fidelity]]) -> None:
    """Store each node's round trip, measured with the text and concept it was read with."""
    if not trips:
        return
    values = [
        {"node": node.id, "read_text": node.text, "concept": node.embedding.tobytes()}
        | {f"new_{name}": value for name, value in fidelity_columns(fidelity).items()}
        for node, fidelity in trips
    ]
    readings = {
        name: bindparam(f"new_{name}") for name in ("reading", "reading_cosine", "reading_chrf")
    }
    for table, key in ((_NODES, _NODES.c.id), (_REVISIONS, _REVISIONS.c.node_id)):
        session.connection().execute(
            update(table)
            .where(
                key == bindparam("node"),
                table.c.text == bindparam("read_text"),
                table.c.embedding == bindparam("concept"),
                table.c.reading.is_(None),
            )
            .values(**readings),
            values,
        )
