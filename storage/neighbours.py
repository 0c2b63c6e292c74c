"""Each live sentence's nearest other live sentence among its neighbourhood: the
`window` live sentences before and after it in reading order (cosine of their concepts),
kept in the transaction of every change that adds, removes, moves or re-encodes a
sentence (including undo and redo), so what the page shows from it is never stale.

Why a neighbourhood and not the whole document: a writer repeats a meaning within a few
pages, and that is what the page flags; comparing every sentence with every other costs
the square of the document (a 5 MB novel of 84,000 sentences: 7 TFLOP and a 56 GB
matrix), comparing it with its neighbourhood costs the document times the window.

It is a plain vector index over stored embeddings, like a database index over a column:
no model is involved. A change that re-encodes sentences in place (an edit) leaves every
neighbourhood as it was, so only the sentences within `window` of a changed one are
recomputed; a change that adds, removes or moves sentences recomputes the document,
banded: O(sentences x window) products.
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

WINDOW = 256  # sentences on each side: about ten pages of prose
BLOCK = 256  # rows compared at once: one (BLOCK x BLOCK + 2 window) product in memory
READ_CHUNK = 500  # concepts read per query (below SQLite's limit on bound parameters)


def refresh(
    session: Session,
    document_id: int,
    changed: Iterable[int],
    *,
    in_place: bool = False,
    window: int = WINDOW,
) -> None:
    """Bring the nearest-sentence columns of `document_id` up to date after the nodes
    `changed` (and their subtrees) changed; `in_place`: only their concepts changed, no
    sentence was added, removed or moved."""
    session.flush()
    table = Node.__table__
    rows = (
        session.connection()
        .execute(
            select(
                table.c.id,
                table.c.parent_id,
                table.c.position_key,
                table.c.kind,
                table.c.deleted,
                table.c.embedding.is_not(None).label("has_concept"),
                table.c.nearest_id,
                table.c.nearest_cosine,
            ).where(table.c.document_id == document_id)
        )
        .all()
    )
    by_id = {row.id: row for row in rows}
    order = _sentences_in_reading_order(rows)
    if in_place:
        index = {ident: i for i, ident in enumerate(order)}
        touched = sorted(index[i] for i in set(changed) if i in index)
        redo = sorted({j for i in touched for j in range(i - window, i + window + 1)})
        redo = [j for j in redo if 0 <= j < len(order)]
    else:
        redo = list(range(len(order)))
    found = _nearest(session, by_id, order, redo, window)
    if not in_place:  # nodes outside the order (deleted, or not sentences) point nowhere
        found |= {r.id: (None, None) for r in rows if r.id not in found}
    updates = {
        ident: value
        for ident, value in found.items()
        if value != (by_id[ident].nearest_id, by_id[ident].nearest_cosine)
    }
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


def _sentences_in_reading_order(rows: list) -> list[int]:
    """Ids of the live sentences, depth first, siblings by (position_key, id); a deleted
    node hides its subtree. Sentences without a concept keep their place (a window counts
    them), so an edit that drops or restores a concept moves no neighbourhood."""
    children: dict[int | None, list] = defaultdict(list)
    for row in rows:
        children[row.parent_id].append(row)
    for siblings in children.values():
        siblings.sort(key=lambda row: (row.position_key, row.id))
    order, stack = [], list(reversed(children[None]))
    while stack:
        row = stack.pop()
        if row.deleted:
            continue
        if row.kind == Kind.SENTENCE:
            order.append(row.id)
        stack.extend(reversed(children[row.id]))
    return order


def _nearest(
    session: Session, by_id: dict, order: list[int], redo: list[int], window: int
) -> dict[int, tuple[int | None, float | None]]:
    """(nearest id, cosine) of the sentences at reading positions `redo` (ascending),
    each among the sentences with a concept within `window` positions of it; a block of
    rows at a time, reading and holding only the concepts the next blocks compare."""
    found: dict[int, tuple[int | None, float | None]] = {}
    vectors: dict[int, np.ndarray] = {}  # by position, unit length
    for start in range(0, len(redo), BLOCK):
        rows = np.array(redo[start : start + BLOCK])
        first, last = max(rows[0] - window, 0), min(rows[-1] + window, len(order) - 1)
        columns = np.arange(first, last + 1)
        _read_units(session, by_id, order, columns, vectors)
        if not vectors:  # no concept anywhere near
            found |= {order[i]: (None, None) for i in rows}
            continue
        blank = np.full(next(iter(vectors.values())).size, np.nan)
        similarity = (
            np.stack([vectors.get(i, blank) for i in rows])
            @ np.stack([vectors.get(j, blank) for j in columns]).T
        )
        distance = np.abs(rows[:, None] - columns[None, :])
        similarity[np.isnan(similarity) | (distance == 0) | (distance > window)] = -np.inf
        best = similarity.argmax(axis=1)
        for row, column, values in zip(rows, best, similarity, strict=True):
            near = values[column] > -np.inf  # else no other concept in its neighbourhood
            found[order[row]] = (
                (order[columns[column]], float(values[column])) if near else (None, None)
            )
        if start + BLOCK < len(redo):  # forget what no later block reads
            keep = redo[start + BLOCK] - window
            for position in [p for p in vectors if p < keep]:
                del vectors[position]
    return found


def _read_units(
    session: Session, by_id: dict, order: list[int], positions: np.ndarray, into: dict
) -> None:
    """Read the concepts of the sentences at `positions` not yet in `into`, unit length."""
    wanted = {order[p]: int(p) for p in positions if p not in into and by_id[order[p]].has_concept}
    table, missing = Node.__table__, list(wanted)
    for start in range(0, len(missing), READ_CHUNK):
        ids = missing[start : start + READ_CHUNK]
        query = select(table.c.id, table.c.embedding, table.c.embedding_dtype).where(
            table.c.id.in_(ids)
        )
        for ident, data, dtype in session.connection().execute(query):
            vector = decode_embedding(data, dtype).astype(np.float64)
            into[wanted[ident]] = vector / max(np.linalg.norm(vector), 1e-12)
