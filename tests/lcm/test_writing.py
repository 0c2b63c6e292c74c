"""Writing sentences after a context (engine.writing) with the bundled demo models: exactly
the sentences asked for, their text is their concepts' decoding, and a sentence that
repeats a phrase of the ones before it is drawn again."""

from __future__ import annotations

import pytest
import torch

from engine.codec import load_codec
from engine.eval.text_metrics import words
from engine.lcm import load_lcm
from engine.writing import repeated_phrases, write_after

OPENINGS = [
    ["The night train left the city a few minutes late.", "Most of the carriages were empty."],
    ["The bakery opens at six.", "By seven the first loaves are out of the oven."],
    ["Click the Layers tab to show the dialog.", "Each layer has its own row."],
    ["And the king went up to the temple.", "The people followed him."],
    ["Rain came at noon.", "The roads were wet and the children stayed inside."],
    ["To install a package, open a terminal.", "Type the command and press Enter."],
]


@pytest.fixture(scope="module")
def models():
    torch.set_num_threads(1)
    return load_codec("demo", device="cpu"), load_lcm("demo", device="cpu")


@pytest.fixture(scope="module")
def contexts(models):
    codec, _ = models
    return [codec.encode(lines, lang="eng_Latn") for lines in OPENINGS]


def test_repeated_phrases_counts_the_four_grams_the_text_already_has():
    before = words("The cat sat on")
    # "the cat sat on the cat sat on the mat": "the cat sat on" and "cat sat on the" again
    assert repeated_phrases("the cat sat on the mat.", before) == 2
    assert repeated_phrases("A dog ran to a tree.", before) == 0
    assert repeated_phrases("a b c d a b c d", []) == 1
    # across sentence ends: "converts text converts text" + "converts text" repeats the
    # 4-gram "converts text converts text"
    assert repeated_phrases("Converts text.", words("Converts text. Converts text.")) == 1
    assert repeated_phrases("Too short.", []) == 0


def test_writes_exactly_the_sentences_asked_for_as_the_decoding_of_their_concepts(models, contexts):
    codec, lcm = models
    written = write_after(lcm, codec, contexts, 5, "eng_Latn", seed=0)
    assert [len(w.texts) for w in written] == [5] * len(OPENINGS)
    for w in written:
        assert w.concepts.shape == (5, codec.dim) and w.concepts.dtype == torch.float32
        assert list(w.texts) == codec.decode(w.concepts, lang="eng_Latn")
    again = write_after(lcm, codec, contexts, 5, "eng_Latn", seed=0)
    assert [w.texts for w in again] == [w.texts for w in written]
    assert write_after(lcm, codec, contexts, 5, "eng_Latn", seed=1)[0].texts != written[0].texts


def test_a_sentence_that_repeats_a_phrase_is_drawn_again(models, contexts):
    codec, lcm = models

    def repeats(tries: int) -> int:
        total = 0
        for w in write_after(lcm, codec, contexts, 5, "eng_Latn", seed=0, tries=tries):
            text: list[str] = []
            for sentence in w.texts:
                total += repeated_phrases(sentence, text)
                text += words(sentence)
        return total

    once, guarded = repeats(1), repeats(8)
    assert once > 0  # the demo LCM left alone repeats itself within five sentences
    assert guarded < once / 2


def test_until_end_gives_the_first_sentence_then_stops_where_the_text_ends(models, contexts):
    codec, lcm = models
    # every concept counts as the end of the text: only the first sentence comes
    ended = write_after(lcm, codec, contexts, 5, "eng_Latn", seed=0, until_end=True,
                        eot_threshold=-1.0)  # fmt: skip
    assert [len(w.texts) for w in ended] == [1] * len(OPENINGS)
    endless = write_after(lcm, codec, contexts[:2], 4, "eng_Latn", seed=0, until_end=True,
                          eot_threshold=2.0, repeat_threshold=2.0)  # fmt: skip
    assert [len(w.texts) for w in endless] == [4, 4]


def test_bad_counts_are_refused(models, contexts):
    codec, lcm = models
    with pytest.raises(ValueError, match="count must be >= 0"):
        write_after(lcm, codec, contexts, -1, "eng_Latn", seed=0)
    with pytest.raises(ValueError, match="tries must be >= 1"):
        write_after(lcm, codec, contexts, 2, "eng_Latn", seed=0, tries=0)
    assert write_after(lcm, codec, contexts[:1], 0, "eng_Latn", seed=0)[0].texts == ()
