"""Corrections to a rule-based segmenter's sentence boundaries, from typographic conventions.

Every library measured on tests/data/segmentation (benchmarks/segmentation.py) makes a few
systematic mistakes that one convention settles; `refine` applies these, and nothing else:

- Quotes and brackets go with their own sentence: an opening quote left at the end of one
  sentence moves to the next, a closing quote at the start of the next moves back.
- After a Latin or Cyrillic stop, a sentence does not begin in lower case or with , ; : %
  ("approx. two", "т. е. главное", '"Will it last?" asked Smith.', "¡Alto! —gritó"),
  nor inside a token, with no space at the boundary ("window.__pwned", "file.tar.gz").
- A word ending in "." before a number is an abbreviation ("Fig. 3", "Hauptstr. 5"), and a
  capital letter with a period before a capitalised word is an initial ("J. R. R. Tolkien").
- A list marker (1. 2. a. b) belongs to the item it opens, and starts a sentence after a
  sentence end when it continues a list: it is the first label, or its predecessor appears
  earlier in the paragraph (so "see Tab. 2. Next" is not a list); a letter label after an
  initial is another initial ("S. A. Okafor", "С. А. Окафор").
- Chinese and Japanese: no boundary inside 「」『』“”（）, and a quotation followed by its
  attribution stays one sentence: Japanese 「…？」と彼は聞いた; Chinese “…？”他问道 (a speech
  verb before the next comma or stop), unless a colon introduced the quotation (他说：“…”).
"""

from __future__ import annotations

import re
import unicodedata

_TERMINAL = ".!?…。！？．"
_LIST_MARKER = re.compile(r"(\d{1,3}|[^\W\d_])[.)]")
# "2. Pour", "b) call", "b. Call"; a letter and a period before lower case is an
# abbreviation ("u. a. drei", "z. B. in")
_LIST_ITEM = re.compile(r"(?<!\S)(?:(\d{1,3})[.)]|([^\W\d_])\)|([^\W\d_])\.(?=\s+\W*[A-ZА-ЯЁ]))\s")
_FIRST_LABELS = ("1", "a", "а")  # Latin and Cyrillic a
_NOT_A_START = ",;:%，、；："
_DASHES = "-–—‒ \u00a0"
_CJK_OPEN, _CJK_CLOSE = "「『“（", "」』”）"
_ZH_ATTRIBUTION = re.compile(r"[^，。！？；,!?;]*[说道问答喊叫]")  # speech verb in the clause


def refine(text: str, start: int, end: int, bounds: list[int], iso: str) -> list[int]:
    """Corrected sentence ends inside text[start:end] (one paragraph) from a segmenter's."""
    candidates = sorted({*bounds, *_list_starts(text, start, end)})
    out: list[int] = []
    for raw in candidates:
        if not start < raw < end:
            continue
        b = _snap_to_quotes(text, raw, start, end)
        if (
            start < b < end
            and (not out or out[-1] < b)
            and _keep(text, out[-1] if out else start, b, end, iso)
        ):
            out.append(b)
    return out


def _quote_side(text: str, i: int) -> str | None:
    """'open' or 'close' for a quote or bracket at text[i], judged by the spaces around it."""
    ch = text[i]
    category = unicodedata.category(ch)
    if category in ("Ps", "Pe"):
        return "open" if category == "Ps" else "close"
    if category not in ("Pi", "Pf") and ch not in "\"'":
        return None
    space_before = i == 0 or text[i - 1].isspace()
    space_after = i + 1 == len(text) or text[i + 1].isspace()
    if space_before != space_after:  # German „…“ and French » « are told apart this way
        return "open" if space_before else "close"
    if ch in "\"'":
        return None
    return "open" if category == "Pi" else "close"


def _snap_to_quotes(text: str, b: int, start: int, end: int) -> int:
    back = b
    while back > start and text[back - 1].isspace():
        back -= 1
    opened = back
    while opened > start and _quote_side(text, opened - 1) == "open":
        opened -= 1
    if opened < back:
        while opened > start and text[opened - 1].isspace():
            opened -= 1
        return opened
    while b < end and _quote_side(text, b) == "close":
        b += 1
    return b


def _list_starts(text: str, start: int, end: int) -> list[int]:
    """Positions of list markers that continue a list right after a sentence end."""
    out = []
    for m in _LIST_ITEM.finditer(text, start, end):
        before = text[start : m.start()].rstrip()
        label = m[1] or m[2] or m[3]
        if before and before[-1] in _TERMINAL and _continues_list(text, start, m.start(), label):
            out.append(len(before) + start)
    return out


def _continues_list(text: str, start: int, at: int, label: str) -> bool:
    if label.lower() in _FIRST_LABELS:
        return True
    previous = str(int(label) - 1) if label.isdigit() else chr(ord(label.lower()) - 1)
    pattern = rf"(?<!\S){re.escape(previous)}[.)]\s"
    return re.search(pattern, text[start:at], re.IGNORECASE) is not None


def _keep(text: str, start: int, b: int, end: int, iso: str) -> bool:
    """Whether the boundary at b ends the sentence text[start:b] (stripped); a list
    marker after it opens an item if the previous label is in that sentence."""
    prev, nxt = text[start:b].strip(), text[b:end].lstrip()
    if not prev or not nxt or _LIST_MARKER.fullmatch(prev):
        return False
    initial = re.search(r"(?<![^\s.])[^\W\d_]\.$", prev) and prev[-2].isupper()
    item = _LIST_ITEM.match(nxt)
    if item and item[3] and initial:  # "S. A. Okafor": initials, not a list item "a."
        return False
    if item and _continues_list(text, start, b, item[1] or item[2] or item[3]):
        return prev[-1] in _TERMINAL or _quote_side(prev, len(prev) - 1) == "close"
    if nxt[0] in _NOT_A_START:
        return False
    if iso not in ("zh", "ja") and not text[b - 1].isspace() and not text[b].isspace():
        return False  # inside a token: "window.__pwned", "example.com/a.b"
    if iso in ("zh", "ja"):
        return _keep_cjk(prev, nxt, iso)
    if nxt.lstrip(_DASHES)[:1].islower():
        return False
    if re.search(r"[^\W\d_]\.$", prev) and nxt[0].isdigit():
        return False
    return not (initial and nxt[0].isupper())


def _keep_cjk(prev: str, nxt: str, iso: str) -> bool:
    depth = 0
    for ch in prev:
        depth = depth + 1 if ch in _CJK_OPEN else max(depth - (ch in _CJK_CLOSE), 0)
    if depth:
        return False
    if iso == "ja":
        return not (prev[-1] in "」』！？!?" and nxt.startswith(("と", "って")))
    if prev[-1] == "”":
        opened = prev.rfind("“")
        introduced = opened > 0 and prev[opened - 1] in ":："
        return introduced or not _ZH_ATTRIBUTION.match(nxt)
    return True
