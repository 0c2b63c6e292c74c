"""The demo corpus builder, on small files laid out like the Debian packages it reads."""

from __future__ import annotations

import json

from engine.data import sword
from engine.data.corpus import (
    build_corpus,
    read_documents,
    reads_as,
    sentence_pairs,
    split_of,
    write_documents,
    write_sentences,
)
from tests.demo.debs import ENGLISH_SLOTS, SPANISH_SLOTS, unpacked_packages, write_ztext


def test_sword_verses_are_keyed_by_chapter_and_number_with_markup_removed(tmp_path):
    write_ztext(tmp_path / "web", ENGLISH_SLOTS)
    assert sword.read_verses(tmp_path / "web") == {
        ("Gen.1", 1): "In the beginning, God created the heavens.",
        ("Gen.1", 2): "The earth was empty.",
    }
    write_ztext(tmp_path / "rv", SPANISH_SLOTS)
    assert (
        sword.read_verses(tmp_path / "rv")[("Gen.1", 1)] == "En el principio crió Dios los cielos."
    )


def test_build_corpus_writes_documents_aligned_pairs_and_lines(tmp_path):
    path = build_corpus(tmp_path / "corpus", unpacked_packages(tmp_path / "debs"))
    docs = {d["id"]: d for d in read_documents(path)}
    assert set(docs) == {
        "gimp-help/layers.html#eng_Latn",
        "gimp-help/layers.html#fra_Latn",
        "debian-reference/ch01.html#eng_Latn",
        "bible/Gen.1#eng_Latn",
        "bible/Gen.1#spa_Latn",
    }
    english, french = docs["gimp-help/layers.html#eng_Latn"], docs["gimp-help/layers.html#fra_Latn"]
    assert english["text"].split("\n\n") == [
        "A layer is like a sheet of glass. You can stack as many as you like.",
        "Each layer has its own opacity and mode.",
        "Open the Layers dialog to see them.",
    ]  # no navigation, no page furniture, no code, no licence page
    assert french["text"].count("\n\n") == 1  # the untranslated paragraph is not French
    assert french["lang"] == "fra_Latn" and french["split"] == english["split"]
    assert english["split"] == split_of("gimp-help/layers.html")
    assert docs["debian-reference/ch01.html#eng_Latn"]["split"] == "test"  # held-out source

    pairs = list(read_documents(tmp_path / "corpus" / "pairs.jsonl"))
    assert [(p["source"], p["lang"], p["eng"][:14], p["text"][:14]) for p in pairs] == [
        ("gimp-help", "fra_Latn", "A layer is lik", "Un calque est "),
        ("gimp-help", "fra_Latn", "Each layer has", "Chaque calque "),
        ("bible", "spa_Latn", "In the beginni", "En el principi"),
        ("bible", "spa_Latn", "The earth was ", "Y la tierra es"),
    ]
    lines = [line["text"] for line in read_documents(tmp_path / "corpus" / "lines.jsonl")]
    assert lines == ["A member of the genus Canis.", "The dog barked all night."]


def test_write_sentences_splits_aligned_paragraphs_into_aligned_sentences(tmp_path):
    build_corpus(tmp_path / "corpus", unpacked_packages(tmp_path / "debs"))
    files = write_sentences(tmp_path / "corpus" / "documents.jsonl", tmp_path / "out")
    split = split_of("gimp-help/layers.html")
    french = files[f"{split}.fra_Latn"].read_text().splitlines()
    assert french[:2] == [
        "Un calque est comme une feuille de verre.",
        "Vous pouvez en empiler autant que vous voulez.",
    ]
    rows = [r.split("\t") for r in files[f"pairs.{split}"].read_text().splitlines()]
    assert rows[:2] == [
        ["fra_Latn", "A layer is like a sheet of glass.",
         "Un calque est comme une feuille de verre."],
        ["fra_Latn", "You can stack as many as you like.",
         "Vous pouvez en empiler autant que vous voulez."],
    ]  # fmt: skip
    assert "A member of the genus Canis." in (
        files["train.eng_Latn"].read_text() + files["valid.eng_Latn"].read_text()
    )
    assert files["test.eng_Latn"].read_text().startswith("A layer is like a sheet of glass.\n")


def test_sentences_of_a_pair_align_only_when_they_match_one_to_one():
    pair = {"lang": "deu_Latn", "eng": "One. Two.", "text": "Eins. Zwei."}
    assert sentence_pairs(pair) == [("One.", "Eins."), ("Two.", "Zwei.")]
    merged = {"lang": "deu_Latn", "eng": "One. Two.", "text": "Eins und zwei."}
    assert sentence_pairs(merged) == [("One. Two.", "Eins und zwei.")]  # short: kept whole
    long = {"lang": "deu_Latn", "eng": "One. Two. " * 20, "text": "Eins und zwei. " * 30}
    assert sentence_pairs(long) == []


def test_untranslated_paragraphs_are_recognised_by_their_function_words():
    assert reads_as("Le chat est sur la table et il dort.", "fra_Latn")
    assert not reads_as("The cat is on the table and it sleeps.", "fra_Latn")
    assert reads_as("Die Katze ist auf dem Tisch und schläft.", "deu_Latn")
    assert reads_as("El gato está en la mesa y duerme.", "spa_Latn")


def test_build_corpus_does_not_rebuild_an_existing_corpus(tmp_path):
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "documents.jsonl").write_text('{"id": "x", "text": "kept", "split": "train"}\n')
    assert build_corpus(out, tmp_path / "nowhere") == out / "documents.jsonl"
    assert next(read_documents(out / "documents.jsonl"))["text"] == "kept"


def test_split_is_deterministic_and_holds_out_about_five_percent():
    ids = [f"gimp-help/page{i}.html" for i in range(4000)]
    valid = [i for i in ids if split_of(i) == "valid"]
    assert 0.035 < len(valid) / len(ids) < 0.065
    assert valid == [i for i in ids if split_of(i) == "valid"]


def test_documents_filter_by_split_and_language(tmp_path):
    rows = [
        {"id": "a", "text": "x", "split": "train", "lang": "eng_Latn"},
        {"id": "b", "text": "y", "split": "train", "lang": "fra_Latn"},
        {"id": "c", "text": "z", "split": "valid"},  # no language: English
    ]
    path = tmp_path / "documents.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [d["id"] for d in read_documents(path, lang="eng_Latn")] == ["a", "c"]
    assert [d["id"] for d in read_documents(path, "train", "fra_Latn")] == ["b"]


def test_lcm_documents_are_one_language_and_three_sentences_or_more(tmp_path):
    three = "One thing happened. Then another did.\n\nIt ended there."
    rows = [
        {"id": "long", "text": three, "split": "train", "lang": "eng_Latn"},
        {"id": "stub", "text": "Converts text. Returns it.", "split": "train", "lang": "eng_Latn"},
        {"id": "french", "text": "Un. Deux. Trois.", "split": "train", "lang": "fra_Latn"},
        {"id": "held", "text": three, "split": "valid", "lang": "eng_Latn"},
        {"id": "test", "text": three, "split": "test", "lang": "eng_Latn"},
    ]
    corpus = tmp_path / "documents.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = write_documents(corpus, tmp_path / "eng.jsonl", "eng_Latn")
    assert [d["id"] for d in read_documents(out)] == ["long", "held"]
