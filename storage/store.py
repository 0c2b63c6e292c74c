"""`DocumentStore`: one method per user action, each one database transaction.

Concurrency contract: every method that changes a node takes the node `version` the caller
last saw as `expected_version`; if the node changed since, nothing is written and
ConflictError says so (two tabs editing one node never silently lose an update). Pass
`expected_version=None` only from scripts that own the document. Every change is recorded
as a revision, so history, undo and redo work per document."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from storage.types import (
    ChangeView,
    DocumentSummary,
    DocumentView,
    NewNode,
    NewVariant,
    NodeView,
    RevisionView,
    VariantView,
)


class DocumentStore:
    """Concept documents in any SQLAlchemy database (default: a SQLite file).

    `DocumentStore(url)` opens the database and upgrades its schema to the newest Alembic
    revision (pass `upgrade=False` to skip that and call `upgrade()` yourself)."""

    def __init__(self, url: str, *, upgrade: bool = True, echo: bool = False) -> None:
        raise NotImplementedError

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (safe to call again and concurrently)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection pool."""
        raise NotImplementedError

    # -- documents ------------------------------------------------------------------------

    def create_document(
        self,
        title: str,
        nodes: Sequence[NewNode] = (),
        *,
        language: str,
        codec_name: str,
        codec_dim: int,
    ) -> DocumentView:
        """A new document holding the given tree (top-level nodes in order). Not undoable:
        the stored tree is the start of its history."""
        raise NotImplementedError

    def list_documents(self, *, include_deleted: bool = False) -> list[DocumentSummary]:
        """Documents, most recently changed first."""
        raise NotImplementedError

    def get_document(self, document_id: int) -> DocumentView:
        """The document with all its live nodes in reading order (deleted ones too if the
        document itself is soft-deleted, so it can be viewed before restoring)."""
        raise NotImplementedError

    def rename_document(
        self, document_id: int, title: str, *, expected_version: int | None = None
    ) -> DocumentSummary:
        raise NotImplementedError

    def delete_document(self, document_id: int) -> DocumentSummary:
        """Soft delete: hidden from the library, restorable with `restore_document`."""
        raise NotImplementedError

    def restore_document(self, document_id: int) -> DocumentSummary:
        raise NotImplementedError

    def purge_document(self, document_id: int) -> None:
        """Delete a document and its whole history for good (not undoable)."""
        raise NotImplementedError

    # -- structure -------------------------------------------------------------------------

    def insert_nodes(
        self,
        document_id: int,
        nodes: Sequence[NewNode],
        *,
        parent_id: int | None = None,
        position: int | None = None,
    ) -> list[NodeView]:
        """Insert the trees `nodes` as children of `parent_id` (None: top level) starting
        at sibling index `position` (None: at the end). One undo step. Returns the inserted
        top-level nodes."""
        raise NotImplementedError

    def insert_node(
        self,
        document_id: int,
        node: NewNode,
        *,
        parent_id: int | None = None,
        position: int | None = None,
    ) -> NodeView:
        """`insert_nodes` for a single tree."""
        raise NotImplementedError

    def move_node(
        self,
        node_id: int,
        *,
        parent_id: int | None,
        position: int,
        expected_version: int | None,
    ) -> NodeView:
        """Move a node (with its subtree) under `parent_id` (None: top level) at sibling
        index `position` (counted without the node itself)."""
        raise NotImplementedError

    def move_up(self, node_id: int, *, expected_version: int | None) -> NodeView:
        """Swap with the previous sibling (InvalidMoveError if already first)."""
        raise NotImplementedError

    def move_down(self, node_id: int, *, expected_version: int | None) -> NodeView:
        """Swap with the next sibling (InvalidMoveError if already last)."""
        raise NotImplementedError

    def indent(self, node_id: int, *, expected_version: int | None) -> NodeView:
        """Become the last child of the previous sibling (InvalidMoveError if none)."""
        raise NotImplementedError

    def outdent(self, node_id: int, *, expected_version: int | None) -> NodeView:
        """Become the sibling right after the current parent (InvalidMoveError at top level)."""
        raise NotImplementedError

    def delete_node(self, node_id: int, *, expected_version: int | None) -> None:
        """Soft delete a node with its subtree; undo or `restore_node` brings it back.
        Refused (LockedError) if the node or a node under it is locked."""
        raise NotImplementedError

    def restore_node(self, node_id: int) -> NodeView:
        """Bring back a soft-deleted node at its old place (its parent must be live)."""
        raise NotImplementedError

    def deleted_nodes(self, document_id: int) -> list[NodeView]:
        """The soft-deleted nodes of a document (tops of deleted subtrees), newest first."""
        raise NotImplementedError

    # -- content ---------------------------------------------------------------------------

    def edit_text(
        self,
        node_id: int,
        text: str,
        *,
        expected_version: int | None,
        embedding: np.ndarray | bytes | None = None,
        language: str | None = None,
    ) -> NodeView:
        """A person's new text for a node; it becomes the truth (`edited` is set). With the
        caller's new `embedding` the node is "ok"; without, it is "stale" until
        `set_embedding`."""
        raise NotImplementedError

    def set_embedding(
        self, node_id: int, embedding: np.ndarray | bytes, *, expected_version: int | None
    ) -> NodeView:
        """Store a (re-)encoded concept for the node's current text; the node becomes "ok"."""
        raise NotImplementedError

    def replace_with_translation(
        self, node_id: int, text: str, *, language: str, expected_version: int | None
    ) -> NodeView:
        """Replace the text by its decoding in `language`; the concept stays the truth
        (origin "translated", `edited` cleared)."""
        raise NotImplementedError

    def lock_node(self, node_id: int, *, expected_version: int | None) -> NodeView:
        """Protect the node's content from edits, regeneration and deletion."""
        raise NotImplementedError

    def unlock_node(self, node_id: int, *, expected_version: int | None) -> NodeView:
        """Undo a lock; the node returns to the state it had before ("ok" or "stale")."""
        raise NotImplementedError

    # -- variants --------------------------------------------------------------------------

    def add_variants(self, node_id: int, variants: Sequence[NewVariant]) -> list[VariantView]:
        """Keep alternatives proposed by "regenerate" (not an undo step: nothing changes in
        the document until one is accepted)."""
        raise NotImplementedError

    def list_variants(self, node_id: int) -> list[VariantView]:
        """All variants ever proposed for the node, oldest first."""
        raise NotImplementedError

    def accept_variant(
        self, node_id: int, variant_id: int, *, expected_version: int | None
    ) -> NodeView:
        """Make the variant the node's text and concept (origin "generated"; one undo step;
        the previous text stays in the node's history)."""
        raise NotImplementedError

    # -- history ---------------------------------------------------------------------------

    def undo(self, document_id: int, *, expected_version: int | None = None) -> ChangeView:
        """Revert the document's latest applied change (NothingToUndoError if none).
        `expected_version` is the document's version."""
        raise NotImplementedError

    def redo(self, document_id: int, *, expected_version: int | None = None) -> ChangeView:
        """Re-apply the most recently undone change (NothingToUndoError if none). Any new
        change after an undo discards the redo history (kept in node histories)."""
        raise NotImplementedError

    def node_history(self, node_id: int) -> list[RevisionView]:
        """Every state the node had, oldest first, including undone ones."""
        raise NotImplementedError

    # -- translation cache -----------------------------------------------------------------

    def get_translation(self, node_id: int, target_language: str) -> str | None:
        """A cached decoding of the node's current concept in `target_language`."""
        raise NotImplementedError

    def get_translations(self, document_id: int, target_language: str) -> dict[int, str]:
        """Cached decodings of all the document's live nodes' current concepts, by node id."""
        raise NotImplementedError

    def put_translation(
        self, node_id: int, target_language: str, text: str, *, expected_version: int
    ) -> None:
        """Cache a decoding made from the node at `expected_version` (ConflictError if the
        node changed meanwhile, so a stale decoding is never cached)."""
        raise NotImplementedError

    # -- export ----------------------------------------------------------------------------

    def export_markdown(self, document_id: int) -> str:
        raise NotImplementedError

    def export_text(self, document_id: int) -> str:
        raise NotImplementedError

    def export_json(self, document_id: int) -> str:
        """The document with every node's embedding (base64 of little-endian bytes + dtype)."""
        raise NotImplementedError
