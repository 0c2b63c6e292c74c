"""Small files laid out like the Debian packages the demo corpus is built from."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from engine.data.corpus import BIBLES, HTML_SOURCES, WORDNET, packages

GIMP = next(s for s in HTML_SOURCES if s.name == "gimp-help")
REFERENCE = next(s for s in HTML_SOURCES if s.name == "debian-reference")

ENGLISH_PAGE = """<html><head><title>Layers</title></head><body>
<header><p>The GIMP user manual, version two point ten</p></header>
<div class="navheader"><p class="title">Previous page</p></div>
<p>A layer is like a sheet of glass. You can stack as many as you like.</p>
<div class="howtoget"><div><p>To access this command, open the menu:</p></div>
<div class="body"><p>Choose Layer - New Layer from the menu.</p></div></div>
<div class="informalexample"><pre class="screen">gimp --batch</pre></div>
<p>Each layer has its own opacity and mode.</p>
<p>Open the Layers dialog to see them.</p>
<footer><div class="debug"><p>This page is: /text/layers.xhp</p></div></footer>
</body></html>"""  # LibreOffice's page furniture: header, "how to get" box, debug footer
FRENCH_PAGE = """<html><head><title>Calques</title></head><body>
<div class="navheader"><p class="title">Page précédente</p></div>
<p>Un calque est comme une feuille de verre. Vous pouvez en empiler autant que vous voulez.</p>
<p>Chaque calque a sa propre opacité et son mode.</p>
<p>Open the Layers dialog to see them.</p>
</body></html>"""  # the last paragraph was left untranslated
LICENSE_PAGE = "<html><body><p>Permission is hereby granted to copy this text.</p></body></html>"


def write_ztext(module_dir: Path, slots: list[str]) -> None:
    """A one-block SWORD zText Old Testament holding `slots`, in the format's layout."""
    module_dir.mkdir(parents=True)
    block = "".join(slots).encode()
    compressed = zlib.compress(block)
    (module_dir / "ot.bzz").write_bytes(compressed)
    (module_dir / "ot.bzs").write_bytes(struct.pack("<III", 0, len(compressed), len(block)))
    index, offset = b"", 0
    for slot in slots:
        size = len(slot.encode())
        index += struct.pack("<IIH", 0, offset, size)
        offset += size
    (module_dir / "ot.bzv").write_bytes(index)


ENGLISH_SLOTS = [
    "",
    '<div type="book" osisID="Gen"/>',
    '<chapter osisID="Gen.1" n="1"/>',
    "<w>In the beginning</w>, God<note>a footnote</note><w>created</w> the heavens.",
    "The earth was empty .",
]
SPANISH_SLOTS = [
    "",
    '<div type="book" osisID="Gen"/>',
    '<chapter osisID="Gen.1" n="1"/>',
    "<w>EN el principio</w> crió Dios los cielos.",
    "Y la tierra estaba vacía.",
]


def unpacked_packages(root: Path, pages: int = 1) -> Path:
    """A download directory in which every package looks fetched and unpacked; the GIMP
    manual has `pages` copies of its page in English and French."""
    for package in packages():
        (root / package / "usr").mkdir(parents=True, exist_ok=True)
    for lang, page in (("eng_Latn", ENGLISH_PAGE), ("fra_Latn", FRENCH_PAGE)):
        package, html_dir = GIMP.roots[lang]
        (root / package / html_dir).mkdir(parents=True)
        for i in range(pages):
            (root / package / html_dir / f"layers{i or ''}.html").write_text(page)
        (root / package / html_dir / "license.html").write_text(LICENSE_PAGE)
    package, html_dir = REFERENCE.roots["eng_Latn"]
    (root / package / html_dir).mkdir(parents=True)
    (root / package / html_dir / "ch01.en.html").write_text(ENGLISH_PAGE)
    for lang, slots in (("eng_Latn", ENGLISH_SLOTS), ("spa_Latn", SPANISH_SLOTS)):
        package, module = BIBLES[lang]
        write_ztext(root / package / module, slots)
    wordnet = root / WORDNET[0] / WORDNET[1]
    wordnet.mkdir(parents=True)
    (wordnet / "data.noun").write_text(
        "  1 This software and database is being provided to you under a licence.\n"
        "02084071 05 n 01 dog 0 000 | a member of the genus Canis; "
        '"the dog barked all night"\n'
        "02121620 05 n 01 cat 0 000 | feline mammal\n"
    )
    return root
