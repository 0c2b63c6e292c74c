"""Changes and revisions: recording every change to a node, and undo/redo per document.

Each user action is one `Change` (the undo unit) with one `Revision` per node it touched,
holding the node's full state after the action. Undo restores, for each touched node, its
latest revision from an earlier still-applied change (or hides a node the change created);
redo writes the change's own revisions back. A new change discards what could be redone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import SNAPSHOT_FIELDS, Change, ChangeStatus, Document, Node, Revision
from storage.types import ChangeView

SHIFT = "shift"  # a revision that only records a sibling renumbering


def begin_change(
    session: Session, doc: Document, action: str, now: datetime, *, undoable: bool = True
) -> Change:
    session.execute(
        update(Change)
        .where(Change.document_id == doc.id, Change.status == ChangeStatus.UNDONE)
        .values(status=ChangeStatus.DISCARDED)
    )
    doc.last_seq += 1
    doc.version += 1
    doc.updated_at = now
    change = Change(
        document_id=doc.id,
        seq=doc.last_seq,
        action=action,
        status=ChangeStatus.APPLIED,
        undoable=undoable,
        created_at=now,
    )
    session.add(change)
    session.flush()
    return change


def record(session: Session, change: Change, node: Node, action: str, now: datetime) -> None:
    """Snapshot `node` as changed by `change`; a real change (not a shift) bumps its version."""
    if action != SHIFT:
        node.version += 1
        node.updated_at = now
    session.add(snapshot_revision(change.id, node.id, action, now, node))


def snapshot_revision(
    change_id: int, node_id: int, action: str, now: datetime, state: object
) -> Revision:
    """A revision of `state` (a Node, or anything with the snapshot fields as attributes)."""
    fields = {name: getattr(state, name) for name in SNAPSHOT_FIELDS}
    return Revision(change_id=change_id, node_id=node_id, action=action, created_at=now, **fields)


def last_undoable(session: Session, document_id: int) -> Change | None:
    return session.scalars(
        select(Change)
        .where(
            Change.document_id == document_id,
            Change.status == ChangeStatus.APPLIED,
            Change.undoable.is_(True),
        )
        .order_by(Change.seq.desc())
        .limit(1)
    ).first()


def first_redoable(session: Session, document_id: int) -> Change | None:
    return session.scalars(
        select(Change)
        .where(Change.document_id == document_id, Change.status == ChangeStatus.UNDONE)
        .order_by(Change.seq)
        .limit(1)
    ).first()


def undo(session: Session, doc: Document, change: Change, now: datetime) -> ChangeView:
    node_ids = _touched(session, change)
    for node_id in node_ids:
        node = session.get_one(Node, node_id)
        previous = session.scalars(
            select(Revision)
            .join(Change, Revision.change_id == Change.id)
            .where(
                Revision.node_id == node_id,
                Change.document_id == doc.id,
                Change.status == ChangeStatus.APPLIED,
                Change.seq < change.seq,
            )
            .order_by(Change.seq.desc(), Revision.id.desc())
            .limit(1)
        ).first()
        if previous is None:  # the change created this node
            node.deleted = True
        else:
            _restore(node, previous)
        node.version += 1
        node.updated_at = now
    change.status = ChangeStatus.UNDONE
    return _finish(doc, change, node_ids, now)


def redo(session: Session, doc: Document, change: Change, now: datetime) -> ChangeView:
    node_ids = _touched(session, change)
    for node_id in node_ids:
        node = session.get_one(Node, node_id)
        latest = session.scalars(
            select(Revision)
            .where(Revision.change_id == change.id, Revision.node_id == node_id)
            .order_by(Revision.id.desc())
            .limit(1)
        ).one()
        _restore(node, latest)
        node.version += 1
        node.updated_at = now
    change.status = ChangeStatus.APPLIED
    return _finish(doc, change, node_ids, now)


def _touched(session: Session, change: Change) -> list[int]:
    ids = session.scalars(
        select(Revision.node_id).where(Revision.change_id == change.id).order_by(Revision.id)
    )
    return list(dict.fromkeys(ids))


def _restore(node: Node, revision: Revision) -> None:
    for name in SNAPSHOT_FIELDS:
        setattr(node, name, getattr(revision, name))


def _finish(doc: Document, change: Change, node_ids: list[int], now: datetime) -> ChangeView:
    doc.version += 1
    doc.updated_at = now
    return ChangeView(change.seq, change.action, tuple(node_ids), change.created_at)
