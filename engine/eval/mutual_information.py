"""Language-model log-probabilities for the mutual-information metric.

The paper estimates the mutual information between a decoded prediction and its context
with a small pretrained language model. None can be downloaded here, so the default is a
clearly named proxy, `UnigramCacheLM`: a unigram model of the evaluation corpus (add-one
smoothed) against the same model interpolated with the context's own word distribution
(a "cache" LM). Its PMI rewards predictions whose words the context makes more likely
(lexical cohesion); unlike a neural LM it ignores word order and paraphrase. Any object
with the same `logprob` method (e.g. a wrapper around a local causal LM) can replace it.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Protocol

from engine.eval.text_metrics import words


class LogProbModel(Protocol):
    name: str

    def logprob(self, text: str, context: str | None) -> tuple[float, int]:
        """(total log-probability in nats, token count) of `text`, given `context` or not."""
        ...


class UnigramCacheLM:
    name = "mi_proxy_unigram_cache"

    def __init__(self, corpus: list[str], cache_weight: float = 0.5) -> None:
        self.counts = Counter(w for text in corpus for w in words(text))
        self.total = sum(self.counts.values())
        self.vocab = len(self.counts) + 1  # +1: every unseen word shares one slot
        self.cache_weight = cache_weight

    def background(self, word: str) -> float:
        return (self.counts[word] + 1) / (self.total + self.vocab)

    def logprob(self, text: str, context: str | None) -> tuple[float, int]:
        tokens = words(text)
        cache = Counter(words(context)) if context else Counter()
        size = sum(cache.values())
        total = 0.0
        for w in tokens:
            p = self.background(w)
            if size:
                p = self.cache_weight * cache[w] / size + (1 - self.cache_weight) * p
            total += math.log(p)
        return total, len(tokens)
