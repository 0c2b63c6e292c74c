"""Text metrics against values computed by hand on small examples."""

import math

import pytest

from engine.eval.text_metrics import auto_bleu, ngram_overlap, ngram_repetition, rouge_l, words


def test_words_are_lowercased_and_punctuation_free():
    assert words("Hello, World! It's 42.") == ["hello", "world", "it", "s", "42"]


def test_ovl3_counts_word_trigrams_shared_with_the_source():
    # prediction trigrams: the cat sat | cat sat on | sat on the | on the mat; only
    # "cat sat on" is in the source.
    assert ngram_overlap("The cat sat on the mat.", "A cat sat on a mat.", n=3) == 0.25
    assert ngram_overlap("Too short", "Too short", n=3) == 0.0


def test_rep4_is_the_share_of_repeated_word_fourgrams():
    # 4-grams: abcd bcda cdab dabc abcd -> 5 in all, 1 repeat
    assert ngram_repetition("a b c d a b c d", n=4) == pytest.approx(0.2)
    assert ngram_repetition("one two three four five", n=4) == 0.0


def test_rep4_counts_words_not_characters():
    # As characters "aaaaaaaa" would be all repeats; as words it is a single 1-gram.
    assert ngram_repetition("aaaaaaaa", n=4) == 0.0


def test_rouge_l_is_the_lcs_f_measure():
    # LCS = 3 words; precision 3/3, recall 3/6 -> F = 2 * 1 * 0.5 / 1.5
    assert rouge_l("the cat sat", "the cat sat on the mat") == pytest.approx(2 / 3)
    assert rouge_l("dogs bark", "the cat sat") == 0.0


def test_auto_bleu_matches_the_geometric_mean_of_ngram_precisions():
    # precisions 5/6, 3/5, 2/4, 1/3; same length so no brevity penalty
    expected = 100 * math.exp(sum(map(math.log, [5 / 6, 3 / 5, 2 / 4, 1 / 3])) / 4)
    assert auto_bleu(["the cat sat on a mat"], ["the cat sat on the mat"]) == pytest.approx(
        expected, abs=0.01
    )
    assert auto_bleu(["same words here ok"], ["same words here ok"]) == pytest.approx(100.0)


def test_auto_bleu_rejects_mismatched_lists():
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        auto_bleu(["a", "b"], ["a"])
