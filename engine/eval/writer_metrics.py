"""Writer-facing evaluation (issue 23): would a writer use the LCM's suggestions?

The paper's metrics score concepts; a writer sees decoded text. On held-out documents, at
seeded random sentence positions (each with at least one sentence before it):
- regenerations: K alternatives for the sentence from the context before it (what the
  app's "regenerate" offers), decoded: dictionary-word rate, distinct strings and
  distinct-2 among the K, cosine of each sampled concept to the true sentence's concept
  and to its neighbours (the previous sentence and, when there is one, the next);
- continuations: exactly `continuation` new sentences from the same context, written as
  the app's Expand writes them (engine.writing), decoded: REP-4 and dictionary-word
  rate, beside the REP-4 of the held-out text's own next sentences and of the codec's
  round trip of them (how much repetition the decoder alone adds);
- references: the dictionary-word rate of the true sentences and of the codec's own round
  trip of them, decode(encode(s)): decoded suggestions are held to the codec's own rate
  where it is below the 90 % target.

Word-rate convention (`word_tokens`): case is ignored (list and text are lower-cased, so a
capitalised proper noun of the list counts); straight and curly apostrophes inside a word
keep it whole ("don't", "o'clock" are looked up as such) and a possessive "'s" counts when
the word before it does; hyphens split ("well-known" is "well" + "known"); tokens with a
digit or underscore ("1990", "3rd", "x_1") are not words and count neither way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from engine.data.shards import END_OF_TEXT
from engine.eval import text_metrics as tm
from engine.writing import write_after

_TOKEN = re.compile(r"\w+(?:['’]\w+)*")
CONTEXT_TAIL = 2  # sentences of context shown with an example


def load_word_list(path: str | Path) -> set[str]:
    """Lower-cased entries of a one-word-a-line list, e.g. Debian wamerican's
    /usr/share/dict/american-english."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    words = {line.strip().lower().replace("’", "'") for line in lines} - {""}
    if not words:
        raise ValueError(f"word list {path} is empty")
    return words


def word_tokens(text: str) -> list[str]:
    """The alphabetic, lower-cased word tokens of `text` (convention: module docstring)."""
    tokens = (t.lower().replace("’", "'") for t in _TOKEN.findall(text))
    return [t for t in tokens if t.replace("'", "").isalpha()]


def is_dictionary_word(token: str, words: set[str]) -> bool:
    return token in words or (token.endswith("'s") and token[:-2] in words)


def dictionary_word_rate(texts: list[str], words: set[str]) -> float:
    """Share of all word tokens of `texts` found in `words`; 0.0 when there are none (a
    decoder that writes no words earns nothing)."""
    tokens = [t for text in texts for t in word_tokens(text)]
    if not tokens:
        return 0.0
    return sum(is_dictionary_word(t, words) for t in tokens) / len(tokens)


def round_trip_word_rate(codec, sentences: list[str], words: set[str], lang: str) -> float:
    """Word rate of decode(encode(sentences)): what the codec alone makes of real text,
    the reference for the word rate of decoded suggestions."""
    decoded = codec.decode(codec.encode(sentences, lang=lang), lang=lang)
    return dictionary_word_rate(decoded, words)


def distinct_share(alternatives: list[str]) -> float:
    """Distinct strings (whitespace-normalised) among K alternatives, divided by K: 1.0
    when all differ, 1/K when the model offered one sentence K times."""
    return len({" ".join(a.split()) for a in alternatives}) / len(alternatives)


def distinct_n(texts: list[str], n: int = 2) -> float:
    """distinct-n: unique word n-grams / all word n-grams of the texts (n-grams stay
    within a text); 0.0 when no text has n words."""
    grams = [g for text in texts for g in tm.ngrams(tm.words(text), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def mean_repetition(texts: list[str], n: int = 4) -> float:
    """Mean REP-n over texts (each text scored alone, as the generation metrics do)."""
    return sum(tm.ngram_repetition(t, n) for t in texts) / len(texts)


def mean_cosine_to(concepts: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean cosine of every row of `concepts` [K, dim] to every row of `targets` [J, dim]."""
    return (
        F.cosine_similarity(concepts[:, None].float(), targets[None].float(), dim=-1).mean().item()
    )


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def real_sentences(doc: dict) -> list[str]:
    """The document's sentences without the end-of-text marker prepare appends."""
    sentences = doc["sentences"]
    return sentences[:-1] if sentences and sentences[-1] == END_OF_TEXT else sentences


@dataclass(frozen=True, eq=False)
class Position:
    """Sentence `index` of `doc` (a row of read_documents), regenerated from those before."""

    doc: dict
    index: int

    @property
    def sentence(self) -> str:
        return real_sentences(self.doc)[self.index]

    @property
    def context(self) -> torch.Tensor:
        return torch.from_numpy(self.doc["embeddings"][: self.index])

    @property
    def concept(self) -> torch.Tensor:
        """The true sentence's concept, [1, dim]."""
        return torch.from_numpy(self.doc["embeddings"][self.index : self.index + 1])

    @property
    def neighbours(self) -> torch.Tensor:
        """Concepts of the previous sentence and, unless this is the last, the next one."""
        stop = min(self.index + 2, len(real_sentences(self.doc)))
        return torch.from_numpy(
            self.doc["embeddings"][[self.index - 1, *range(self.index + 1, stop)]]
        )

    def context_tail(self, n: int) -> str:
        return " ".join(real_sentences(self.doc)[max(0, self.index - n) : self.index])

    def held_out(self, n: int) -> str:
        """The text's own next `n` sentences from here (fewer near its end)."""
        return " ".join(real_sentences(self.doc)[self.index : self.index + n])

    def held_out_concepts(self, n: int) -> torch.Tensor:
        """The concepts of `held_out(n)`'s sentences."""
        stop = min(self.index + n, len(real_sentences(self.doc)))
        return torch.from_numpy(self.doc["embeddings"][self.index : stop])


def sample_positions(docs: list[dict], per_doc: int, rng: np.random.Generator) -> list[Position]:
    """Up to `per_doc` positions per document, each a real sentence with at least one
    before it, so that a regeneration has context."""
    chosen = []
    for doc in docs:
        n = len(real_sentences(doc))
        if n >= 2:
            picks = rng.choice(np.arange(1, n), min(per_doc, n - 1), replace=False)
            chosen += [Position(doc, int(p)) for p in sorted(picks)]
    return chosen


def concept_cosines(sampled: torch.Tensor, places: list[Position]) -> dict[str, float]:
    """Mean cosine of the sampled concepts [P, K, dim] to the true one and to its
    neighbours, and of the true one to them: how close real consecutive sentences lie."""
    pairs = list(zip(sampled, places, strict=True))
    return {
        "regen_cosine_true": _mean(mean_cosine_to(s, p.concept) for s, p in pairs),
        "regen_cosine_neighbours": _mean(mean_cosine_to(s, p.neighbours) for s, p in pairs),
        "held_out_cosine_neighbours": _mean(
            mean_cosine_to(p.concept, p.neighbours) for p in places
        ),
    }


def regenerate(
    model, contexts: list[torch.Tensor], k: int, seed: int, **options: Any
) -> torch.Tensor:
    """K sampled concepts per context, [P, K, dim] on the CPU; context i uses seed + i;
    `options` override the model's sampler."""
    samples = [
        model.sample_next(c.to(model.device), num_samples=k, seed=seed + i, **options).float().cpu()
        for i, c in enumerate(tqdm(contexts, desc="regenerate", leave=False))
    ]
    return torch.stack(samples)


def continue_texts(
    model, codec, contexts, length: int, seed: int, lang: str, **options: Any
) -> list[list[str]]:
    """Exactly `length` new sentences per context, written as the app's Expand writes them
    (engine.writing: a sentence that repeats a phrase is drawn again); `options` override
    the model's sampler."""
    written = write_after(model, codec, contexts, length, lang, seed, **options)
    return [list(w.texts) for w in written]


def decode_groups(codec, groups: list[torch.Tensor], lang: str) -> list[list[str]]:
    """Each group of concepts [n_i, dim] decoded, in one call to the codec."""
    concepts = torch.cat([g.float().cpu() for g in groups])
    decoded = codec.decode(concepts, lang=lang) if len(concepts) else []
    bounds = np.cumsum([0] + [len(g) for g in groups])
    return [decoded[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def examples_markdown(examples: list[dict]) -> str:
    """The examples as Markdown, for eval.md and the model card; "" when there are none."""
    if not examples:
        return ""
    parts = ["", "## Writer examples (chosen by the seed, not picked)", ""]
    for i, ex in enumerate(examples, 1):
        parts += [f"### Example {i}", "", f"- context (end): {ex['context']}"]
        parts += [f"- true sentence: {ex['true']}", "- alternatives:"]
        parts += [f"  {j}. {alt}" for j, alt in enumerate(ex["alternatives"], 1)]
        parts += [f"- continuation: {ex['continuation']}"]
        parts += [f"- held-out continuation: {ex['held_out_continuation']}", ""]
    return "\n".join(parts)


# What a writer needs of decoded suggestions (issue 23): words of the language (90 %, or
# the codec's own round trip less 3 points where that is lower: the LCM's concepts should
# decode as cleanly as real sentences do), alternatives that differ, continuations that
# repeat no more than real text does.
WORD_RATE, WORD_SLACK, DISTINCT = 0.90, 0.03, 0.75


def word_rate_target(figures: Mapping[str, float]) -> float:
    """The dictionary-word rate `writer_metrics` figures are held to."""
    return min(WORD_RATE, figures["round_trip_word_rate"] - WORD_SLACK)


def writer_targets(figures: Mapping[str, float]) -> dict[str, bool]:
    """Which of the writer's targets `writer_metrics` figures meet."""
    return {
        "word_rate": figures["regen_word_rate"] >= word_rate_target(figures),
        "distinct": figures["regen_distinct"] >= DISTINCT,
        "rep_4": figures["continuation_rep_4"] <= figures["held_out_rep_4"],
    }


def _places(docs: list[dict], positions: int, rng: np.random.Generator) -> list[Position]:
    places = sample_positions(docs, positions, rng)
    if not places:
        raise ValueError("no document has two or more sentences: nothing to regenerate")
    return places


def _reference(codec, places, words: set[str], continuation: int, lang: str) -> dict:
    true = [p.sentence for p in places]
    round_trips = decode_groups(codec, [p.held_out_concepts(continuation) for p in places], lang)
    return {
        "round_trip_word_rate": round_trip_word_rate(codec, true, words, lang),
        "held_out_word_rate": dictionary_word_rate(true, words),
        "held_out_rep_4": mean_repetition([p.held_out(continuation) for p in places], 4),
        "round_trip_rep_4": mean_repetition([" ".join(r) for r in round_trips], 4),
    }


def reference_figures(
    codec,
    docs: list[dict],
    words: set[str],
    positions: int = 4,
    continuation: int = 5,
    seed: int = 0,
    lang: str = "eng_Latn",
) -> dict[str, float]:
    """What the writer's targets compare against, at `writer_metrics`' positions: the
    held-out text's own figures and the codec's round trip of it. No sampler setting
    changes them, and they are about 40% of the decoding, so a sampler sweep computes
    them once and passes them to every row."""
    places = _places(docs, positions, np.random.default_rng(seed))
    return _reference(codec, places, words, continuation, lang)


def writer_metrics(
    model,
    codec,
    docs: list[dict],
    words: set[str],
    k: int = 4,
    positions: int = 4,
    continuation: int = 5,
    seed: int = 0,
    lang: str = "eng_Latn",
    examples: int = 10,
    sampler: Mapping[str, Any] | None = None,
    reference: Mapping[str, float] | None = None,
) -> dict:
    """Regenerate K alternatives and continue `continuation` sentences at up to `positions`
    seeded positions per document (docs as engine.data.shards.read_documents returns them);
    the figures of the module docstring plus `examples`, drawn with the same seed.
    `sampler` overrides the model's sampler options (e.g. {"guidance_scale": 3.0});
    `reference` is `reference_figures` at the same arguments, computed here if not given."""
    options = dict(sampler or {})
    rng = np.random.default_rng(seed)
    places = _places(docs, positions, rng)
    contexts = [p.context for p in places]
    if reference is None:
        reference = _reference(codec, places, words, continuation, lang)

    sampled = regenerate(model, contexts, k, seed, **options)
    decoded = codec.decode(sampled.flatten(0, 1), lang=lang)
    alternatives = [decoded[i * k : (i + 1) * k] for i in range(len(places))]
    continued = continue_texts(model, codec, contexts, continuation, seed, lang, **options)
    continuations = [" ".join(c) for c in continued]
    chosen = sorted(rng.choice(len(places), min(examples, len(places)), replace=False))
    return {
        "positions": len(places),
        "k": k,
        **reference,
        "regen_word_rate": dictionary_word_rate(decoded, words),
        "regen_distinct": _mean(map(distinct_share, alternatives)),
        "regen_distinct_2": _mean(distinct_n(a, 2) for a in alternatives),
        **concept_cosines(sampled, places),
        "continuation_word_rate": dictionary_word_rate(continuations, words),
        "continuation_rep_4": mean_repetition(continuations, 4),
        "examples": [
            {
                "context": places[i].context_tail(CONTEXT_TAIL),
                "true": places[i].sentence,
                "alternatives": alternatives[i],
                "continuation": continuations[i],
                "held_out_continuation": places[i].held_out(continuation),
            }
            for i in map(int, chosen)
        ],
    }
