"""import tombstones: deleted imported posts stay deleted; posts.origin

Revision ID: 0004_import_tombstones
Revises: 0003_queue_indexes
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_import_tombstones"
down_revision: str | None = "0003_queue_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_tombstones",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("import_key", sa.String(length=64), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_import_tombstones_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "import_key", name=op.f("pk_import_tombstones")),
    )
    # A plain ADD COLUMN: SQLite adds it in place (a batch copy of `posts` would cascade).
    op.add_column("posts", sa.Column("origin", sa.String(length=16), nullable=True))
    # Posts imported before this revision carry an external id or were keyed by content;
    # only those with an external id are known to come from a file.
    op.execute("UPDATE posts SET origin = 'import' WHERE external_id IS NOT NULL")


def downgrade() -> None:
    op.drop_column("posts", "origin")
    op.drop_table("import_tombstones")
