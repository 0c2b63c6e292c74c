"""Writing new sentences after a context: concepts from the LCM, text from the codec.

The LCM's repetition guard works on concepts (engine.lcm.generation: a concept too close
to an earlier one is drawn again), but what a writer sees is the decoded text, and a
small codec decodes concepts that are not close (resampled until below cosine 0.75 to
each other) into sentences that share a phrase ("Loadily starts the Script-Fu command
key" twice in five sentences). So each new sentence is decoded as it is drawn, and one
that adds a repeated word 4-gram to the text written so far is drawn again with new
noise and less guidance, up to `tries` times, keeping the draw that repeats least.

Measured on the demo corpus's tuning documents (120 seeded positions, the bundled
Two-Tower): the REP-4 of 5-sentence continuations is 0.194 unguarded; guarded, with
redraws at guidance 3 (the sampler's), 2 and 1: 0.063, 0.045 and 0.028 (8 tries); the
held-out text's own: 0.017. What is left is mostly a model that writes the same short
sentence ("Converts text.") in every draw.

    written = write_after(lcm, codec, [context], 5, "eng_Latn", seed=0)
    written[0].concepts, written[0].texts
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch

from engine.eval.text_metrics import ngrams, words
from engine.lcm.generation import NEVER

PHRASE = 4  # words: a repeated phrase is a repeated word 4-gram, what REP-4 counts
TRIES = 8  # draws of a sentence before the least repetitive one is kept
# A redraw samples at this guidance scale: guidance sharpens a draw towards the model's
# mode, and the mode is where the repeat was. Models without guidance ignore it.
REDRAW_GUIDANCE = 1.0


class ConceptGenerator(Protocol):
    def generate_batch(
        self, contexts: list[torch.Tensor], max_concepts: int, seed: int, **options: Any
    ) -> list[torch.Tensor]: ...


class Decoder(Protocol):
    def decode(self, embeddings: torch.Tensor, lang: str) -> list[str]: ...


@dataclass(frozen=True)
class Written:
    """The new sentences after one context: concepts [n, dim] (raw space) and their text."""

    concepts: torch.Tensor
    texts: tuple[str, ...]


def repeated_phrases(sentence: str, before: list[str]) -> int:
    """How many of the word 4-grams that `sentence` adds to the text whose words are
    `before` that text (or the sentence) already has: its share of the REP-4 of the text it
    joins. 4-grams run across sentence ends, as REP-4 counts them: a third "Converts text."
    repeats one."""
    seen = set(ngrams(before, PHRASE))
    repeats = 0
    for gram in ngrams(before[-(PHRASE - 1) :] + words(sentence), PHRASE):
        repeats += gram in seen
        seen.add(gram)
    return repeats


def write_after(
    lcm: ConceptGenerator,
    codec: Decoder,
    contexts: list[torch.Tensor],
    count: int,
    lang: str,
    seed: int,
    *,
    until_end: bool = False,
    tries: int = TRIES,
    redraw_guidance: float = REDRAW_GUIDANCE,
    **options: Any,
) -> list[Written]:
    """`count` new sentences after each context [L, dim] (raw space), in `lang`.

    until_end=False: exactly `count` (what Expand promises). until_end=True: at least one,
    then up to `count`, stopping where the LCM predicts the end of the text or repeats a
    concept even after resampling (the LCM's generation thresholds). `options` go to the
    LCM's sampler."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if tries < 1:
        raise ValueError(f"tries must be >= 1, got {tries}")
    contexts = [c.float().cpu() for c in contexts]  # the LCM moves them to its device
    concepts: list[list[torch.Tensor]] = [[] for _ in contexts]
    texts: list[list[str]] = [[] for _ in contexts]
    so_far: list[list[str]] = [[] for _ in contexts]  # the words of the new text
    live = list(range(len(contexts)))
    for step in range(count):
        best: dict[int, tuple[int, torch.Tensor, str]] = {}
        todo = live
        for attempt in range(tries):
            # A redraw always yields a concept; only a first draw after the first sentence
            # may end the text, and only when asked to.
            may_end = until_end and step > 0 and attempt == 0
            stops = {} if may_end else {"eot_threshold": NEVER, "stop_on_repeat": False}
            redraw = {"guidance_scale": redraw_guidance} if attempt else {}
            drawn = lcm.generate_batch(
                [contexts[i] for i in todo], 1, seed=seed + step * tries + attempt,
                **{**options, **stops, **redraw},
            )  # fmt: skip
            ended = {i for i, d in zip(todo, drawn, strict=True) if len(d) == 0}
            live = [i for i in live if i not in ended]
            todo = [i for i in todo if i not in ended]
            drawn = [d.float().cpu() for d in drawn if len(d)]
            decoded = codec.decode(torch.cat(drawn), lang=lang) if drawn else []
            for i, concept, text in zip(todo, drawn, decoded, strict=True):
                repeats = repeated_phrases(text, so_far[i])
                if i not in best or repeats < best[i][0]:
                    best[i] = (repeats, concept, text)
            todo = [i for i in todo if best[i][0] > 0]
            if not todo:
                break
        for i in live:
            _, concept, text = best[i]
            contexts[i] = torch.cat([contexts[i], concept])
            concepts[i].append(concept)
            texts[i].append(text)
            so_far[i] += words(text)
    dim = contexts[0].shape[-1] if contexts else 0
    return [
        Written(torch.cat(c) if c else torch.zeros(0, dim), tuple(t))
        for c, t in zip(concepts, texts, strict=True)
    ]
