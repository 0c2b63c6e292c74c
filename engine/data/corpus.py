"""The demo corpus: openly licensed prose in English, French, German and Spanish, from
Debian packages (fetched with `apt-get download`, so the build needs only the archive).

Sources (licences as stated in each package's copyright file):
- `sword-text-web` / `sword-text-sparv`: the World English Bible and the Spanish
  Reina-Valera 1909 (both public domain); one document per chapter, aligned by verse.
- `debian-handbook`: "The Debian Administrator's Handbook" (GPL-2+ or CC-BY-SA-3.0), in
  en-US, fr-FR, de-DE, es-ES; one document per page.
- `gimp-help-*`: the GIMP user manual (GFDL-1.2+), one document per page.
- `libreoffice-help-*`: the LibreOffice help (MPL-2.0), one document per page.
- `debian-reference-*`: the Debian Reference (GPL-2+). Held out as a whole source (split
  "test") in every language: the cross-lingual figures are measured on a source the
  codec never saw.
- `wordnet-base`: WordNet 3.0 glosses and example sentences (WordNet licence, permissive);
  isolated lines, so they feed the codec but are not documents.

Translations of a page share the English page's split, and a paragraph is paired with
its translation only where both pages have the same number of paragraphs (they are
generated from one source by po4a or Sphinx, so the order matches). Paragraphs left
untranslated (identical, or reading as English) are dropped from the other language.
Documents are split into "train" and held-out "valid" by a hash of their id, so the split
is deterministic and does not depend on file order. The Debian `fortunes*` packages and
the project's own `assets/eval` sentences are never trained on: they are for evaluation.

Outputs in `out_dir`: `documents.jsonl` (one document a line: id, title, text, split,
source, lang), `pairs.jsonl` (aligned paragraphs or verses: source, split, lang, eng, text)
and `lines.jsonl` (isolated sentences: source, split, lang, text).
"""

from __future__ import annotations

import hashlib
import html.parser
import json
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from engine.codec.demo import LANGUAGES
from engine.data import sword
from engine.segment import split_sentences

VALID_PERCENT = 5
HELD_OUT_SOURCES = {"debian-reference"}  # whole source in split "test"
SKIPPED_PAGES = re.compile(r"license|licence|copyright|legalnotice|genindex|search|py-modindex")
NAV_CLASSES = {"topless", "title", "logo", "caption", "admonition-title", "rubric"}
# Page furniture, not the page's text: LibreOffice's header, side bars, "To access this
# command..." menu paths and debug footer ("This page is: /text/...xhp", "Title is: ...").
SKIPPED_TAGS = {"header", "footer", "nav", "aside"}
SKIPPED_DIV_CLASSES = {"howtoget", "debug"}
_LANG_SUFFIX = re.compile(r"\.(en|fr|de|es)\.html$")  # ch01.fr.html -> ch01.html


@dataclass(frozen=True)
class HtmlSource:
    """A manual translated into several languages: lang -> (package, HTML root)."""

    name: str
    roots: dict[str, tuple[str, str]]


def _manual(name: str, package: str, root: str, codes: dict[str, str]) -> HtmlSource:
    roots = {lang: (package.format(code=c), root.format(code=c)) for lang, c in codes.items()}
    return HtmlSource(name, roots)


HTML_SOURCES = (
    _manual(
        "debian-handbook",
        "debian-handbook",
        "usr/share/doc/debian-handbook/html/{code}",
        {"eng_Latn": "en-US", "fra_Latn": "fr-FR", "deu_Latn": "de-DE", "spa_Latn": "es-ES"},
    ),
    _manual(
        "gimp-help",
        "gimp-help-{code}",
        "usr/share/gimp/2.0/help/{code}",
        {"eng_Latn": "en", "fra_Latn": "fr", "deu_Latn": "de", "spa_Latn": "es"},
    ),
    HtmlSource(
        "libreoffice-help",
        {
            "eng_Latn": ("libreoffice-help-en-us", "usr/share/libreoffice/help/en-US"),
            **{
                lang: (f"libreoffice-help-{c}", f"usr/share/libreoffice/help/{c}")
                for lang, c in (("fra_Latn", "fr"), ("deu_Latn", "de"), ("spa_Latn", "es"))
            },
        },
    ),
    _manual(
        "debian-reference",
        "debian-reference-{code}",
        "usr/share/debian-reference",
        {"eng_Latn": "en", "fra_Latn": "fr", "deu_Latn": "de", "spa_Latn": "es"},
    ),
)
BIBLES = {  # lang -> (package, SWORD module directory)
    "eng_Latn": ("sword-text-web", "usr/share/sword/modules/texts/ztext/engWEB2015eb"),
    "spa_Latn": ("sword-text-sparv", "usr/share/sword/modules/texts/ztext/spaRV1909eb"),
}
WORDNET = ("wordnet-base", "usr/share/wordnet")

# Frequent function words: a paragraph that reads more like English than like its own
# language was left untranslated by the manual's translators.
_FUNCTION_WORDS = {
    "eng_Latn": "the and of to is you for this that with are on be it as can by or",
    "fra_Latn": "le la les et des est pour vous une dans que du sur par qui au pas",
    "deu_Latn": "der die das und ist nicht sie mit den ein eine zu für auf werden von",
    "spa_Latn": "el la los las y de que es para una por con del se en un",
}
_FUNCTION_SETS = {lang: set(words.split()) for lang, words in _FUNCTION_WORDS.items()}


class _ParagraphParser(html.parser.HTMLParser):
    """Collects the page <title> and the text of every paragraph element.

    Paragraphs are <p> (Sphinx, DocBook, LibreOffice) and DocBook's <div class="para">
    (the handbook). Text inside <pre> is dropped, as are the navigation paragraphs
    (class "topless", "title", ...) and everything inside page furniture (SKIPPED_TAGS,
    SKIPPED_DIV_CLASSES).
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.paragraphs: list[str] = []
        self._in_title = False
        self._para_tag: str | None = None  # tag name of the open paragraph element
        self._para_depth = 0  # nesting of that tag name inside the open paragraph
        self._depth_pre = 0
        self._skip_tag: str | None = None  # tag name of the open furniture element
        self._skip_depth = 0  # nesting of that tag name inside it
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        classes = set((dict(attrs).get("class") or "").split())
        if self._skip_tag is not None:
            self._skip_depth += tag == self._skip_tag
        elif tag in SKIPPED_TAGS or (tag == "div" and classes & SKIPPED_DIV_CLASSES):
            self._skip_tag, self._skip_depth = tag, 1
        elif tag == "title":
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
        if self._skip_tag is not None:
            self._skip_depth -= tag == self._skip_tag
            if self._skip_depth == 0:
                self._skip_tag = None
        elif tag == "title":
            self._in_title = False
        elif tag == "pre":
            self._depth_pre = max(0, self._depth_pre - 1)
        elif tag == self._para_tag:
            self._para_depth -= 1
            if self._para_depth == 0:
                self.paragraphs.append(" ".join("".join(self._buffer).split()))
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
    split: str  # "train", "valid" (held-out documents) or "test" (held-out source)
    source: str
    lang: str = "eng_Latn"


def split_of(doc_id: str) -> str:
    """Deterministic document-level split: about VALID_PERCENT % of documents are held out."""
    bucket = int(hashlib.sha256(doc_id.encode()).hexdigest(), 16) % 100
    return "valid" if bucket < VALID_PERCENT else "train"


def _split_for(source: str, doc_id: str) -> str:
    return "test" if source in HELD_OUT_SOURCES else split_of(doc_id)


def _is_prose(paragraph: str) -> bool:
    """Keep paragraphs that read like sentences, not labels, prompts or code fragments."""
    words = paragraph.split()
    return len(words) >= 4 and sum(c.isalpha() for c in paragraph) > 0.6 * len(paragraph)


def reads_as(text: str, lang: str) -> bool:
    """False when `text` holds more English function words than `lang`'s own."""
    if lang == "eng_Latn":
        return True
    words = re.findall(r"\w+", text.lower())
    own = sum(w in _FUNCTION_SETS[lang] for w in words)
    return own >= sum(w in _FUNCTION_SETS["eng_Latn"] for w in words)


def _parse(path: Path) -> _ParagraphParser:
    parser = _ParagraphParser()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def _pages(root: Path) -> dict[str, Path]:
    """Page key (path without a language suffix) -> file, skipping licence pages."""
    pages = {}
    for path in sorted(root.rglob("*.html")):
        rel = path.relative_to(root).as_posix()
        if not SKIPPED_PAGES.search(rel):
            pages[_LANG_SUFFIX.sub(".html", rel)] = path
    return pages


def _translated(paragraph: str, lang: str, english: str | None) -> bool:
    """A paragraph of a translated page that was translated (not left in English)."""
    return lang == "eng_Latn" or (paragraph != english and reads_as(paragraph, lang))


def _document(doc_id: str, title: str, paragraphs: list[str], split: str, source: str, lang: str):
    text = "\n\n".join(paragraphs)
    return "document", asdict(Document(f"{doc_id}#{lang}", title, text, split, source, lang))


def _pair(source: str, split: str, lang: str, eng: str, text: str) -> tuple[str, dict]:
    return "pair", {"source": source, "split": split, "lang": lang, "eng": eng, "text": text}


def read_manual(source: HtmlSource, roots: dict[str, Path]) -> Iterator[tuple[str, dict]]:
    """("document", Document) per page and language, ("pair", ...) per aligned paragraph."""
    pages = {lang: _pages(root) for lang, root in roots.items()}
    for key, english_path in pages.get("eng_Latn", {}).items():
        doc_id = f"{source.name}/{key}"
        split = _split_for(source.name, doc_id)
        english_page = _parse(english_path)
        english = english_page.paragraphs
        for lang, lang_pages in pages.items():
            if key not in lang_pages:
                continue
            parsed = english_page if lang == "eng_Latn" else _parse(lang_pages[key])
            aligned = len(parsed.paragraphs) == len(english)
            keep = [
                p
                for i, p in enumerate(parsed.paragraphs)
                if _is_prose(p) and _translated(p, lang, english[i] if aligned else None)
            ]
            if keep:
                title = " ".join(parsed.title.split())
                yield _document(doc_id, title, keep, split, source.name, lang)
            if lang != "eng_Latn" and aligned:
                for eng, other in zip(english, parsed.paragraphs, strict=True):
                    if _is_prose(eng) and _is_prose(other) and _translated(other, lang, eng):
                        yield _pair(source.name, split, lang, eng, other)


def read_bibles(roots: dict[str, Path]) -> Iterator[tuple[str, dict]]:
    """One document per chapter and language; verse pairs with the English Bible."""
    verses = {lang: sword.read_verses(root) for lang, root in roots.items()}
    english = verses["eng_Latn"]
    chapters: dict[str, dict[str, list]] = {lang: {} for lang in verses}  # lang -> chapter -> keys
    for lang, lang_verses in verses.items():
        for key in lang_verses:
            chapters[lang].setdefault(key[0], []).append(key)
    for chapter in chapters["eng_Latn"]:
        doc_id = f"bible/{chapter}"
        split = split_of(doc_id)
        for lang, lang_verses in verses.items():
            keys = chapters[lang].get(chapter, [])
            if keys:
                text = [" ".join(lang_verses[k] for k in keys)]
                yield _document(doc_id, chapter, text, split, "bible", lang)
            if lang != "eng_Latn":
                for k in (k for k in keys if k in english):
                    yield _pair("bible", split, lang, english[k], lang_verses[k])


_WORDNET_LINE = re.compile(r"^(\d{8}) .*?\| (.*)$")


def read_wordnet(root: Path) -> Iterator[tuple[str, dict]]:
    """Glosses and quoted example sentences of every synset, as isolated lines."""
    for part in ("noun", "verb", "adj", "adv"):
        path = root / f"data.{part}"
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        for line in lines:
            match = _WORDNET_LINE.match(line)
            if not match:
                continue
            split = split_of(f"wordnet/{part}/{match.group(1)}")
            gloss, *examples = match.group(2).strip().split("; ")
            for text in [gloss, *(e.strip('" ') for e in examples if e.startswith('"'))]:
                text = text.strip()
                if len(text.split()) >= 3:
                    text = text[0].upper() + text[1:] + ("" if text[-1] in ".!?" else ".")
                    record = {"source": "wordnet", "split": split, "lang": "eng_Latn"}
                    yield "line", {**record, "text": text}


def packages() -> list[str]:
    """Every Debian package the corpus is built from."""
    names = [pkg for source in HTML_SOURCES for pkg, _ in source.roots.values()]
    return [*names, *(pkg for pkg, _ in BIBLES.values()), WORDNET[0]]


def fetch_packages(download_dir: Path) -> dict[str, Path]:
    """`apt-get download` each package and unpack it; returns package -> unpacked root."""
    download_dir.mkdir(parents=True, exist_ok=True)
    roots = {}
    for package in packages():
        unpacked = download_dir / package
        if not (unpacked / "usr").is_dir():
            if not list(download_dir.glob(f"{package}_*.deb")):
                subprocess.run(["apt-get", "download", package], cwd=download_dir, check=True)
            deb = sorted(download_dir.glob(f"{package}_*.deb"))[-1]
            subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
        roots[package] = unpacked
    return roots


def read_all(unpacked: dict[str, Path]) -> Iterator[tuple[str, dict]]:
    """Every record of the corpus, from unpacked packages (package -> root)."""
    for source in HTML_SOURCES:
        roots = {lang: unpacked[pkg] / path for lang, (pkg, path) in source.roots.items()}
        yield from read_manual(source, {k: v for k, v in roots.items() if v.is_dir()})
    yield from read_bibles({lang: unpacked[pkg] / path for lang, (pkg, path) in BIBLES.items()})
    yield from read_wordnet(unpacked[WORDNET[0]] / WORDNET[1])


OUTPUTS = {"document": "documents.jsonl", "pair": "pairs.jsonl", "line": "lines.jsonl"}


def build_corpus(out_dir: str | Path, download_dir: str | Path | None = None) -> Path:
    """Fetch the packages and write the three JSONL files; returns the documents' path.

    Skipped when already built.
    """
    out_dir = Path(out_dir)
    out_path = out_dir / OUTPUTS["document"]
    if out_path.exists():
        return out_path
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        unpacked = fetch_packages(Path(download_dir) if download_dir else Path(tmp))
        files = {kind: (out_dir / name).with_suffix(".partial").open("w", encoding="utf-8")
                 for kind, name in OUTPUTS.items()}  # fmt: skip
        for kind, record in read_all(unpacked):
            files[kind].write(json.dumps(record, ensure_ascii=False) + "\n")
        for kind, f in files.items():
            f.close()
            if kind != "document":
                (out_dir / OUTPUTS[kind]).with_suffix(".partial").rename(out_dir / OUTPUTS[kind])
        out_path.with_suffix(".partial").rename(out_path)  # last: marks the build complete
    return out_path


def read_documents(
    path: str | Path, split: str | None = None, lang: str | None = None
) -> Iterator[dict]:
    """Records of a JSONL file of the corpus, optionally of one split and one language."""
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            if (split is None or doc["split"] == split) and (
                lang is None or doc.get("lang", "eng_Latn") == lang
            ):
                yield doc


def document_sentences(doc: dict) -> list[str]:
    """A document's sentences (capped at 200 characters), paragraph by paragraph."""
    lang = doc.get("lang", "eng_Latn")
    return [" ".join(s.split()) for para in doc["text"].split("\n\n")
            for s in split_sentences(para, lang=lang)]  # fmt: skip


def sentence_pairs(pair: dict, max_chars: int = 200) -> list[tuple[str, str]]:
    """Aligned sentences of an aligned paragraph: one to one where both sides split into
    the same number of sentences, else the whole paragraphs when both are short enough."""
    eng = [" ".join(s.split()) for s in split_sentences(pair["eng"], lang="eng_Latn")]
    other = [" ".join(s.split()) for s in split_sentences(pair["text"], lang=pair["lang"])]
    if len(eng) == len(other):
        return list(zip(eng, other, strict=True))
    if max(len(pair["eng"]), len(pair["text"])) <= max_chars:
        return [(" ".join(pair["eng"].split()), " ".join(pair["text"].split()))]
    return []


SPLITS = ("train", "valid", "test")


def write_sentences(corpus_path: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Write the codec's training and evaluation text from a built corpus:
    `sentences.{split}.{lang}.txt` (one sentence a line: documents, then isolated lines)
    and `pairs.{split}.tsv` (lang, English sentence, its translation). Skipped when done."""
    corpus_dir, out_dir = Path(corpus_path).parent, Path(out_dir)
    paths = {f"{split}.{lang}": out_dir / f"sentences.{split}.{lang}.txt"
             for split in SPLITS for lang in LANGUAGES}  # fmt: skip
    paths |= {f"pairs.{split}": out_dir / f"pairs.{split}.tsv" for split in SPLITS}
    if all(p.exists() for p in paths.values()):
        return paths
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {key: p.with_suffix(".partial").open("w", encoding="utf-8") for key, p in paths.items()}
    for doc in read_documents(corpus_dir / OUTPUTS["document"]):
        for sentence in document_sentences(doc):
            files[f"{doc['split']}.{doc['lang']}"].write(sentence + "\n")
    for line in read_documents(corpus_dir / OUTPUTS["line"]):
        files[f"{line['split']}.{line['lang']}"].write(" ".join(line["text"].split()) + "\n")
    for pair in read_documents(corpus_dir / OUTPUTS["pair"]):
        for eng, other in sentence_pairs(pair):
            files[f"pairs.{pair['split']}"].write(f"{pair['lang']}\t{eng}\t{other}\n")
    for key, f in files.items():
        f.close()
        paths[key].with_suffix(".partial").rename(paths[key])
    return paths


MIN_DOCUMENT_SENTENCES = 3


def write_documents(corpus_path: str | Path, out: str | Path, lang: str, splits=("train", "valid")):
    """The documents of one language and some splits with at least MIN_DOCUMENT_SENTENCES
    sentences, as a JSONL file for `prepare`. Shorter pages (a one-line function summary,
    a stub) are not documents an LCM learns to write from: they taught the demo LCM to
    fill continuations with one-line stubs."""
    out = Path(out)
    if not out.exists():
        partial = out.with_suffix(".partial")
        with partial.open("w", encoding="utf-8") as f:
            for doc in read_documents(corpus_path, lang=lang):
                long_enough = len(document_sentences(doc)) >= MIN_DOCUMENT_SENTENCES
                if doc["split"] in splits and long_enough:
                    f.write(json.dumps(doc, ensure_ascii=False) + "\n")
        partial.rename(out)
    return out
