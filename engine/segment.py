"""Text -> paragraphs -> sentences, capped in length: the first step of the LCM pipeline.

Sentence boundaries come from SaT ("Segment any Text", wtpsplit) when its model is in
the local Hugging Face cache. Otherwise (every fresh, offline install) from a rule-based
segmenter chosen per language on boundary F1 over tests/data/segmentation
(benchmarks/segmentation.py, BENCHMARKS.md): sentencex for English and French, blingfire
for Spanish, Russian, Chinese and Japanese, spaCy's sentencizer for German and for every
language without a measured choice, always corrected by `engine.sentence_rules`. pysbd,
a little more accurate on English and German, is several times slower than spaCy and
would slow the app's import by about a fifth. Whether SaT is available is decided once, from the
cache alone: nothing here waits on a network. Then the paper's *capping*: a sentence
longer than `max_chars` is re-split at the best boundary it has (punctuation, then
whitespace, then between CJK characters), because SONAR round-trips long sentences badly.

Every piece is a whitespace-stripped substring of the input, in order, so no text is
ever lost or reordered: joining the pieces gives the input back up to whitespace.
Sentences never cross a paragraph break or a Markdown heading line.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any, Literal

from engine.errors import EngineError
from engine.sentence_rules import refine

SAT_MODEL = "segment-any-text/sat-3l-sm"
SAT_TOKENIZER = "facebookAI/xlm-roberta-base"
DEFAULT_MAX_CHARS = 200

Method = Literal["auto", "sat", "rules"]

# The rule-based backend per ISO code, chosen on boundary F1 (benchmarks/segmentation.py)
# among those at least as fast as spaCy; other languages get spaCy.
RULE_BACKENDS = {
    "en": "sentencex",
    "fr": "sentencex",
    "de": "spacy",
    "es": "blingfire",
    "ru": "blingfire",
    "zh": "blingfire",
    "ja": "blingfire",
}

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]|$)")
# Scripts whose languages all segment like Chinese or Japanese (Cantonese is yue_Hant).
_SCRIPT_TO_ISO = {"Hans": "zh", "Hant": "zh", "Jpan": "ja"}


class SegmentationError(EngineError, ValueError):
    """A segmentation request that cannot be served (the message says why)."""


def split_paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs, stripped, empty ones dropped.

    A Markdown heading line ("# Title", up to "###### Title") is always a paragraph of
    its own, verbatim with its '#' marks, even when no blank line follows it: detect it
    with `heading_level(paragraph)`.
    """
    return [text[a:b] for a, b in _paragraph_spans(text)]


def heading_level(paragraph: str) -> int:
    """1-6 for a Markdown heading paragraph ("## Plan" -> 2), 0 for ordinary text."""
    match = _HEADING.match(paragraph)
    return len(match.group(1)) if match else 0


def split_sentences(
    text: str,
    lang: str | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
    method: Method = "auto",
) -> list[str]:
    """Sentences of `text`, none longer than `max_chars` unless it is a single word.

    lang: a SONAR code ("fra_Latn") or ISO 639-1 code ("fr"); None detects it.
    method: "auto" (SaT when cached locally, else rules), "sat" or "rules".
    """
    if max_chars < 1:
        raise SegmentationError(f"max_chars must be at least 1, got {max_chars}.")
    spans = _paragraph_spans(text)
    if not spans:
        return []
    sentences = _sentence_spans(text, spans, lang, method)
    return [text[a:b] for start, end in sentences for a, b in _cap(text, start, end, max_chars)]


def sat_available() -> bool:
    """Whether SaT's model and tokenizer are in the local Hugging Face cache (no network)."""
    return _sat() is not None


# -- paragraphs ----------------------------------------------------------------------


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for block in _split_on(text, _PARAGRAPH_BREAK, 0, len(text)):
        start = block[0]
        # heading lines become their own spans
        for line in re.finditer(r"[^\n]*(?:\n|$)", text[block[0] : block[1]]):
            if _HEADING.match(line.group().strip("\n")) and line.group().strip():
                a, b = block[0] + line.start(), block[0] + line.end()
                spans += [_strip(text, start, a), _strip(text, a, b)]
                start = b
        spans.append(_strip(text, start, block[1]))
    return [s for s in spans if s[0] < s[1]]


def _split_on(text: str, pattern: re.Pattern, start: int, end: int) -> list[tuple[int, int]]:
    out, pos = [], start
    for m in pattern.finditer(text, start, end):
        out.append((pos, m.start()))
        pos = m.end()
    out.append((pos, end))
    return out


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# -- sentences -----------------------------------------------------------------------


def _sentence_spans(
    text: str, paragraphs: list[tuple[int, int]], lang: str | None, method: Method
) -> list[tuple[int, int]]:
    if method not in ("auto", "sat", "rules"):
        raise SegmentationError(f"method must be 'auto', 'sat' or 'rules', not {method!r}.")
    sat = _sat() if method in ("auto", "sat") else None
    if method == "sat" and sat is None:
        raise SegmentationError(
            f"SaT is not available: its model ({SAT_MODEL}) and tokenizer ({SAT_TOKENIZER}) "
            "are not in the local Hugging Face cache. Download them where there is network "
            "(e.g. `huggingface-cli download segment-any-text/sat-3l-sm`) or use method='rules'."
        )
    chunks = [text[a:b] for a, b in paragraphs]
    if sat is not None:
        found = list(sat.split(chunks))
        pairs = zip(paragraphs, found, strict=True)
        return [s for (a, b), pieces in pairs for s in _align(text, a, b, pieces)]
    iso = _iso_code(text, lang)
    out = []
    for a, b in paragraphs:
        ends = [a + end for end in _rule_ends(text[a:b], iso)]
        out += _spans_between(text, a, b, refine(text, a, b, ends, iso))
    return out


def _rule_ends(paragraph: str, iso: str) -> list[int]:
    """Sentence end offsets in `paragraph` from the rule-based backend for `iso`."""
    backend = RULE_BACKENDS.get(iso, "spacy")
    if backend == "sentencex":
        import sentencex

        return [s["end_index"] for s in sentencex.get_sentence_boundaries(iso, paragraph)]
    if backend == "blingfire":
        import blingfire

        return [end for _, end in blingfire.text_to_sentences_and_offsets(paragraph)[1]]
    return [s.end_char for s in _spacy(iso)(paragraph).sents]


def _align(text: str, start: int, end: int, pieces: list[str]) -> list[tuple[int, int]]:
    """Spans of a segmenter's `pieces` in text[start:end]; unmatched text is kept, not lost."""
    bounds, pos = [], start
    for piece in map(str.strip, pieces):
        found = text.find(piece, pos, end) if piece else -1
        if found >= 0:
            pos = found + len(piece)
            bounds.append(pos)
    return _spans_between(text, start, end, bounds)


def _spans_between(text: str, start: int, end: int, bounds: list[int]) -> list[tuple[int, int]]:
    cuts = [start, *(b for b in bounds if start < b < end), end]
    return [s for a, b in zip(cuts, cuts[1:], strict=False) if (s := _strip(text, a, b))[0] < s[1]]


def _iso_code(text: str, lang: str | None) -> str:
    """spaCy language code for a SONAR/ISO `lang`, detected from `text` when None."""
    from engine.lang import detect_language, languages, to_sonar

    sonar = to_sonar(lang) if lang else detect_language(text[:2000])
    script = sonar.split("_")[1]
    return _SCRIPT_TO_ISO.get(script) or languages()[sonar].iso639_1 or "xx"


@cache
def _spacy(iso: str) -> Any:
    """Blank spaCy pipeline + sentencizer, one per language; "xx" when spaCy lacks it."""
    import spacy

    try:
        nlp = spacy.blank(iso)
    except (ImportError, LookupError):  # unknown to spaCy, or needs an extra package
        nlp = spacy.blank("xx")
    nlp.add_pipe("sentencizer")
    nlp.max_length = 10**8  # only the tokenizer and sentencizer run: memory stays small
    return nlp


@cache
def _sat() -> Any:
    """The SaT model when it and its tokenizer are cached locally, else None (decided once)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        model_dir = snapshot_download(SAT_MODEL, local_files_only=True)
        tokenizer_dir = snapshot_download(SAT_TOKENIZER, local_files_only=True)
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None
    from wtpsplit import SaT

    # Local directories: wtpsplit and transformers never contact the hub for them.
    return SaT(model_dir, tokenizer_name_or_path=tokenizer_dir, hub_prefix=None)


# -- capping -------------------------------------------------------------------------


def _is_cjk(ch: str) -> bool:
    return _is_wide(ch) and ch.isalnum()


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _is_break_punct(ch: str) -> bool:
    return unicodedata.category(ch) in ("Po", "Pd", "Pe", "Pf")


def _cap(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut [start, end) into stripped spans of at most max_chars (a longer word stays)."""
    out = []
    while end - start > max_chars:
        cut = _best_cut(text, start, min(end, start + max_chars + 1), max_chars)
        if cut is None:  # a single overlong word: keep it whole up to the next space
            cut = start
            while cut < end and not text[cut].isspace():
                cut += 1
        out.append(_strip(text, start, cut))
        start = _strip(text, cut, end)[0]
    out.append((start, end))
    return [s for s in out if s[0] < s[1]]


def _best_cut(text: str, start: int, limit: int, max_chars: int) -> int | None:
    """Cut position in (start, limit]: punctuation, else whitespace, else between CJK."""
    punct = space = cjk = None
    for i in range(start + 1, limit):
        prev, ch = text[i - 1], text[i]
        if ch.isspace():
            space = i
            if _is_break_punct(prev):
                punct = i
        elif _is_break_punct(prev) and (_is_cjk(ch) or _is_wide(prev)):
            punct = i
        elif _is_cjk(prev) and _is_cjk(ch):
            cjk = i
    if punct is not None and punct - start > max_chars // 3:
        return punct
    return space or punct or cjk
