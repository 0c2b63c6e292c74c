"""Read a Bible in the SWORD project's zText format (Debian's `sword-text-*` packages).

A zText module is three files per testament: `.bzz` holds zlib-compressed blocks,
`.bzs` one (offset, compressed size, size) triple of uint32 per block, and `.bzv` one
(block, offset, size) entry (uint32, uint32, uint16) per verse slot, in the order of the
module's versification. Slots that are not verses (module, book and chapter headings)
are recognised by their OSIS markup, so verses are keyed by ("Gen.1", 3) whatever the
versification: two translations align verse by verse on their keys.
"""

from __future__ import annotations

import html
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

_CHAPTER = re.compile(r'<chapter\b[^>]*\bosisID="([^"]+)"')
_BOOK = re.compile(r'<div\b[^>]*\btype="book"')
_NOTE = re.compile(r"<note\b.*?</note>", re.DOTALL)
_TITLE = re.compile(r"<title\b.*?</title>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([,.;:!?])")
_CAPITAL_FIRST_WORD = re.compile(r"^([^\w]*)(\w)(\w+)\b")  # "EN el principio", as printed


def _slots(module_dir: Path, testament: str) -> Iterator[str]:
    """Every verse slot's raw OSIS text, in order ('' for an empty slot)."""
    blocks_index = (module_dir / f"{testament}.bzs").read_bytes()
    verses_index = (module_dir / f"{testament}.bzv").read_bytes()
    data = (module_dir / f"{testament}.bzz").read_bytes()
    blocks = [struct.unpack_from("<III", blocks_index, i) for i in range(0, len(blocks_index), 12)]
    current, text = -1, b""
    for i in range(0, len(verses_index), 10):
        block, offset, size = struct.unpack_from("<IIH", verses_index, i)
        if size == 0 or block >= len(blocks):
            yield ""
            continue
        if block != current:
            start, compressed, _ = blocks[block]
            current, text = block, zlib.decompress(data[start : start + compressed])
        yield text[offset : offset + size].decode("utf-8", errors="replace")


def plain_text(osis: str) -> str:
    """OSIS markup -> the verse as a reader sees it (footnotes and headings dropped)."""
    text = _TAG.sub("", _TITLE.sub("", _NOTE.sub(" ", osis)))
    text = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(html.unescape(text).split()))
    # A chapter's first word is printed in capitals ("CUANDO Israel"): write it as a word.
    match = _CAPITAL_FIRST_WORD.match(text)
    if match and match.group(3).isupper():
        text = match.group(1) + match.group(2) + match.group(3).lower() + text[match.end() :]
    return text


def read_verses(module_dir: str | Path) -> dict[tuple[str, int], str]:
    """{(chapter osisID, verse number): plain text} for both testaments of a module."""
    module_dir = Path(module_dir)
    verses: dict[tuple[str, int], str] = {}
    for testament in ("ot", "nt"):
        if not (module_dir / f"{testament}.bzv").exists():
            continue
        chapter, number = None, 0
        for slot in _slots(module_dir, testament):
            if match := _CHAPTER.search(slot):
                chapter, number = match.group(1), 0
            elif _BOOK.search(slot):
                chapter = None  # a book heading: no verses until its first chapter
            elif chapter is not None:
                number += 1
                if text := plain_text(slot):
                    verses[(chapter, number)] = text
    return verses
