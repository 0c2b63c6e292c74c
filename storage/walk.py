"""Reading order walked outward from one node, a batch of siblings per indexed query
(ix_nodes_siblings: document_id, parent_id, position_key), so what a regenerate reads
around a node costs the nodes it passes and the depth of the tree, not the length of the
document (`views._reading_order` is the same order over all rows in memory).

Reading order is depth first over live nodes, siblings by (position_key, id); a deleted
node hides its subtree. Each sibling row says whether the node has live children, so a
walk queries the children of containers only, never those of sentences."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import NamedTuple

from sqlalchemy import Select, bindparam, exists, select, tuple_
from sqlalchemy.orm import Session

from storage.models import Node
from storage.types import Kind

# Siblings per query: the first batch is small (a window usually ends a few nodes away),
# then it doubles, so a long run of siblings costs a few queries too.
FIRST_BATCH, LARGEST_BATCH = 16, 1024

_NODES = Node.__table__  # Core statements: no ORM bookkeeping on a walk
_PLACE = select(
    *(_NODES.c[name] for name in ("id", "parent_id", "position_key", "kind", "document_id")),
    _NODES.c.deleted,
).where(_NODES.c.id == bindparam("id"))


class Step(NamedTuple):
    """A node met on a walk: where it sits, its kind, whether it has live children."""

    id: int
    parent_id: int | None
    position_key: int
    kind: Kind
    has_children: bool


def path(session: Session, document_id: int, node_id: int) -> list[Step] | None:
    """The node and its ancestors, the node first; None unless it is a live node of
    the document (it and every ancestor not deleted). One primary-key read per level."""
    found: list[Step] = []
    ident: int | None = node_id
    while ident is not None:
        row = session.connection().execute(_PLACE, {"id": ident}).one_or_none()
        if row is None or row.document_id != document_id or row.deleted:
            return None
        found.append(Step(row.id, row.parent_id, row.position_key, row.kind, False))
        ident = row.parent_id
    return found


def before(session: Session, document_id: int, start: list[Step] | None) -> Iterator[Step]:
    """The live nodes before `start[0]` (a `path`) in reading order, nearest first:
    the previous siblings' subtrees from their last nodes, then the parent, and so on
    up. `start` None: the whole document from its last node."""
    stack = [_Siblings(session, document_id, None, None, backward=True)]
    if start is not None:
        outer = [*start[1:], None]
        stack = [
            _Siblings(session, document_id, step.parent_id, step, backward=True, then=parent)
            for step, parent in reversed(list(zip(start, outer, strict=True)))
        ]
    while stack:
        frame = stack[-1]
        step = frame.next()
        if step is None:  # no more siblings: the parent comes before them
            stack.pop()
            if frame.then is not None:
                yield frame.then
        elif step.has_children:  # its subtree first, from the last node up
            stack.append(_Siblings(session, document_id, step.id, None, backward=True, then=step))
        else:
            yield step


def after(session: Session, document_id: int, start: list[Step]) -> Iterator[Step]:
    """The live nodes after `start[0]` (a `path`) in reading order: its own subtree,
    then its next siblings' subtrees, then its parent's next siblings', and so on up."""
    stack = [_Siblings(session, document_id, step.parent_id, step) for step in reversed(start)]
    stack.append(_Siblings(session, document_id, start[0].id, None))
    while stack:
        step = stack[-1].next()
        if step is None:
            stack.pop()
            continue
        yield step
        if step.has_children:
            stack.append(_Siblings(session, document_id, step.id, None))


class _Siblings:
    """The live children of `parent_id` (None: the top level) after `start` (backward:
    before it; None: from the first, backward the last), a growing batch per query.
    `then`: the node a backward walk reaches once these are done (their parent)."""

    def __init__(
        self,
        session: Session,
        document_id: int,
        parent_id: int | None,
        start: Step | None,
        *,
        backward: bool = False,
        then: Step | None = None,
    ) -> None:
        self.session, self.document_id, self.parent_id = session, document_id, parent_id
        self.backward, self.then = backward, then
        self.last = None if start is None else (start.position_key, start.id)
        self.batch, self.exhausted = FIRST_BATCH, False
        self.pending: list[Step] = []  # fetched, not yet walked; the next one last

    def next(self) -> Step | None:
        if not self.pending and not self.exhausted:
            self._fetch()
        return self.pending.pop() if self.pending else None

    def _fetch(self) -> None:
        query = _siblings_query(self.parent_id is None, self.last is None, self.backward)
        key, ident = self.last or (None, None)
        values = {"document": self.document_id, "parent": self.parent_id, "key": key, "id": ident}
        rows = self.session.connection().execute(query, values | {"batch": self.batch}).all()
        self.exhausted = len(rows) < self.batch
        if rows:
            self.last = (rows[-1].position_key, rows[-1].id)
        self.pending = [Step(*row) for row in reversed(rows)]  # popped from the end
        self.batch = min(2 * self.batch, LARGEST_BATCH)


@cache
def _siblings_query(top_level: bool, from_end: bool, backward: bool) -> Select:
    """A batch of live siblings with whether each has live children, in reading order
    (backward: against it) after the sibling at ("key", "id"), or from the first (backward:
    the last) when `from_end`. Built once per shape, so SQLAlchemy compiles it once."""
    table, child = _NODES, _NODES.alias("child")
    document = bindparam("document", type_=table.c.document_id.type)
    has_children = exists().where(
        child.c.document_id == document,
        child.c.parent_id == table.c.id,
        child.c.deleted.is_(False),
    )
    parent = bindparam("parent", type_=table.c.parent_id.type)
    same_parent = table.c.parent_id.is_(None) if top_level else table.c.parent_id == parent
    columns = (table.c.id, table.c.parent_id, table.c.position_key, table.c.kind, has_children)
    query = select(*columns).where(
        table.c.document_id == document, same_parent, table.c.deleted.is_(False)
    )
    key = tuple_(table.c.position_key, table.c.id)
    start = tuple_(
        bindparam("key", type_=table.c.position_key.type), bindparam("id", type_=table.c.id.type)
    )
    if not from_end:
        query = query.where(key < start if backward else key > start)
    order = [table.c.position_key, table.c.id]
    if backward:
        order = [column.desc() for column in order]
    return query.order_by(*order).limit(bindparam("batch"))
