"""Sentence segmentation without a downloaded model: boundary F1 and characters/s per
language and backend, on the labelled set in tests/data/segmentation (<iso>.txt: one
sentence per line, paragraphs separated by blank lines, written for this project).

A paragraph's sentences are joined with a space (none for Chinese and Japanese) and the
gold boundaries are where they meet; a backend's boundaries are the ends of the sentences
it finds (trailing spaces not counted), other than the paragraph's end. Precision, recall
and F1 count boundaries over the whole language. Each library runs as published ("raw")
and corrected by engine.sentence_rules ("+ rules"); "app" is split_sentences(method="rules"), the
per-language choice the app makes when SaT is not cached (uncapped here). Speed is the
median over --repeats runs of one pass over the language's paragraphs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from engine.paths import SEGMENTATION_GOLD
from engine.segment import _spacy, split_sentences
from engine.sentence_rules import refine

from .harness import measure, write_results

LANGUAGES = ("en", "fr", "de", "es", "ru", "zh", "ja")
NO_SPACES = ("zh", "ja")  # sentences follow each other without a space
Ends = Callable[[str, str], list[int]]  # (paragraph, iso) -> sentence end offsets


def gold(iso: str) -> list[tuple[str, set[int]]]:
    """(paragraph text, its internal sentence boundaries) for a labelled language."""
    joiner = "" if iso in NO_SPACES else " "
    out = []
    text = (SEGMENTATION_GOLD / f"{iso}.txt").read_text(encoding="utf-8")
    for block in text.strip().split("\n\n"):
        sentences = block.split("\n")
        ends, position = set(), 0
        for sentence in sentences[:-1]:
            position += len(sentence)
            ends.add(position)
            position += len(joiner)
        out.append((joiner.join(sentences), ends))
    return out


def _pieces_to_ends(text: str, pieces: list[str]) -> list[int]:
    ends, position = [], 0
    for piece in (p.strip() for p in pieces):
        found = text.find(piece, position) if piece else -1
        if found >= 0:
            position = found + len(piece)
            ends.append(position)
    return ends


@cache
def _pysbd_segmenter(iso: str) -> Any:
    import pysbd

    return pysbd.Segmenter(language=iso, clean=False)


def _pysbd(text: str, iso: str) -> list[int]:
    return _pieces_to_ends(text, _pysbd_segmenter(iso).segment(text))


def _sentencex(text: str, iso: str) -> list[int]:
    import sentencex

    return [s["end_index"] for s in sentencex.get_sentence_boundaries(iso, text)]


def _syntok(text: str, iso: str) -> list[int]:
    from syntok import segmenter

    ends = []
    for paragraph in segmenter.analyze(text):
        for sentence in paragraph:
            last = sentence[-1]
            ends.append(last.offset + len(last.value))
    return ends


def _blingfire(text: str, iso: str) -> list[int]:
    import blingfire

    return [end for _, end in blingfire.text_to_sentences_and_offsets(text)[1]]


def _spacy_ends(text: str, iso: str) -> list[int]:
    return [s.end_char for s in _spacy(iso)(text).sents]


def _app(text: str, iso: str) -> list[int]:
    return _pieces_to_ends(text, split_sentences(text, lang=iso, max_chars=10**9, method="rules"))


LIBRARIES: dict[str, Ends] = {
    "spacy": _spacy_ends,  # the fallback before issue 16 (Japanese then had a punctuation rule)
    "pysbd": _pysbd,
    "sentencex": _sentencex,
    "syntok": _syntok,
    "blingfire": _blingfire,
}
UNSUPPORTED = {"syntok": NO_SPACES}  # syntok tokenizes on spaces: no Chinese or Japanese


def backends() -> dict[str, Ends]:
    """Every library raw and with the rules, then the app's choice."""
    out: dict[str, Ends] = {}
    for name, ends in LIBRARIES.items():
        out[name] = ends
        out[f"{name} + rules"] = _with_rules(ends)
    out["app"] = _app
    return out


def _with_rules(ends: Ends) -> Ends:
    return lambda text, iso: refine(text, 0, len(text), ends(text, iso), iso)


def score(iso: str, ends: Ends) -> dict[str, float]:
    """Boundary precision, recall and F1 of `ends` on the labelled set of `iso`."""
    hits = found = expected = 0
    for text, gold_ends in gold(iso):
        predicted = {len(text[:e].rstrip()) for e in ends(text, iso)} - {0, len(text)}
        hits += len(predicted & gold_ends)
        found += len(predicted)
        expected += len(gold_ends)
    precision = hits / found if found else 1.0
    recall = hits / expected if expected else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "boundaries": expected}


def run(options):
    results = []
    for iso in LANGUAGES:
        paragraphs = [text for text, _ in gold(iso)]
        chars = sum(map(len, paragraphs))
        for name, ends in backends().items():
            if iso in UNSUPPORTED.get(name.split(" ")[0], ()):
                continue
            scores = score(iso, ends)
            results.append(
                measure(
                    "segment",
                    lambda ends=ends, iso=iso, texts=paragraphs: [ends(t, iso) for t in texts],
                    repeats=options.repeats,
                    items=chars,
                    lang=iso,
                    backend=name,
                    **{k: round(v, 4) for k, v in scores.items()},
                )
            )
    sentences = {iso: sum(len(e) + 1 for _, e in gold(iso)) for iso in LANGUAGES}
    return write_results("segmentation", results, {"sentences": sentences})
