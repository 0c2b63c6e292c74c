"""The demo corpus builder, on small HTML pages laid out like the two Debian packages."""

from __future__ import annotations

import json
from pathlib import Path

from engine.data.corpus import PACKAGES, build_corpus, read_documents, split_of, write_sentences

SPHINX_PAGE = """<html><head><title>os — Miscellaneous interfaces</title></head><body>
<div class="body" role="main"><section><h1>os</h1>
<p>This module provides a portable way of using operating system functionality.
If you just want to read a file, see <a href="#">open()</a>.</p>
<div class="highlight"><pre>import os
print(os.getcwd())</pre></div>
<p>New in 3.3.</p>
</section></div>
<div class="sphinxsidebar"><h4>Previous topic</h4>
<p class="topless"><a href="io.html">The io module and its many stream classes</a></p></div>
</body></html>"""

DOCBOOK_PAGE = """<html><head><title>6.2. apt-get</title></head><body>
<div class="para">
The apt-get command installs packages. It resolves the dependencies for you.
<div class="informalexample"><pre class="screen"># apt-get install foo</pre></div>
</div>
<p class="title"><strong>Figure 6.1. The apt-get command in a terminal</strong></p>
<div class="para">Removing a package is just as easy as installing it.</div>
</body></html>"""

LICENSE_PAGE = (
    "<html><body><p>Permission is hereby granted to copy this text freely.</p></body></html>"
)


def _unpacked_packages(root: Path) -> Path:
    """A download directory in which both packages look already fetched and unpacked."""
    python_html = root / "python3.11-doc" / PACKAGES["python3.11-doc"]
    handbook_html = root / "debian-handbook" / PACKAGES["debian-handbook"]
    for directory in (python_html / "library", handbook_html):
        directory.mkdir(parents=True)
    (python_html / "library" / "os.html").write_text(SPHINX_PAGE)
    (python_html / "license.html").write_text(LICENSE_PAGE)
    (handbook_html / "sect.apt-get.html").write_text(DOCBOOK_PAGE)
    return root


def test_build_corpus_keeps_prose_paragraphs_only(tmp_path):
    path = build_corpus(tmp_path / "corpus", _unpacked_packages(tmp_path / "debs"))
    docs = {d["id"]: d for d in read_documents(path)}
    assert set(docs) == {"python3.11-doc/library/os.html", "debian-handbook/sect.apt-get.html"}
    python = docs["python3.11-doc/library/os.html"]
    assert python["title"] == "os — Miscellaneous interfaces"
    assert python["text"] == (
        "This module provides a portable way of using operating system functionality. "
        "If you just want to read a file, see open()."
    )  # no code, no sidebar, no three-word note
    handbook = docs["debian-handbook/sect.apt-get.html"]
    assert handbook["text"] == (
        "The apt-get command installs packages. It resolves the dependencies for you."
        "\n\nRemoving a package is just as easy as installing it."
    )
    assert {d["split"] for d in docs.values()} <= {"train", "valid"}
    assert all(d["split"] == split_of(d["id"]) for d in docs.values())


def test_build_corpus_does_not_rebuild_an_existing_corpus(tmp_path):
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "documents.jsonl").write_text('{"id": "x", "text": "kept", "split": "train"}\n')
    assert build_corpus(out, tmp_path / "nowhere") == out / "documents.jsonl"
    assert next(read_documents(out / "documents.jsonl"))["text"] == "kept"


def test_split_is_deterministic_and_holds_out_about_five_percent():
    ids = [f"python3.11-doc/page{i}.html" for i in range(4000)]
    valid = [i for i in ids if split_of(i) == "valid"]
    assert 0.035 < len(valid) / len(ids) < 0.065
    assert valid == [i for i in ids if split_of(i) == "valid"]


def test_write_sentences_separates_the_splits(tmp_path):
    docs = [
        {"id": "a", "text": "One sentence here. Another one follows.\n\nNew paragraph.",
         "split": "train"},
        {"id": "b", "text": "Held out text stays apart.", "split": "valid"},
    ]  # fmt: skip
    path = tmp_path / "documents.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    files = write_sentences(path, tmp_path)
    assert files["train"].read_text().splitlines() == [
        "One sentence here.",
        "Another one follows.",
        "New paragraph.",
    ]
    assert files["valid"].read_text().splitlines() == ["Held out text stays apart."]
