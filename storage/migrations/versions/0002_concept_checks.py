"""Concept checks: each node's round trip (decoded reading, cosine, chrF) on nodes and
revisions, each sentence's nearest other sentence, and the two fit figures of variants.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READING = ("reading", "reading_cosine", "reading_chrf")


def _reading_columns() -> list[sa.Column]:
    return [
        sa.Column("reading", sa.Text(), nullable=True),
        sa.Column("reading_cosine", sa.Float(), nullable=True),
        sa.Column("reading_chrf", sa.Float(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        for column in _reading_columns():
            batch.add_column(column)
        batch.add_column(sa.Column("nearest_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("nearest_cosine", sa.Float(), nullable=True))
    with op.batch_alter_table("revisions") as batch:
        for column in _reading_columns():
            batch.add_column(column)
    with op.batch_alter_table("variants") as batch:
        batch.add_column(sa.Column("follows", sa.Float(), nullable=True))
        batch.add_column(sa.Column("leads_on", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("variants") as batch:
        batch.drop_column("leads_on")
        batch.drop_column("follows")
    with op.batch_alter_table("revisions") as batch:
        for name in reversed(READING):
            batch.drop_column(name)
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("nearest_cosine")
        batch.drop_column("nearest_id")
        for name in reversed(READING):
            batch.drop_column(name)
