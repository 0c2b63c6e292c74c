"""Metrics on text: ROUGE-L, n-gram overlap and repetition, AutoBLEU.

All functions are pure: strings in, floats out. N-grams are counted on *words* (the
reference implementation counts characters, which makes OVL/REP meaningless for prose).
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING

import sacrebleu

if TYPE_CHECKING:
    from rouge_score.rouge_scorer import RougeScorer

_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-cased word tokens; punctuation is not a word."""
    return _WORD.findall(text.lower())


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


@lru_cache(maxsize=1)
def _rouge_l() -> RougeScorer:
    # Imported here: rouge-score loads nltk and scipy (~6 s, ~170 MiB), which the app, whose
    # writing guard needs only `words` and `ngrams`, should not pay for.
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure in [0, 1] (the rouge-score package, no stemming)."""
    return _rouge_l().score(reference, prediction)["rougeL"].fmeasure


def ngram_overlap(prediction: str, source: str, n: int = 3) -> float:
    """OVL-n: share of the prediction's word n-grams that also occur in the source.

    High values mean the output copies the source; 0.0 when the prediction is too short.
    """
    predicted = ngrams(words(prediction), n)
    if not predicted:
        return 0.0
    source_set = set(ngrams(words(source), n))
    return sum(g in source_set for g in predicted) / len(predicted)


def ngram_repetition(text: str, n: int = 4) -> float:
    """REP-n: share of the text's word n-grams that repeat an earlier n-gram of the text."""
    grams = ngrams(words(text), n)
    if not grams:
        return 0.0
    return (len(grams) - len(Counter(grams))) / len(grams)


def auto_bleu(hypotheses: list[str], references: list[str]) -> float:
    """Corpus BLEU (sacrebleu, 0-100) of decoded sentences against the originals.

    Used on codec round trips: reference = a sentence, hypothesis = decode(encode(it)).
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        raise ValueError("auto_bleu needs at least one sentence")
    return sacrebleu.corpus_bleu(hypotheses, [references]).score
