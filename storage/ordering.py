"""Sibling order as sparse integer keys: inserting or moving a node picks a key between
its neighbours, so siblings are renumbered only when a gap is used up."""

from __future__ import annotations

GAP = 1 << 20


def keys_between(lo: int | None, hi: int | None, count: int) -> list[int] | None:
    """`count` increasing keys strictly between `lo` and `hi` (None: open end), or None
    when the gap is too small and the siblings need renumbering."""
    if lo is None and hi is None:
        return [j * GAP for j in range(count)]
    if lo is None:
        return [hi - (count - j) * GAP for j in range(count)]
    if hi is None:
        return [lo + (j + 1) * GAP for j in range(count)]
    step = (hi - lo) // (count + 1)
    if step < 1:
        return None
    return [lo + (j + 1) * step for j in range(count)]
