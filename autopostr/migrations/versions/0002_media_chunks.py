"""media chunks: media bytes in the database; frames and updated_at on media

Revision ID: 0002_media_chunks
Revises: 0001_initial
Create Date: 2026-11-26 03:42:29.878210
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_media_chunks"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_chunks",
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_media_chunks_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("media_id", "seq", name=op.f("pk_media_chunks")),
    )
    # Plain ADD COLUMNs: SQLite adds them in place. A batch-mode table copy would
    # drop `media`, and with foreign keys on that cascades into post_media.
    op.add_column("media", sa.Column("frames", sa.Integer(), nullable=True))
    op.add_column("media", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE media SET updated_at = created_at")


def downgrade() -> None:
    # SQLite >= 3.35 drops columns in place, without the table copy batch mode makes.
    op.drop_column("media", "updated_at")
    op.drop_column("media", "frames")
    op.drop_table("media_chunks")
