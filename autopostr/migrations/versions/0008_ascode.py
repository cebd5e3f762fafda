"""content as code: posts that came from a folder of Markdown files, post labels, and
who approves (a merged pull request may count)

Revision ID: 0008_ascode
Revises: 0007_analytics
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_ascode"
down_revision: str | None = "0007_analytics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "code_posts",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("commit_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_code_posts_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_code_posts_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team_id", "key", name=op.f("pk_code_posts")),
        sa.UniqueConstraint("post_id", name=op.f("uq_code_posts_post_id")),
    )
    # Plain ADD COLUMNs: SQLite adds them in place (a batch copy of `posts` would cascade).
    op.add_column("posts", sa.Column("labels", sa.Text(), nullable=True))
    op.add_column("teams", sa.Column("approval_by", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("teams", "approval_by")
    op.drop_column("posts", "labels")
    op.drop_table("code_posts")
