"""The schema as SQLAlchemy 2.0 typed ORM classes. Alembic migrations (storage/migrations)
create it; change both together.

A node's embedding is stored as little-endian bytes with its dtype; its dimension is the
document's `codec_dim`. Revisions hold each node's full state right after every change, so
undoing change N restores, for each node it touched, the latest revision from an earlier
change that is still applied (or hides the node if change N created it)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import Kind, Origin


class ChangeStatus(StrEnum):
    APPLIED = "applied"
    UNDONE = "undone"  # redo can bring it back
    DISCARDED = "discarded"  # undone, then a new change was made; kept for node histories


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


def _enum(enum: type[StrEnum], name: str) -> Enum:
    """A VARCHAR with a CHECK constraint holding the enum's values (portable, readable)."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: UTCDateTime(),
        Kind: _enum(Kind, "kind"),
        Origin: _enum(Origin, "origin"),
        ChangeStatus: _enum(ChangeStatus, "change_status"),
    }


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(32))
    codec_name: Mapped[str] = mapped_column(String(200))
    codec_dim: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]  # soft delete (restorable)
    version: Mapped[int] = mapped_column(Integer, default=1)  # bumped by every change
    last_seq: Mapped[int] = mapped_column(Integer, default=0)  # sequence of its changes


class Node(Base):
    __tablename__ = "nodes"
    # Siblings in order; `deleted` last so that the library's count of each document's
    # live nodes (every screen) reads this index alone: 5 ms instead of 79 ms with 200,000
    # nodes stored. A separate (document_id, deleted) index would tempt SQLite's planner
    # away from this one for sibling walks, which then scan the whole document.
    __table_args__ = (
        Index("ix_nodes_siblings", "document_id", "parent_id", "position_key", "deleted"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"))
    # Siblings sort by (position_key, id); keys are spaced so inserts rarely renumber.
    position_key: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[Kind]
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(32))
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    embedding_dtype: Mapped[str | None] = mapped_column(String(16))
    origin: Mapped[Origin]
    stale: Mapped[bool] = mapped_column(Boolean)  # text changed, no matching concept yet
    # The round trip (decoded reading, its cosine, chrF) of this text and concept.
    reading: Mapped[str | None] = mapped_column(Text)
    reading_cosine: Mapped[float | None] = mapped_column(Float)
    reading_chrf: Mapped[float | None] = mapped_column(Float)
    # The closest other live sentence of the document (storage/neighbours.py).
    nearest_id: Mapped[int | None] = mapped_column(Integer)
    nearest_cosine: Mapped[float | None] = mapped_column(Float)
    locked: Mapped[bool] = mapped_column(Boolean)
    edited: Mapped[bool] = mapped_column(Boolean)  # a person changed the text
    deleted: Mapped[bool] = mapped_column(Boolean)  # soft delete of the node and its subtree
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer)  # optimistic concurrency


class Change(Base):
    """One user action on a document: the unit of undo and redo."""

    __tablename__ = "changes"
    __table_args__ = (UniqueConstraint("document_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    status: Mapped[ChangeStatus]
    undoable: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]


class Revision(Base):
    """A node's full state right after a change ("shift": only its sort key moved)."""

    __tablename__ = "revisions"
    __table_args__ = (Index("ix_revisions_node", "node_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(32))
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    embedding_dtype: Mapped[str | None] = mapped_column(String(16))
    origin: Mapped[Origin]
    reading: Mapped[str | None] = mapped_column(Text)
    reading_cosine: Mapped[float | None] = mapped_column(Float)
    reading_chrf: Mapped[float | None] = mapped_column(Float)
    stale: Mapped[bool] = mapped_column(Boolean)
    locked: Mapped[bool] = mapped_column(Boolean)
    edited: Mapped[bool] = mapped_column(Boolean)
    deleted: Mapped[bool] = mapped_column(Boolean)
    parent_id: Mapped[int | None] = mapped_column(Integer)
    position_key: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class Variant(Base):
    """An alternative proposed by "regenerate", kept whether or not it is accepted."""

    __tablename__ = "variants"

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(32))
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    embedding_dtype: Mapped[str | None] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float)
    follows: Mapped[float | None] = mapped_column(Float)
    leads_on: Mapped[float | None] = mapped_column(Float)
    temperature: Mapped[float | None] = mapped_column(Float)
    accepted: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]


class Translation(Base):
    """A decoding of one concept revision of a node into a target language. The revision is
    named by the SHA-256 of the concept's bytes, so undo back to a concept finds it again."""

    __tablename__ = "translations"
    __table_args__ = (UniqueConstraint("node_id", "concept_sha256", "target_language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"))
    concept_sha256: Mapped[str] = mapped_column(String(64))
    target_language: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


# The node fields a revision snapshots and undo/redo write back.
SNAPSHOT_FIELDS = (
    "text",
    "language",
    "embedding",
    "embedding_dtype",
    "origin",
    "reading",
    "reading_cosine",
    "reading_chrf",
    "stale",
    "locked",
    "edited",
    "deleted",
    "parent_id",
    "position_key",
)
