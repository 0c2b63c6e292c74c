"""How faithfully a codec reads a sentence back: decode its concept, then compare the
reading with the text two ways, in concept space (cosine of the reading's re-encoding to
the concept: does the reading mean the same?) and in characters (chrF, 0-100: does it say
it in the same words?). A low figure warns that every later suggestion builds on a
misreading, which the writer cannot see from the text alone."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sacrebleu
import torch
import torch.nn.functional as F

from engine.codec.base import ConceptCodec

BATCH = 16  # sentences decoded at once: bounded memory, progress between batches


@dataclass(frozen=True)
class RoundTrip:
    reading: str  # the concept decoded in the text's language
    cosine: float  # cosine of encode(reading) to the concept
    chrf: float  # chrF of the reading against the text, 0-100


def round_trips(
    codec: ConceptCodec,
    texts: Sequence[str],
    concepts: torch.Tensor,
    lang: str,
    progress: Callable[[int], None] | None = None,
) -> list[RoundTrip]:
    """The round trip of each text with its concept [N, dim], `BATCH` at a time;
    `progress` hears how many are done before each batch."""
    if len(texts) != len(concepts):
        raise ValueError(f"{len(texts)} texts but {len(concepts)} concepts")
    found: list[RoundTrip] = []
    for start in range(0, len(texts), BATCH):
        if progress:
            progress(start)
        batch = concepts[start : start + BATCH]
        readings = codec.decode(batch, lang=lang)
        again = codec.encode(readings, lang=lang).to(batch.device, batch.dtype)
        cosines = F.cosine_similarity(again, batch, dim=-1).tolist()
        found += [
            RoundTrip(reading, cosine, sacrebleu.sentence_chrf(reading, [text]).score)
            for reading, cosine, text in zip(
                readings, cosines, texts[start : start + BATCH], strict=True
            )
        ]
    return found
