"""The demo corpus: openly licensed English prose from Debian packages, as JSONL documents.

Sources (fetched with `apt-get download`, so the build needs only the Debian archive):
- `python3.11-doc`: the Python 3.11 documentation (PSF licence), one document per page;
- `debian-handbook`: "The Debian Administrator's Handbook", en-US (GPL-2+ or CC-BY-SA-3.0).
Only paragraph text (<p>) is kept: code blocks, tables and navigation are left out, so a
document is a sequence of prose sentences. Licence pages are skipped, and the Debian
`fortunes*` packages and the GNU licence texts are never used: they are reserved for
independent evaluation. Documents are split into "train" and held-out "valid" by a hash of their id,
so the split is deterministic and does not depend on the order of files.
"""

from __future__ import annotations

import hashlib
import html.parser
import json
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.segment import split_sentences

PACKAGES = {
    "python3.11-doc": "usr/share/doc/python3.11/html",
    "debian-handbook": "usr/share/doc/debian-handbook/html/en-US",
}
SKIPPED_PAGES = re.compile(r"license|licence|copyright|legalnotice|genindex|search|py-modindex")
VALID_PERCENT = 5
NAV_CLASSES = {"topless", "title", "logo", "caption", "admonition-title", "rubric"}


class _ParagraphParser(html.parser.HTMLParser):
    """Collects the page <title> and the text of every paragraph element.

    Paragraphs are Sphinx's <p> (the Python docs) and DocBook's <div class="para"> (the
    handbook). Text inside <pre> is dropped, as are the navigation paragraphs
    (class "topless", "title", ...).
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.paragraphs: list[str] = []
        self._in_title = False
        self._para_tag: str | None = None  # tag name of the open paragraph element
        self._para_depth = 0  # nesting of that tag name inside the open paragraph
        self._depth_pre = 0
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        classes = set((dict(attrs).get("class") or "").split())
        if tag == "title":
            self._in_title = True
        elif tag == "pre":
            self._depth_pre += 1
        elif self._para_tag == tag:
            self._para_depth += 1
        elif self._para_tag is None and (
            (tag == "p" and not classes & NAV_CLASSES) or (tag == "div" and "para" in classes)
        ):
            self._para_tag, self._para_depth = tag, 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "pre":
            self._depth_pre = max(0, self._depth_pre - 1)
        elif tag == self._para_tag:
            self._para_depth -= 1
            if self._para_depth == 0:
                text = " ".join("".join(self._buffer).split())
                if text:
                    self.paragraphs.append(text)
                self._buffer, self._para_tag = [], None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif self._para_tag and not self._depth_pre:
            self._buffer.append(data)


@dataclass
class Document:
    id: str
    title: str
    text: str  # paragraphs separated by blank lines
    split: str  # "train" or "valid" (held out)
    source: str


def split_of(doc_id: str) -> str:
    """Deterministic document-level split: about VALID_PERCENT % of documents are held out."""
    bucket = int(hashlib.sha256(doc_id.encode()).hexdigest(), 16) % 100
    return "valid" if bucket < VALID_PERCENT else "train"


def _is_prose(paragraph: str) -> bool:
    """Keep paragraphs that read like sentences, not labels, prompts or code fragments."""
    words = paragraph.split()
    return len(words) >= 4 and sum(c.isalpha() for c in paragraph) > 0.6 * len(paragraph)


def read_html_documents(root: Path, source: str) -> Iterator[Document]:
    """One Document per HTML page under `root` that has any prose."""
    for path in sorted(root.rglob("*.html")):
        rel = path.relative_to(root).as_posix()
        if SKIPPED_PAGES.search(rel):
            continue
        parser = _ParagraphParser()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        paragraphs = [p for p in parser.paragraphs if _is_prose(p)]
        if not paragraphs:
            continue
        doc_id = f"{source}/{rel}"
        title = " ".join(parser.title.split())
        yield Document(doc_id, title, "\n\n".join(paragraphs), split_of(doc_id), source)


def fetch_packages(download_dir: Path) -> dict[str, Path]:
    """`apt-get download` each source package and unpack it; returns package -> HTML root."""
    download_dir.mkdir(parents=True, exist_ok=True)
    roots = {}
    for package, html_dir in PACKAGES.items():
        unpacked = download_dir / package
        if not (unpacked / html_dir).is_dir():
            if not list(download_dir.glob(f"{package}_*.deb")):
                subprocess.run(["apt-get", "download", package], cwd=download_dir, check=True)
            deb = sorted(download_dir.glob(f"{package}_*.deb"))[-1]
            subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
        roots[package] = unpacked / html_dir
    return roots


def build_corpus(out_dir: str | Path, download_dir: str | Path | None = None) -> Path:
    """Fetch the packages and write `out_dir/documents.jsonl`; returns its path.

    Each line: {"id", "title", "text", "split", "source"}. Skipped when already built.
    """
    out_dir = Path(out_dir)
    out_path = out_dir / "documents.jsonl"
    if out_path.exists():
        return out_path
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        roots = fetch_packages(Path(download_dir) if download_dir else Path(tmp))
        partial = out_path.with_suffix(".partial")
        with partial.open("w", encoding="utf-8") as f:
            for package, root in roots.items():
                for doc in read_html_documents(root, package):
                    f.write(json.dumps(doc.__dict__, ensure_ascii=False) + "\n")
        partial.rename(out_path)
    return out_path


def read_documents(path: str | Path, split: str | None = None) -> Iterator[dict]:
    """Documents from a `documents.jsonl`, optionally only one split."""
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            if split is None or doc["split"] == split:
                yield doc


def document_sentences(doc: dict) -> list[str]:
    """A document's sentences (capped at 200 characters), paragraph by paragraph."""
    return [s for para in doc["text"].split("\n\n") for s in split_sentences(para, lang="eng_Latn")]


def write_sentences(corpus_path: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Write one sentence per line for each split (`sentences.train.txt`, ...)."""
    out_dir = Path(out_dir)
    paths = {split: out_dir / f"sentences.{split}.txt" for split in ("train", "valid")}
    if all(p.exists() for p in paths.values()):
        return paths
    files = {
        split: p.with_suffix(".partial").open("w", encoding="utf-8") for split, p in paths.items()
    }
    for doc in read_documents(corpus_path):
        for sentence in document_sentences(doc):
            files[doc["split"]].write(" ".join(sentence.split()) + "\n")
    for split, f in files.items():
        f.close()
        paths[split].with_suffix(".partial").rename(paths[split])
    return paths
