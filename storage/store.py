"""`DocumentStore`: one method per user action, each one database transaction.

Concurrency contract: every method that changes a node takes the node `version` the caller
last saw as `expected_version`; if the node changed since, nothing is written and
ConflictError says so (two tabs editing one node never silently lose an update). Pass
`expected_version=None` only from scripts that own the document. Every change is recorded
as a revision, so history, undo and redo work per document."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import numpy as np
from alembic import command
from alembic.config import Config
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage import export, history, neighbours, round_trips, tree, views
from storage.db import make_engines, run_transaction, with_retries
from storage.errors import (
    ConflictError,
    EmbeddingError,
    InvalidInputError,
    InvalidMoveError,
    LockedError,
    NotFoundError,
    NothingToUndoError,
    WrongDocumentError,
)
from storage.models import Change, Document, Node, Revision, Translation, Variant
from storage.ordering import GAP
from storage.types import (
    ChangeView,
    DocumentSummary,
    DocumentView,
    Fidelity,
    Fill,
    NewNode,
    NewVariant,
    NodeView,
    Origin,
    ReadingWindow,
    RevisionView,
    UnreadNode,
    VariantView,
)
from storage.validate import (
    check_language,
    check_text,
    check_title,
    encode_embedding,
    fidelity_columns,
)

MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")


class DocumentStore:
    """Concept documents in any SQLAlchemy database (default: a SQLite file).

    `DocumentStore(url)` opens the database and upgrades its schema to the newest Alembic
    revision (pass `upgrade=False` to skip that and call `upgrade()` yourself). It is safe
    to share between threads and to open from several processes at once.

    A node's `state` is "locked" while locked (its text, concept and existence are
    protected; it can still move), else "stale" while its text has no matching concept
    (edited without a new embedding), else "ok". Node text is limited to
    `MAX_NODE_TEXT_CHARS` characters (see storage/validate.py for why)."""

    def __init__(
        self,
        url: str,
        *,
        upgrade: bool = True,
        echo: bool = False,
        neighbourhood: int = neighbours.WINDOW,
    ) -> None:
        self.url = url
        self.neighbourhood = neighbourhood  # sentences each side a repeated meaning is sought
        self._read, self._write = make_engines(url, echo=echo)
        if upgrade:
            self.upgrade()

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (safe to call again and concurrently)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))

        def attempt() -> None:
            with self._write.connect() as connection, connection.begin():
                if connection.dialect.name == "postgresql":  # one migrator at a time
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 7317})
                config.attributes["connection"] = connection
                command.upgrade(config, "head")

        with_retries(attempt)

    def close(self) -> None:
        """Release the connection pool."""
        self._read.dispose()

    # -- documents ------------------------------------------------------------------------

    def create_document(
        self,
        title: str,
        nodes: Sequence[NewNode] = (),
        *,
        language: str,
        codec_name: str,
        codec_dim: int,
        with_embeddings: bool = True,
        fill: Fill | None = None,
    ) -> DocumentView:
        """A new document holding the given tree (top-level nodes in order). Not undoable:
        the stored tree is the start of its history. Without embeddings the view returned
        does not hold a long import's concepts a second time. `fill` completes each chunk
        of nodes just before it is written (a long import encodes its concepts there, so
        they never sit in memory all at once); it runs inside the write transaction, and
        other writers wait for it."""
        title = check_title(title)
        language = check_language(language)
        if not isinstance(codec_dim, int) or codec_dim < 1:
            raise InvalidInputError(f"codec_dim must be a positive integer, got {codec_dim!r}")
        if not isinstance(codec_name, str) or not codec_name.strip():
            raise InvalidInputError("codec_name must name the codec, e.g. 'demo' or 'sonar'")

        def work(session: Session) -> DocumentView:
            now = _now()
            doc = Document(
                title=title,
                language=language,
                codec_name=codec_name,
                codec_dim=codec_dim,
                created_at=now,
                updated_at=now,
                version=0,
                last_seq=0,
            )
            session.add(doc)
            session.flush()
            change = history.begin_change(session, doc, "create", now, undoable=False)
            keys = [j * GAP for j in range(len(nodes))]
            ids = tree.insert_trees(session, doc, change, None, nodes, keys, "create", now, fill)
            neighbours.refresh(session, doc.id, ids, window=self.neighbourhood)
            return views.document_view(session, doc, with_embeddings=with_embeddings)

        return self._write_tx(work)

    def list_documents(self, *, include_deleted: bool = False) -> list[DocumentSummary]:
        """Documents, most recently changed first."""

        def work(session: Session) -> list[DocumentSummary]:
            counts = dict(
                session.execute(
                    select(Node.document_id, func.count())
                    .where(Node.deleted.is_(False))
                    .group_by(Node.document_id)
                ).all()
            )
            query = select(Document).order_by(Document.updated_at.desc(), Document.id.desc())
            if not include_deleted:
                query = query.where(Document.deleted_at.is_(None))
            return [views.summary(doc, counts.get(doc.id, 0)) for doc in session.scalars(query)]

        return self._read_tx(work)

    def get_document(self, document_id: int, *, with_embeddings: bool = True) -> DocumentView:
        """The document with all its live nodes in reading order (also when the document is
        soft-deleted, so it can be viewed before restoring). `with_embeddings=False` leaves
        every `NodeView.embedding` None and is much faster for showing a big document."""

        def work(session: Session) -> DocumentView:
            doc = tree.document(session, document_id, for_change=False)
            return views.document_view(session, doc, with_embeddings=with_embeddings)

        return self._read_tx(work)

    def reading_window(self, document_id: int, node_id: int, limit: int) -> ReadingWindow:
        """The node (None when it is not a live node of this document) and the concepts of
        the last `limit` sentences before it: a regenerate's read, bounded in a long text."""
        if not isinstance(limit, int) or limit < 0:
            raise InvalidInputError(
                f"limit must be a number of sentences, 0 or more, got {limit!r}"
            )

        def work(session: Session) -> ReadingWindow:
            doc = tree.document(session, document_id, for_change=False)
            return views.reading_window(session, doc, node_id, limit)

        return self._read_tx(work)

    def rename_document(
        self, document_id: int, title: str, *, expected_version: int | None = None
    ) -> DocumentSummary:
        title = check_title(title)

        def work(session: Session) -> DocumentSummary:
            doc = tree.document(session, document_id, for_change=True)
            _check_document_version(doc, expected_version)
            doc.title = title
            doc.version += 1
            doc.updated_at = _now()
            return _summary(session, doc)

        return self._write_tx(work)

    def delete_document(self, document_id: int) -> DocumentSummary:
        """Soft delete: hidden from the library, restorable with `restore_document`."""
        return self._set_document_deleted(document_id, deleted=True)

    def restore_document(self, document_id: int) -> DocumentSummary:
        return self._set_document_deleted(document_id, deleted=False)

    def purge_document(self, document_id: int) -> None:
        """Delete a document and its whole history for good (not undoable)."""

        def work(session: Session) -> None:
            doc = tree.document(session, document_id, for_change=False)
            session.delete(doc)  # the database cascades to nodes, changes, revisions...

        self._write_tx(work)

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

        def work(session: Session) -> list[NodeView]:
            now = _now()
            doc = tree.document(session, document_id, for_change=True)
            tree.parent_in(session, doc, parent_id)
            siblings = tree.live_children(session, doc.id, parent_id)
            index = len(siblings) if position is None else position
            tree.check_position(index, siblings)
            if not nodes:
                raise InvalidInputError("nothing to insert: pass at least one node")
            change = history.begin_change(session, doc, "insert", now)
            keys = tree.make_room(session, change, siblings, index, len(nodes), now)
            ids = tree.insert_trees(session, doc, change, parent_id, nodes, keys, "insert", now)
            neighbours.refresh(session, doc.id, ids, window=self.neighbourhood)
            return [views.node_view(session, session.get_one(Node, i)) for i in ids]

        return self._write_tx(work)

    def insert_node(
        self,
        document_id: int,
        node: NewNode,
        *,
        parent_id: int | None = None,
        position: int | None = None,
    ) -> NodeView:
        """`insert_nodes` for a single tree."""
        return self.insert_nodes(document_id, [node], parent_id=parent_id, position=position)[0]

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

        def work(session: Session) -> NodeView:
            doc, node = tree.node_for_change(session, node_id, expected_version)
            return _move(session, doc, node, parent_id, position, "move", self.neighbourhood)

        return self._write_tx(work)

    def move_up(self, node_id: int, *, expected_version: int | None) -> NodeView:
        """Swap with the previous sibling (InvalidMoveError if already first)."""
        return self._move_by(node_id, expected_version, "move_up")

    def move_down(self, node_id: int, *, expected_version: int | None) -> NodeView:
        """Swap with the next sibling (InvalidMoveError if already last)."""
        return self._move_by(node_id, expected_version, "move_down")

    def indent(self, node_id: int, *, expected_version: int | None) -> NodeView:
        """Become the last child of the previous sibling (InvalidMoveError if none)."""
        return self._move_by(node_id, expected_version, "indent")

    def outdent(self, node_id: int, *, expected_version: int | None) -> NodeView:
        """Become the sibling right after the current parent (InvalidMoveError at top level)."""
        return self._move_by(node_id, expected_version, "outdent")

    def delete_node(self, node_id: int, *, expected_version: int | None) -> None:
        """Soft delete a node with its subtree; undo or `restore_node` brings it back.
        Refused (LockedError) if the node or a node under it is locked."""

        def work(session: Session) -> None:
            now = _now()
            doc, node = tree.node_for_change(session, node_id, expected_version)
            locked = [node.id] if node.locked else []
            under = tree.subtree_ids(session, node)
            if under:
                locked += session.scalars(
                    select(Node.id).where(Node.id.in_(under), Node.locked.is_(True))
                ).all()
            if locked:
                raise LockedError(
                    f"node {node_id} cannot be deleted: node {locked[0]} in it is locked "
                    "(unlock it first)"
                )
            change = history.begin_change(session, doc, "delete", now)
            node.deleted = True
            history.record(session, change, node, "delete", now)
            neighbours.refresh(session, doc.id, [node.id], window=self.neighbourhood)

        self._write_tx(work)

    def restore_node(self, node_id: int) -> NodeView:
        """Bring back a soft-deleted node at its old place (its parent must be live)."""

        def work(session: Session) -> NodeView:
            now = _now()
            document_id = session.scalar(select(Node.document_id).where(Node.id == node_id))
            if document_id is None:
                raise NotFoundError("node", node_id)
            doc = tree.document(session, document_id, for_change=True)
            node = session.get_one(Node, node_id)
            if not node.deleted:
                raise InvalidMoveError(f"node {node_id} is not deleted; nothing to restore")
            tree.parent_in(session, doc, node.parent_id)  # its parent must be live
            change = history.begin_change(session, doc, "restore", now)
            node.deleted = False
            history.record(session, change, node, "restore", now)
            neighbours.refresh(session, doc.id, [node.id], window=self.neighbourhood)
            return views.node_view(session, node)

        return self._write_tx(work)

    def deleted_nodes(self, document_id: int) -> list[NodeView]:
        """The soft-deleted nodes of a document (tops of deleted subtrees), newest first."""

        def work(session: Session) -> list[NodeView]:
            tree.document(session, document_id, for_change=False)
            query = (
                select(Node)
                .where(Node.document_id == document_id, Node.deleted.is_(True))
                .order_by(Node.updated_at.desc(), Node.id.desc())
            )
            return [views.node_view(session, node) for node in session.scalars(query)]

        return self._read_tx(work)

    def node_document(self, node_id: int) -> int:
        """The id of the document holding the node, live or deleted (NotFoundError if no
        such node), so a caller can tell a foreign node from a deleted one."""

        def work(session: Session) -> int:
            document_id = session.scalar(select(Node.document_id).where(Node.id == node_id))
            if document_id is None:
                raise NotFoundError("node", node_id)
            return document_id

        return self._read_tx(work)

    # -- content ---------------------------------------------------------------------------

    def edit_text(
        self,
        node_id: int,
        text: str,
        *,
        expected_version: int | None,
        embedding: np.ndarray | bytes | None = None,
        language: str | None = None,
        fidelity: Fidelity | None = None,
    ) -> NodeView:
        """A person's new text for a node; it becomes the truth (`edited` is set). With the
        caller's new `embedding` the node is "ok"; without, it is "stale" until
        `set_embedding`. `fidelity`: the round trip of the new text and embedding (the
        previous one no longer applies, so none is kept without it)."""

        def work(session: Session) -> NodeView:
            doc, node = tree.node_for_change(session, node_id, expected_version)
            tree.check_unlocked(node)
            new_text = check_text(text, node.kind)
            stored = None if embedding is None else encode_embedding(embedding, doc.codec_dim)
            new_language = node.language if language is None else check_language(language)
            round_trip = fidelity_columns(fidelity if stored is not None else None)
            if stored is None and new_text == node.text and new_language == node.language:
                return views.node_view(session, node)  # nothing changed: no undo step
            now = _now()
            change = history.begin_change(session, doc, "edit_text", now)
            node.text, node.language, node.edited = new_text, new_language, True
            _set_fields(node, round_trip)
            if stored is not None:
                node.embedding, node.embedding_dtype, node.stale = stored.data, stored.dtype, False
            else:
                node.stale = node.embedding is not None or node.kind in tree.CONCEPT_KINDS
            history.record(session, change, node, "edit_text", now)
            neighbours.refresh(session, doc.id, [node.id], in_place=True, window=self.neighbourhood)
            return views.node_view(session, node)

        return self._write_tx(work)

    def set_embedding(
        self,
        node_id: int,
        embedding: np.ndarray | bytes,
        *,
        expected_version: int | None,
        fidelity: Fidelity | None = None,
    ) -> NodeView:
        """Store a (re-)encoded concept for the node's current text, with its round trip
        if measured; the node becomes "ok"."""

        def work(session: Session) -> NodeView:
            now = _now()
            doc, node = tree.node_for_change(session, node_id, expected_version)
            tree.check_unlocked(node)
            stored = encode_embedding(embedding, doc.codec_dim)
            round_trip = fidelity_columns(fidelity)
            change = history.begin_change(session, doc, "set_embedding", now)
            node.embedding, node.embedding_dtype, node.stale = stored.data, stored.dtype, False
            _set_fields(node, round_trip)
            history.record(session, change, node, "set_embedding", now)
            neighbours.refresh(session, doc.id, [node.id], in_place=True, window=self.neighbourhood)
            return views.node_view(session, node)

        return self._write_tx(work)

    def replace_with_translation(
        self, node_id: int, text: str, *, language: str, expected_version: int | None
    ) -> NodeView:
        """Replace the text by its decoding in `language`; the concept stays the truth
        (origin "translated", `edited` cleared)."""

        def work(session: Session) -> NodeView:
            now = _now()
            doc, node = tree.node_for_change(session, node_id, expected_version)
            tree.check_unlocked(node)
            new_text, new_language = check_text(text, node.kind), check_language(language)
            change = history.begin_change(session, doc, "translate", now)
            node.text, node.language = new_text, new_language
            node.origin, node.edited = Origin.TRANSLATED, False
            _set_fields(node, fidelity_columns(None))  # the text is the concept's decoding
            history.record(session, change, node, "translate", now)
            return views.node_view(session, node)

        return self._write_tx(work)

    def unread_nodes(
        self,
        origins: Collection[Origin],
        languages: Collection[str],
        *,
        after: int = 0,
        limit: int = 64,
    ) -> list[UnreadNode]:
        """Up to `limit` live nodes of the `origins` and `languages`, by id after `after`,
        whose round trip was never measured (a long import leaves them to the background)."""
        return self._read_tx(
            lambda session: round_trips.unread(session, origins, languages, after, limit)
        )

    def count_unread(
        self, document_id: int, origins: Collection[Origin], languages: Collection[str]
    ) -> int:
        """How many of the document's nodes `unread_nodes` would still return."""
        return self._read_tx(
            lambda session: round_trips.count_unread(session, document_id, origins, languages)
        )

    def fill_round_trips(self, trips: Sequence[tuple[UnreadNode, Fidelity]]) -> None:
        """Store round trips measured for `unread_nodes`: not a change (no revision, no
        version); a node whose text or concept changed since keeps its own."""
        self._write_tx(lambda session: round_trips.fill(session, trips))

    def lock_node(self, node_id: int, *, expected_version: int | None) -> NodeView:
        """Protect the node's content from edits, regeneration and deletion."""
        return self._set_locked(node_id, expected_version, locked=True)

    def unlock_node(self, node_id: int, *, expected_version: int | None) -> NodeView:
        """Undo a lock; the node returns to the state it had before ("ok" or "stale")."""
        return self._set_locked(node_id, expected_version, locked=False)

    # -- variants --------------------------------------------------------------------------

    def add_variants(self, node_id: int, variants: Sequence[NewVariant]) -> list[VariantView]:
        """Keep alternatives proposed by "regenerate" (not an undo step: nothing changes in
        the document until one is accepted)."""

        def work(session: Session) -> list[VariantView]:
            now = _now()
            doc, node = tree.node_for_change(session, node_id, None)
            added = [
                Variant(
                    node_id=node.id,
                    text=check_text(variant.text, node.kind, what="variant text"),
                    language=(
                        node.language
                        if variant.language is None
                        else check_language(variant.language)
                    ),
                    score=_figure(variant.score),
                    follows=_figure(variant.follows),
                    leads_on=_figure(variant.leads_on),
                    temperature=_figure(variant.temperature),
                    accepted=False,
                    created_at=now,
                    **_embedding_columns(variant.embedding, doc.codec_dim),
                )
                for variant in variants
            ]
            session.add_all(added)
            session.flush()
            return [views.variant_view(variant) for variant in added]

        return self._write_tx(work)

    def list_variants(self, node_id: int) -> list[VariantView]:
        """All variants ever proposed for the node, oldest first."""

        def work(session: Session) -> list[VariantView]:
            if session.get(Node, node_id) is None:
                raise NotFoundError("node", node_id)
            query = select(Variant).where(Variant.node_id == node_id).order_by(Variant.id)
            return [views.variant_view(variant) for variant in session.scalars(query)]

        return self._read_tx(work)

    def accept_variant(
        self, node_id: int, variant_id: int, *, expected_version: int | None
    ) -> NodeView:
        """Make the variant the node's text and concept (origin "generated"; one undo step;
        the previous text stays in the node's history)."""

        def work(session: Session) -> NodeView:
            now = _now()
            doc, node = tree.node_for_change(session, node_id, expected_version)
            tree.check_unlocked(node)
            variant = session.get(Variant, variant_id)
            if variant is None:
                raise NotFoundError("variant", variant_id)
            if variant.node_id != node.id:
                raise WrongDocumentError(
                    f"variant {variant_id} belongs to node {variant.node_id}, not to node {node_id}"
                )
            change = history.begin_change(session, doc, "accept_variant", now)
            node.text, node.language = variant.text, variant.language
            node.embedding, node.embedding_dtype = variant.embedding, variant.embedding_dtype
            node.stale = variant.embedding is None and node.kind in tree.CONCEPT_KINDS
            node.origin, node.edited = Origin.GENERATED, False
            _set_fields(node, fidelity_columns(None))  # the text is the concept's decoding
            variant.accepted = True
            history.record(session, change, node, "accept_variant", now)
            neighbours.refresh(session, doc.id, [node.id], in_place=True, window=self.neighbourhood)
            return views.node_view(session, node)

        return self._write_tx(work)

    # -- history ---------------------------------------------------------------------------

    def undo(self, document_id: int, *, expected_version: int | None = None) -> ChangeView:
        """Revert the document's latest applied change (NothingToUndoError if none).
        `expected_version` is the document's version."""
        return self._step(document_id, expected_version, redo=False)

    def redo(self, document_id: int, *, expected_version: int | None = None) -> ChangeView:
        """Re-apply the most recently undone change (NothingToUndoError if none). Any new
        change after an undo discards the redo history (kept in node histories)."""
        return self._step(document_id, expected_version, redo=True)

    def node_history(self, node_id: int) -> list[RevisionView]:
        """Every state the node had, oldest first, including undone ones."""

        def work(session: Session) -> list[RevisionView]:
            if session.get(Node, node_id) is None:
                raise NotFoundError("node", node_id)
            rows = session.execute(
                select(Revision, Change.status)
                .join(Change, Revision.change_id == Change.id)
                .where(Revision.node_id == node_id, Revision.action != history.SHIFT)
                .order_by(Change.seq, Revision.id)
            )
            return [views.revision_view(revision, status) for revision, status in rows]

        return self._read_tx(work)

    # -- translation cache -----------------------------------------------------------------

    def get_translation(self, node_id: int, target_language: str) -> str | None:
        """A cached decoding of the node's current concept in `target_language`."""

        def work(session: Session) -> str | None:
            row = session.execute(
                select(Node.embedding, Node.embedding_dtype).where(Node.id == node_id)
            ).one_or_none()
            if row is None:
                raise NotFoundError("node", node_id)
            if row.embedding is None:
                return None
            return session.scalar(
                select(Translation.text).where(
                    Translation.node_id == node_id,
                    Translation.concept_sha256 == _concept_key(row.embedding, row.embedding_dtype),
                    Translation.target_language == target_language,
                )
            )

        return self._read_tx(work)

    def get_translations(self, document_id: int, target_language: str) -> dict[int, str]:
        """Cached decodings of all the document's live nodes' current concepts, by node id."""

        def work(session: Session) -> dict[int, str]:
            tree.document(session, document_id, for_change=False)
            keys = {
                row.id: _concept_key(row.embedding, row.embedding_dtype)
                for row in session.execute(
                    select(Node.id, Node.embedding, Node.embedding_dtype).where(
                        Node.document_id == document_id, Node.embedding.is_not(None)
                    )
                )
            }
            rows = session.execute(
                select(Translation.node_id, Translation.concept_sha256, Translation.text)
                .join(Node, Translation.node_id == Node.id)
                .where(
                    Node.document_id == document_id,
                    Translation.target_language == target_language,
                )
            )
            return {r.node_id: r.text for r in rows if keys.get(r.node_id) == r.concept_sha256}

        return self._read_tx(work)

    def put_translation(
        self, node_id: int, target_language: str, text: str, *, expected_version: int
    ) -> None:
        """Cache a decoding made from the node at `expected_version` (ConflictError if the
        node changed meanwhile, so a stale decoding is never cached)."""
        language = check_language(target_language)

        def work(session: Session) -> None:
            _, node = tree.node_for_change(session, node_id, expected_version)
            if node.embedding is None:
                raise EmbeddingError(f"node {node_id} has no concept yet, so nothing to translate")
            decoded = check_text(text, node.kind, what="the translation")
            key = _concept_key(node.embedding, node.embedding_dtype)
            cached = session.scalars(
                select(Translation).where(
                    Translation.node_id == node_id,
                    Translation.concept_sha256 == key,
                    Translation.target_language == language,
                )
            ).one_or_none()
            if cached is not None:
                cached.text = decoded
                return
            try:
                with session.begin_nested():  # a concurrent put of the same key is fine
                    session.add(
                        Translation(
                            node_id=node_id,
                            concept_sha256=key,
                            target_language=language,
                            text=decoded,
                            created_at=_now(),
                        )
                    )
            except IntegrityError:
                pass

        self._write_tx(work)

    # -- export ----------------------------------------------------------------------------

    def export_markdown(self, document_id: int) -> str:
        return export.to_markdown(self.get_document(document_id, with_embeddings=False))

    def export_text(self, document_id: int) -> str:
        return export.to_text(self.get_document(document_id, with_embeddings=False))

    def export_json(self, document_id: int) -> str:
        """The document with every node's embedding (base64 of little-endian bytes + dtype)."""
        return export.to_json(self.get_document(document_id))

    # -- internals -------------------------------------------------------------------------

    def _read_tx(self, work: Callable[[Session], T]) -> T:
        return run_transaction(self._read, work)

    def _write_tx(self, work: Callable[[Session], T]) -> T:
        return run_transaction(self._write, work)

    def _set_document_deleted(self, document_id: int, *, deleted: bool) -> DocumentSummary:
        def work(session: Session) -> DocumentSummary:
            doc = tree.document(session, document_id, for_change=False)
            if (doc.deleted_at is not None) != deleted:
                now = _now()
                doc.deleted_at = now if deleted else None
                doc.version += 1
                doc.updated_at = now
            return _summary(session, doc)

        return self._write_tx(work)

    def _move_by(self, node_id: int, expected_version: int | None, action: str) -> NodeView:
        def work(session: Session) -> NodeView:
            doc, node = tree.node_for_change(session, node_id, expected_version)
            siblings = tree.live_children(session, doc.id, node.parent_id)
            index = tree.index_of(siblings, node)
            if action == "move_up":
                if index == 0:
                    raise InvalidMoveError(f"node {node_id} is already the first of its siblings")
                return _move(
                    session, doc, node, node.parent_id, index - 1, action, self.neighbourhood
                )
            if action == "move_down":
                if index == len(siblings) - 1:
                    raise InvalidMoveError(f"node {node_id} is already the last of its siblings")
                return _move(
                    session, doc, node, node.parent_id, index + 1, action, self.neighbourhood
                )
            if action == "indent":
                if index == 0:
                    raise InvalidMoveError(
                        f"node {node_id} has no previous sibling to become a child of"
                    )
                new_parent = siblings[index - 1]
                count = len(tree.live_children(session, doc.id, new_parent.id))
                return _move(session, doc, node, new_parent.id, count, action, self.neighbourhood)
            if node.parent_id is None:
                raise InvalidMoveError(f"node {node_id} is already at the top level")
            parent = session.get_one(Node, node.parent_id)
            uncles = tree.live_children(session, doc.id, parent.parent_id)
            position = tree.index_of(uncles, parent) + 1
            return _move(session, doc, node, parent.parent_id, position, action, self.neighbourhood)

        return self._write_tx(work)

    def _set_locked(self, node_id: int, expected_version: int | None, *, locked: bool) -> NodeView:
        def work(session: Session) -> NodeView:
            doc, node = tree.node_for_change(session, node_id, expected_version)
            if node.locked == locked:
                return views.node_view(session, node)
            now = _now()
            action = "lock" if locked else "unlock"
            change = history.begin_change(session, doc, action, now)
            node.locked = locked
            history.record(session, change, node, action, now)
            return views.node_view(session, node)

        return self._write_tx(work)

    def _step(self, document_id: int, expected_version: int | None, *, redo: bool) -> ChangeView:
        def work(session: Session) -> ChangeView:
            doc = tree.document(session, document_id, for_change=True)
            _check_document_version(doc, expected_version)
            if redo:
                change = history.first_redoable(session, doc.id)
                if change is None:
                    raise NothingToUndoError("nothing to redo in this document")
                done = history.redo(session, doc, change, _now())
            else:
                change = history.last_undoable(session, doc.id)
                if change is None:
                    raise NothingToUndoError("nothing to undo in this document")
                done = history.undo(session, doc, change, _now())
            neighbours.refresh(session, doc.id, done.node_ids, window=self.neighbourhood)
            return done

        return self._write_tx(work)


def _now() -> datetime:
    return datetime.now(UTC)


def _check_document_version(doc: Document, expected_version: int | None) -> None:
    if expected_version is not None and doc.version != expected_version:
        raise ConflictError("document", doc.id, expected_version, doc.version)


def _summary(session: Session, doc: Document) -> DocumentSummary:
    count = session.scalar(
        select(func.count()).where(Node.document_id == doc.id, Node.deleted.is_(False))
    )
    return views.summary(doc, count or 0)


def _move(
    session: Session,
    doc: Document,
    node: Node,
    parent_id: int | None,
    position: int,
    action: str,
    window: int,
) -> NodeView:
    """Move `node` under `parent_id` at sibling index `position` as one undoable change
    (its sentences change neighbourhood: `window`, storage/neighbours.py)."""
    parent = tree.parent_in(session, doc, parent_id)
    ancestor = parent
    while ancestor is not None:
        if ancestor.id == node.id:
            raise InvalidMoveError(f"node {node.id} cannot be moved into itself or its own subtree")
        ancestor = session.get(Node, ancestor.parent_id) if ancestor.parent_id else None
    siblings = tree.live_children(session, doc.id, parent_id, without=node.id)
    tree.check_position(position, siblings)
    now = _now()
    change = history.begin_change(session, doc, action, now)
    (node.position_key,) = tree.make_room(session, change, siblings, position, 1, now)
    node.parent_id = parent_id
    history.record(session, change, node, action, now)
    neighbours.refresh(session, doc.id, [node.id], window=window)
    return views.node_view(session, node)


def _set_fields(node: Node, values: dict[str, object]) -> None:
    for name, value in values.items():
        setattr(node, name, value)


def _figure(value: float | None) -> float | None:
    return None if value is None else float(value)


def _embedding_columns(embedding: object, dim: int) -> dict[str, object]:
    if embedding is None:
        return {"embedding": None, "embedding_dtype": None}
    stored = encode_embedding(embedding, dim)
    return {"embedding": stored.data, "embedding_dtype": stored.dtype}


def _concept_key(data: bytes, dtype: str | None) -> str:
    """The translation cache's name for one concept revision: SHA-256 of dtype + bytes."""
    return hashlib.sha256(f"{dtype}:".encode() + data).hexdigest()
