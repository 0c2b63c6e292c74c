"""Each live sentence's nearest other live sentence of its document (cosine of their
concepts), kept in the transaction of every change that adds, removes or moves a concept
in concept space (including undo and redo), so what the page shows from it is never stale.

It is a plain vector index over stored embeddings, like a database index over a column:
no model is involved. Only what a change can affect is recomputed: the changed sentences
(and everything under a changed node, for deletes and restores) and the sentences whose
nearest neighbour changed; every other sentence only compares itself with the changed
ones. The cost is one read of the document's concepts and O(changed x sentences) products.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from storage.models import Node
from storage.types import Kind
from storage.validate import decode_embedding


def refresh(session: Session, document_id: int, changed: Iterable[int]) -> None:
    """Bring the nearest-sentence columns of `document_id` up to date after the nodes
    `changed` (and their subtrees) changed concept, liveness or existence."""
    session.flush()
    table = Node.__table__
    rows = (
        session.connection()
        .execute(
            select(
                table.c.id,
                table.c.parent_id,
                table.c.kind,
                table.c.deleted,
                table.c.embedding,
                table.c.embedding_dtype,
                table.c.nearest_id,
                table.c.nearest_cosine,
            ).where(table.c.document_id == document_id)
        )
        .all()
    )
    children: dict[int | None, list[int]] = defaultdict(list)
    by_id = {}
    for row in rows:
        children[row.parent_id].append(row.id)
        by_id[row.id] = row
    live, stack = set(), list(children[None])
    while stack:
        ident = stack.pop()
        if not by_id[ident].deleted:
            live.add(ident)
            stack.extend(children[ident])
    touched, stack = set(), list(changed)
    while stack:
        ident = stack.pop()
        if ident in by_id and ident not in touched:
            touched.add(ident)
            stack.extend(children[ident])
    ids = [
        r.id for r in rows if r.id in live and r.kind == Kind.SENTENCE and r.embedding is not None
    ]
    index = {ident: i for i, ident in enumerate(ids)}
    updates: dict[int, tuple[int | None, float | None]] = {
        r.id: (None, None) for r in rows if r.id not in index and r.nearest_id is not None
    }
    if len(ids) >= 2:
        updates |= _nearest(by_id, ids, index, touched)
    else:  # a lone sentence has no neighbour
        updates |= {i: (None, None) for i in ids if by_id[i].nearest_id is not None}
    if not updates:
        return
    session.connection().execute(
        update(table)
        .where(table.c.id == bindparam("node"))
        .values(nearest_id=bindparam("other"), nearest_cosine=bindparam("cosine")),
        [{"node": n, "other": o, "cosine": c} for n, (o, c) in updates.items()],
    )
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Node) and obj.id in updates:
            session.expire(obj, ["nearest_id", "nearest_cosine"])


def _nearest(
    by_id: dict, ids: list[int], index: dict[int, int], touched: set[int]
) -> dict[int, tuple[int | None, float | None]]:
    """New (nearest id, cosine) of every sentence whose nearest one may have changed."""
    vectors = np.stack(
        [decode_embedding(by_id[i].embedding, by_id[i].embedding_dtype) for i in ids]
    ).astype(np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    changed = [i for i in ids if i in touched]
    redo = [
        i
        for i in ids
        if i in touched or by_id[i].nearest_id not in index or by_id[i].nearest_id in touched
    ]
    found: dict[int, tuple[int | None, float | None]] = {}
    if redo:
        rows = [index[i] for i in redo]
        similarity = vectors[rows] @ vectors.T
        similarity[np.arange(len(rows)), rows] = -np.inf  # not itself
        best = similarity.argmax(axis=1)
        for ident, column, values in zip(redo, best, similarity, strict=True):
            found[ident] = (ids[column], float(values[column]))
    rest = [i for i in ids if i not in found]
    if changed and rest:
        columns = [index[i] for i in changed]
        similarity = vectors[[index[i] for i in rest]] @ vectors[columns].T
        best = similarity.argmax(axis=1)
        for ident, column, values in zip(rest, best, similarity, strict=True):
            if values[column] > by_id[ident].nearest_cosine:
                found[ident] = (changed[column], float(values[column]))
    return {
        ident: value
        for ident, value in found.items()
        if value != (by_id[ident].nearest_id, by_id[ident].nearest_cosine)
    }
