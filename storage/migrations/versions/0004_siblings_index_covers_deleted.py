"""The sibling index also holds `deleted`: the library's count of each document's live
nodes reads the index alone instead of every node row (79 -> 5 ms at 200,000 nodes).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIBLINGS = ["document_id", "parent_id", "position_key"]


def upgrade() -> None:
    op.drop_index("ix_nodes_siblings", table_name="nodes")
    op.create_index("ix_nodes_siblings", "nodes", [*SIBLINGS, "deleted"])


def downgrade() -> None:
    op.drop_index("ix_nodes_siblings", table_name="nodes")
    op.create_index("ix_nodes_siblings", "nodes", SIBLINGS)
