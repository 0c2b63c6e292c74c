"""Training examples from shards, packed into batches sized in concepts.

Pre-training: every document (end-of-text concept included) is wrapped into windows of
at most `max_len` concepts; the model predicts each next concept. Fine-tuning: an example
is source concepts followed by target concepts, and only predictions of target positions
count (`loss_mask`); targets longer than the room left after the source are truncated.

`ConceptBatches` is an endless, deterministic stream: epoch e visits the examples in a
permutation seeded by (seed, e), length-sorted within windows, packed greedily into
batches whose padded size stays within `max_concepts`, in shuffled batch order. Rank r
of W takes batches r, r + W, ... (the tail that cannot be shared evenly is dropped), so
ranks see different data and stay in step. Its position
(epoch, batch) is a `state_dict`, saved with each checkpoint for an exact resume.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from engine.data.shards import read_embeddings
from engine.errors import EngineError

SORT_WINDOW = 256  # examples sorted by length together before packing


class DatasetError(EngineError, ValueError):
    """The shards hold too little usable data for the requested batches."""


@dataclass
class Example:
    concepts: np.ndarray  # [L, dim] float32, raw codec space
    n_source: int  # leading source positions whose predictions do not count (0: pre-training)


@dataclass
class Batch:
    concepts: torch.Tensor  # [B, L, dim] float32, zero-padded
    mask: torch.Tensor  # [B, L] bool, valid positions
    loss_mask: torch.Tensor | None  # [B, L] bool, positions whose prediction counts

    @property
    def num_concepts(self) -> int:
        return int(self.mask.sum())


def wrap_document(concepts: np.ndarray, max_len: int) -> list[Example]:
    """Consecutive windows of at most `max_len` concepts; windows of one concept (nothing
    to predict) are dropped."""
    windows = [concepts[i : i + max_len] for i in range(0, len(concepts), max_len)]
    return [Example(w, 0) for w in windows if len(w) >= 2]


def source_target_example(source: np.ndarray, target: np.ndarray, max_len: int) -> Example | None:
    """Source then target, the target truncated to fit; None when no target position fits."""
    room = max_len - len(source)
    if room < 1 or len(target) == 0:
        return None
    return Example(np.concatenate([source, target[:room]]), len(source))


def load_examples(
    shards: str, split: str = "train", objective: str = "pretrain", max_len: int = 128
) -> tuple[list[Example], dict]:
    """Examples of one split and the shards' {"codec", "dim"}."""
    if objective not in ("pretrain", "finetune"):
        raise ValueError(f"objective must be 'pretrain' or 'finetune', got {objective!r}")
    if max_len < 2:
        raise ValueError(f"max_len must be at least 2, got {max_len}")
    docs, sources, info = read_embeddings(shards, split, with_source=objective == "finetune")
    if objective == "pretrain":
        examples = [e for doc in docs for e in wrap_document(doc, max_len)]
    else:
        pairs = (source_target_example(s, t, max_len) for s, t in zip(sources, docs, strict=True))
        examples = [e for e in pairs if e is not None]
    if not examples:
        raise DatasetError(
            f"no {objective} examples in split {split!r} of {shards} "
            f"(documents: {len(docs)}; each needs at least 2 concepts, or a source shorter "
            f"than max_len={max_len})"
        )
    return examples, info


def collate(examples: list[Example], with_loss_mask: bool) -> Batch:
    length = max(len(e.concepts) for e in examples)
    dim = examples[0].concepts.shape[1]
    concepts = torch.zeros(len(examples), length, dim)
    mask = torch.zeros(len(examples), length, dtype=torch.bool)
    loss_mask = torch.zeros_like(mask) if with_loss_mask else None
    for row, example in enumerate(examples):
        n = len(example.concepts)
        concepts[row, :n] = torch.tensor(example.concepts)
        mask[row, :n] = True
        if loss_mask is not None:
            loss_mask[row, example.n_source : n] = True
    return Batch(concepts, mask, loss_mask)


def pack(lengths: list[int], order: np.ndarray, max_concepts: int) -> list[list[int]]:
    """Greedy batches of example indices (in `order`) whose padded size
    (count x longest) stays within `max_concepts`; an over-long example goes alone."""
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in order.tolist():
        grown = max(longest, lengths[index])
        if current and (len(current) + 1) * grown > max_concepts:
            batches.append(current)
            current, grown = [], lengths[index]
        current.append(index)
        longest = grown
    if current:
        batches.append(current)
    return batches


class ConceptBatches:
    """Endless deterministic batches for one rank, with a resumable position."""

    def __init__(
        self,
        examples: list[Example],
        max_concepts: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        with_loss_mask: bool = False,
    ) -> None:
        self.examples = examples
        self.lengths = [len(e.concepts) for e in examples]
        self.max_concepts = max_concepts
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.with_loss_mask = with_loss_mask
        self.epoch, self.index = 0, 0  # next batch: self.index-th of this rank in self.epoch
        self.fingerprint = hashlib.sha256()  # of the example ids served (audits the sharding)
        self._cached: tuple[int, list[list[int]]] | None = None
        if len(self._rank_batches(0)) == 0:
            raise DatasetError(
                f"{len(examples)} examples make fewer batches than the {world_size} ranks; "
                "use more data or a smaller batch size in concepts"
            )

    def _rank_batches(self, epoch: int) -> list[list[int]]:
        if self._cached is None or self._cached[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            order = rng.permutation(len(self.examples))
            # Sort within windows of SORT_WINDOW examples: batches of similar lengths need
            # little padding, while the order stays random at larger scale.
            windows = [order[i : i + SORT_WINDOW] for i in range(0, len(order), SORT_WINDOW)]
            lengths = np.asarray(self.lengths)
            order = np.concatenate([w[np.argsort(lengths[w], kind="stable")] for w in windows])
            batches = pack(self.lengths, order, self.max_concepts)
            batches = [batches[i] for i in rng.permutation(len(batches))]
            per_rank = len(batches) // self.world_size
            self._cached = (epoch, batches[self.rank :: self.world_size][:per_rank])
        return self._cached[1]

    def next_batch(self) -> Batch:
        batches = self._rank_batches(self.epoch)
        if self.index >= len(batches):
            self.epoch, self.index = self.epoch + 1, 0
            batches = self._rank_batches(self.epoch)
        indices = batches[self.index]
        self.index += 1
        self.fingerprint.update(np.asarray(indices, dtype=np.int64).tobytes())
        return collate([self.examples[i] for i in indices], self.with_loss_mask)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "index": self.index, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        if state["seed"] != self.seed:
            raise ValueError(f"checkpoint data seed {state['seed']} != configured {self.seed}")
        self.epoch, self.index = state["epoch"], state["index"]
