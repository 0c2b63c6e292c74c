"""Read documents from plain text, Markdown, JSONL and Parquet files.

A text or Markdown file is one document. A JSONL line or a Parquet row is one document,
its text in `text_field`; an optional `split` field assigns it to a split, and an
optional `source_field` holds a fine-tuning source (e.g. a summary to expand).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from engine.errors import EngineError

TEXT_SUFFIXES = (".txt", ".text")
MARKDOWN_SUFFIXES = (".md", ".markdown")
RECORD_SUFFIXES = (".jsonl", ".parquet")
SUFFIXES = TEXT_SUFFIXES + MARKDOWN_SUFFIXES + RECORD_SUFFIXES


class SourceError(EngineError, ValueError):
    """An input file cannot be read as documents; the message names the file and the fix."""


@dataclass
class SourceDocument:
    text: str
    split: str | None  # None: the caller's default split
    source: str | None  # fine-tuning source text, None for pre-training documents
    origin: str  # "file" or "file:line", for error messages


_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_LINE_MARKUP = re.compile(r"^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)(.*)$", re.MULTILINE)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")
_HTML_TAG = re.compile(r"<[^>]+>")


def markdown_to_text(markdown: str) -> str:
    """Markdown -> plain prose: code blocks dropped, headings and list items kept as
    their own paragraphs, links reduced to their text, emphasis markers removed."""
    text = _FENCE.sub("", markdown)
    # A heading or list item is a unit of its own: give it a blank line before and after.
    text = _LINE_MARKUP.sub(r"\n\2\n", text)
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = _HTML_TAG.sub("", text)
    return "\n\n".join(p for p in (" ".join(b.split()) for b in text.split("\n\n")) if p)


def expand_inputs(inputs: Sequence[str | Path]) -> list[Path]:
    """Files named directly, plus every supported file under named directories, sorted."""
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            files.extend(sorted(p for p in item.rglob("*") if p.suffix.lower() in SUFFIXES))
        elif item.is_file():
            if item.suffix.lower() not in SUFFIXES:
                raise SourceError(
                    f"{item}: unsupported file type {item.suffix!r}; use one of {SUFFIXES}"
                )
            files.append(item)
        else:
            raise SourceError(f"{item}: no such file or directory")
    if not files:
        names = [str(i) for i in inputs]
        raise SourceError(f"no documents found in {names} (looked for {SUFFIXES})")
    return files


def _record(row: dict, origin: str, text_field: str, source_field: str | None) -> SourceDocument:
    text = row.get(text_field)
    if not isinstance(text, str):
        raise SourceError(
            f"{origin}: no string field {text_field!r} (fields: {sorted(row)}); "
            "choose the text field with --text-field"
        )
    source = None
    if source_field is not None:
        source = row.get(source_field)
        if not isinstance(source, str):
            raise SourceError(f"{origin}: no string field {source_field!r} for the source")
    split = row.get("split")
    return SourceDocument(text, split if isinstance(split, str) else None, source, origin)


def read_file(
    path: Path, text_field: str = "text", source_field: str | None = None
) -> Iterator[SourceDocument]:
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES + MARKDOWN_SUFFIXES:
        text = path.read_text(encoding="utf-8")
        if suffix in MARKDOWN_SUFFIXES:
            text = markdown_to_text(text)
        yield SourceDocument(text, None, None, str(path))
    elif suffix == ".jsonl":
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise SourceError(f"{path}:{number}: not valid JSON ({error})") from None
                yield _record(row, f"{path}:{number}", text_field, source_field)
    else:
        parquet = pq.ParquetFile(path)
        number = 0
        for batch in parquet.iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                number += 1
                yield _record(row, f"{path}:row {number}", text_field, source_field)


def iter_documents(
    inputs: Sequence[str | Path], text_field: str = "text", source_field: str | None = None
) -> Iterator[SourceDocument]:
    """Every document of every input, in a fixed order (files sorted, then file order)."""
    for path in expand_inputs(inputs):
        yield from read_file(path, text_field, source_field)
