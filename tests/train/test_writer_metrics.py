"""Writer-facing metrics: hand-computed cases, then a run on a tiny codec and a toy LCM."""

import argparse
import json

import numpy as np
import pytest
import torch

from cli import evaluate as eval_command
from cli.configs import config_from
from engine.data.shards import END_OF_TEXT, read_documents
from engine.eval import writer_metrics as wm
from engine.eval.evaluate import EvalConfig, evaluate
from engine.eval.text_metrics import words
from tests.codec.tiny_sonar import build_tiny_sonar
from tests.lcm.helpers import toy_model
from tests.train.synthetic import prepared_shards

TEXT = [
    "The sun rose. Birds sang in the trees. A farmer walked to the field.",
    "Rain came at noon. The roads were wet. Children stayed inside.",
    "The market opened early. Traders shouted prices. Buyers came and went.",
    "Night fell on the town. Lamps were lit. The streets grew quiet.",
    "A ship left the harbour. Gulls followed it. The sea was calm.",
    "The school bell rang. Pupils ran outside. A teacher watched them.",
]


def test_word_rate_follows_the_documented_convention(tmp_path):
    path = tmp_path / "words"
    path.write_text("The\ndon't\nwell\nknown\ndog\n\n")
    listed = wm.load_word_list(path)
    assert listed == {"the", "don't", "well", "known", "dog"}
    text = "The dog's well-known friend don’t 42 3rd xyzzy."
    # tokens: the, dog's (via dog), well, known, friend (no), don't (curly), xyzzy (no);
    # 42 and 3rd are not words
    assert wm.word_tokens(text) == ["the", "dog's", "well", "known", "friend", "don't", "xyzzy"]
    assert wm.dictionary_word_rate([text, "1990!"], listed) == pytest.approx(5 / 7)
    assert wm.dictionary_word_rate(["", "42"], listed) == 0.0


def test_an_empty_word_list_is_refused(tmp_path):
    (tmp_path / "empty").write_text("\n\n")
    with pytest.raises(ValueError, match="empty"):
        wm.load_word_list(tmp_path / "empty")


def test_distinct_alternatives_and_distinct_2():
    alternatives = ["The cat sat.", "The cat  sat.", "A dog ran.", "The cat sat!"]
    assert wm.distinct_share(alternatives) == 0.75  # the first two differ only in spacing
    assert wm.distinct_share(["Same."] * 4) == 0.25
    # bigrams: the cat, cat sat, the cat, cat ran -> 3 distinct of 4
    assert wm.distinct_n(["the cat sat", "the cat ran"], 2) == 0.75
    assert wm.distinct_n(["one", "word"], 2) == 0.0


def test_rep4_of_continuations_against_the_held_out_text():
    # "a b c d a b c d": 1 of 5 four-grams repeats; the other texts repeat none
    assert wm.mean_repetition(["a b c d a b c d", "one two three four five"], 4) == 0.1
    assert wm.mean_repetition(["too short"], 4) == 0.0


def test_cosine_of_alternatives_to_targets():
    alternatives = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert wm.mean_cosine_to(alternatives, torch.tensor([[3.0, 0.0]])) == pytest.approx(0.5)
    neighbours = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert wm.mean_cosine_to(alternatives[:1], neighbours) == pytest.approx(0.5)


def test_positions_skip_the_first_sentence_and_the_end_of_text_marker():
    doc = {"sentences": ["s0.", "s1.", "s2.", END_OF_TEXT], "embeddings": np.eye(4, 3, -1)}
    short = {"sentences": ["only.", END_OF_TEXT], "embeddings": np.zeros((2, 3))}
    places = wm.sample_positions([short, doc], 5, np.random.default_rng(0))
    assert [p.index for p in places] == [1, 2] and all(p.doc is doc for p in places)
    middle, last = places
    assert middle.sentence == "s1." and middle.context_tail(2) == "s0."
    assert last.context_tail(2) == "s0. s1." and last.held_out(5) == "s2."
    assert middle.held_out(5) == "s1. s2."
    torch.testing.assert_close(middle.neighbours, torch.from_numpy(doc["embeddings"][[0, 2]]))
    torch.testing.assert_close(last.neighbours, torch.from_numpy(doc["embeddings"][[1]]))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("writer")
    codec = build_tiny_sonar(tmp_path_factory.mktemp("codec"))
    prepared_shards(root, codec, TEXT)
    word_list = root / "words"
    word_list.write_text("\n".join(sorted({w for t in TEXT for w in words(t)})) + "\n")
    model = toy_model(dim=codec.dim)
    return root, codec, model, read_documents(root / "s", "valid")


def test_writer_metrics_end_to_end_is_seeded_and_in_range(setup):
    root, codec, model, docs = setup
    listed = wm.load_word_list(root / "words")
    run = wm.writer_metrics(model, codec, docs, listed, k=4, positions=2, continuation=5, seed=3)
    assert run == wm.writer_metrics(model, codec, docs, listed, positions=2, seed=3)
    # the figures no sampler changes, computed once by a sweep, are the ones computed here
    reference = wm.reference_figures(codec, docs, listed, positions=2, seed=3)
    assert reference.items() <= run.items()
    given = wm.writer_metrics(model, codec, docs, listed, positions=2, seed=3, reference=reference)
    assert given == run

    assert run["positions"] == 12 and run["k"] == 4  # 6 documents x sentences 2 and 3
    assert run["held_out_word_rate"] == 1.0  # the list holds every word of the corpus
    true = [s for d in docs for s in d["sentences"][1:3]]
    decoded = codec.decode(codec.encode(true))
    assert run["round_trip_word_rate"] == pytest.approx(wm.dictionary_word_rate(decoded, listed))
    for key in ("regen_word_rate", "continuation_word_rate", "regen_distinct", "regen_distinct_2"):
        assert 0.0 <= run[key] <= 1.0, key
    assert 0.25 <= run["regen_distinct"] <= 1.0
    for key in ("regen_cosine_true", "regen_cosine_neighbours", "held_out_cosine_neighbours"):
        assert -1.0 <= run[key] <= 1.0, key
    assert 0.0 <= run["continuation_rep_4"] <= 1.0 and 0.0 <= run["held_out_rep_4"] <= 1.0
    # the round trip's REP-4 is that of the decoded concepts of the held-out sentences
    places = wm.sample_positions(docs, 2, np.random.default_rng(3))
    round_trips = [" ".join(codec.decode(p.held_out_concepts(5))) for p in places]
    assert run["round_trip_rep_4"] == pytest.approx(wm.mean_repetition(round_trips, 4))

    examples = run["examples"]
    assert len(examples) == 10
    assert all(ex["true"] in true and len(ex["alternatives"]) == 4 for ex in examples)
    assert all(ex["context"] and ex["true"] in ex["held_out_continuation"] for ex in examples)
    assert "### Example 10" in wm.examples_markdown(examples)


def test_eval_cli_adds_the_writer_section_only_when_asked(setup):
    root, codec, model, _ = setup
    parser = argparse.ArgumentParser()
    eval_command.add_arguments(parser)
    common = ["--model", "toy", "--data", str(root / "s"), "--max-new", "1", "--positions", "1"]
    common += ["--max-sentences", "2", "--noise-levels", "0.1"]
    args = parser.parse_args(
        common + ["--out", str(root / "e"), "--writer-words", str(root / "words")]
    )
    results = evaluate(config_from(EvalConfig, args), model=model, codec=codec)
    saved = json.loads((root / "e" / "eval.json").read_text())
    assert saved["writer"] == results["writer"] and saved["writer"]["positions"] == 6
    assert len(saved["writer_examples"]) == 6  # fewer positions than ten examples
    table = (root / "e" / "eval.md").read_text()
    assert "| writer | regen_word_rate |" in table and "### Example 6" in table

    args = parser.parse_args(common + ["--out", str(root / "p")])
    plain = evaluate(config_from(EvalConfig, args), model=model, codec=codec)
    assert "writer" not in plain and "Writer examples" not in (root / "p" / "eval.md").read_text()
