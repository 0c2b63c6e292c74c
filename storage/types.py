"""The plain values that cross the storage boundary: what callers pass in (`NewNode`,
`NewVariant`) and the frozen views they get back. The app never sees ORM objects."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np


class Kind(StrEnum):
    SECTION = "section"  # a heading; children are paragraphs, outline items or sections
    PARAGRAPH = "paragraph"  # a container of sentences; its own text may be empty
    OUTLINE = "outline"  # an outline item (a plan); "expand" adds sentences under it
    SENTENCE = "sentence"  # one concept


class Origin(StrEnum):
    TYPED = "typed"  # a person wrote it: the text is the truth
    GENERATED = "generated"  # the LCM made the concept: the concept is the truth
    TRANSLATED = "translated"  # decoded in another language from an existing concept
    IMPORTED = "imported"  # came from a pasted or uploaded file: the text is the truth


class State(StrEnum):
    OK = "ok"
    STALE = "stale"  # the text changed and no matching embedding was given yet
    LOCKED = "locked"  # content is protected from edits, regeneration and deletion


@dataclass(frozen=True)
class Fidelity:
    """How the codec reads a node back: its concept decoded (`reading`), the cosine of
    that reading's re-encoding to the concept, and chrF (0-100, character n-grams) of the
    reading against the text. The app measures it; the store keeps it with the revision it
    describes, so undo and redo bring back the matching one."""

    reading: str
    cosine: float
    chrf: float


@dataclass(frozen=True)
class NewNode:
    """A node to store, with its subtree. `language=None` takes the document's language.
    `embedding`: a 1-D float array (NumPy, or anything `numpy.asarray` takes, such as a CPU
    tensor) stored bit-exact with its dtype, or raw little-endian float32 bytes.
    `fidelity`: the round trip of this text and embedding, if measured."""

    kind: Kind | str
    text: str
    embedding: np.ndarray | bytes | None = None
    language: str | None = None
    origin: Origin | str = Origin.TYPED
    children: Sequence[NewNode] = ()
    fidelity: Fidelity | None = None


# Completes a chunk of new nodes just before they are written (returns them in the same
# order, e.g. with their concepts encoded): a long import never holds all its concepts.
Fill = Callable[[list[NewNode]], list[NewNode]]


@dataclass(frozen=True)
class NewVariant:
    """An alternative for a node proposed by "regenerate"; `score`, `follows` and
    `leads_on` are free for the app (e.g. cosine similarity to the current concept, fit
    with what comes before, with what comes after); `temperature`: the sampling
    temperature it was drawn at (None: the model has none)."""

    text: str
    embedding: np.ndarray | bytes | None = None
    language: str | None = None
    score: float | None = None
    follows: float | None = None
    leads_on: float | None = None
    temperature: float | None = None


@dataclass(frozen=True, eq=False)
class NodeView:
    """One live node. `position` is its 0-based index among its siblings, `depth` 0 for
    top-level nodes. `embedding` is read-only and bit-exact to what was stored.
    `fidelity`: the round trip measured with its current text and concept (None: not
    measured, e.g. a generated node, whose text is its concept's own decoding).
    `nearest_id`, `nearest_cosine`: for a sentence, the other live sentence whose
    concept is closest (cosine) among the store's `neighbourhood` sentences on either side
    in reading order, kept by every change (storage/neighbours.py)."""

    id: int
    document_id: int
    parent_id: int | None
    position: int
    depth: int
    kind: Kind
    text: str
    language: str
    embedding: np.ndarray | None
    origin: Origin
    state: State
    edited: bool  # a person changed the text after it was generated, translated or imported
    version: int
    created_at: datetime
    updated_at: datetime
    variant_count: int = 0
    fidelity: Fidelity | None = None
    nearest_id: int | None = None
    nearest_cosine: float | None = None

    @property
    def locked(self) -> bool:
        return self.state is State.LOCKED


@dataclass(frozen=True)
class UnreadNode:
    """A node whose round trip has not been measured yet (`DocumentStore.unread_nodes`)."""

    id: int
    document_id: int
    text: str
    language: str
    embedding: np.ndarray


@dataclass(frozen=True, eq=False)
class DocumentFields:
    """What a library entry and a full document view both show of a document."""

    id: int
    title: str
    language: str
    codec_name: str
    codec_dim: int
    created_at: datetime
    updated_at: datetime
    version: int
    deleted: bool


@dataclass(frozen=True)
class DocumentSummary(DocumentFields):
    """A document as listed in the library (no nodes)."""

    node_count: int


@dataclass(frozen=True, eq=False)
class ReadingWindow:
    """A node with the concepts of the sentences just before it (the LCM's context)."""

    document: DocumentSummary  # node_count is not counted here: 0
    node: NodeView | None  # None: not a live node of this document
    concepts: tuple[np.ndarray, ...]  # oldest first, at most the limit asked for
    after: np.ndarray | None  # the next sentence's concept (None: the node ends the text)


@dataclass(frozen=True, eq=False)
class DocumentView(DocumentFields):
    """A document with its live nodes in reading order (depth first, siblings in order)."""

    nodes: tuple[NodeView, ...]
    undo_action: str | None  # what undo would revert ("edit_text", ...); None: nothing
    redo_action: str | None
    _by_id: dict[int, NodeView] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update((n.id, n) for n in self.nodes)

    @property
    def can_undo(self) -> bool:
        return self.undo_action is not None

    @property
    def can_redo(self) -> bool:
        return self.redo_action is not None

    def node(self, node_id: int) -> NodeView:
        """The live node with this id (KeyError if it is not in this document or deleted)."""
        return self._by_id[node_id]

    def children(self, parent_id: int | None) -> list[NodeView]:
        """The live children of `parent_id` in order (`None`: the top-level nodes)."""
        return [n for n in self.nodes if n.parent_id == parent_id]

    def sentences(self) -> Iterator[NodeView]:
        """The sentence nodes in reading order: the document's concept sequence."""
        return (n for n in self.nodes if n.kind is Kind.SENTENCE)


@dataclass(frozen=True, eq=False)
class VariantView:
    id: int
    node_id: int
    text: str
    embedding: np.ndarray | None
    language: str
    score: float | None
    created_at: datetime
    accepted: bool  # it was accepted at least once
    follows: float | None = None
    leads_on: float | None = None
    temperature: float | None = None


@dataclass(frozen=True, eq=False)
class RevisionView:
    """A node's state right after one change. `status`: "applied", "undone" (redo can
    bring it back) or "discarded" (undone, then history moved on; kept for the record)."""

    id: int
    node_id: int
    action: str
    text: str
    language: str
    embedding: np.ndarray | None
    origin: Origin
    state: State
    edited: bool
    deleted: bool
    created_at: datetime
    status: str
    fidelity: Fidelity | None = None


@dataclass(frozen=True)
class ChangeView:
    """One user action, as undo and redo report it."""

    seq: int
    action: str
    node_ids: tuple[int, ...]
    created_at: datetime
