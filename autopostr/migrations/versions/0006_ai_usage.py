"""ai_usage: one row per AI request, with its feature, tokens, duration and outcome

The `ai` commands record each request before sending it (the per-user rate limit
counts the rows of the last minute, in every process) and complete the row when
the server has answered. Billing counts a team's rows per month.

    kind      -> feature (caption, hashtags, improve, ideas, alt-text, variants)
    tokens    -> prompt_tokens + completion_tokens (a row from before keeps its
                 total, unsplit, as completion tokens)
    new          duration_ms, ok (rows from before were answered requests)
    indexes      (user_id, created_at) for the sliding window, (team_id, created_at)
                 for a month's count; they replace the single-column foreign-key ones

Revision ID: 0006_ai_usage
Revises: 0005_integrity
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_ai_usage"
down_revision: str | None = "0005_integrity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_COUNTS = ("prompt_tokens", "completion_tokens", "duration_ms")
WINDOW_INDEXES = (("user_id", "created_at"), ("team_id", "created_at"))


def upgrade() -> None:
    # Nullable first, filled, then NOT NULL: a table with rows cannot take a NOT NULL
    # column without a default.
    with op.batch_alter_table("ai_usage") as batch:
        for name in NEW_COUNTS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))
        batch.add_column(sa.Column("ok", sa.Boolean(), nullable=True))
    usage = sa.table(
        "ai_usage",
        sa.column("tokens", sa.Integer()),
        *(sa.column(name, sa.Integer()) for name in NEW_COUNTS),
        sa.column("ok", sa.Boolean()),
    )
    op.execute(
        usage.update().values(
            prompt_tokens=0, completion_tokens=usage.c.tokens, duration_ms=0, ok=sa.true()
        )
    )
    with op.batch_alter_table("ai_usage") as batch:
        batch.alter_column(
            "kind", new_column_name="feature", existing_type=sa.String(32), existing_nullable=False
        )
        for name in NEW_COUNTS:
            batch.alter_column(name, existing_type=sa.Integer(), nullable=False)
        batch.alter_column("ok", existing_type=sa.Boolean(), nullable=False)
        batch.drop_column("tokens")
        batch.drop_index("ix_ai_usage_user_id")
        batch.drop_index("ix_ai_usage_team_id")
        for columns in WINDOW_INDEXES:
            batch.create_index(f"ix_ai_usage_{'_'.join(columns)}", list(columns))


def downgrade() -> None:
    with op.batch_alter_table("ai_usage") as batch:
        batch.add_column(sa.Column("tokens", sa.Integer(), nullable=True))
    usage = sa.table(
        "ai_usage",
        sa.column("tokens", sa.Integer()),
        sa.column("prompt_tokens", sa.Integer()),
        sa.column("completion_tokens", sa.Integer()),
    )
    op.execute(usage.update().values(tokens=usage.c.prompt_tokens + usage.c.completion_tokens))
    with op.batch_alter_table("ai_usage") as batch:
        for columns in WINDOW_INDEXES:
            batch.drop_index(f"ix_ai_usage_{'_'.join(columns)}")
        batch.create_index("ix_ai_usage_user_id", ["user_id"])
        batch.create_index("ix_ai_usage_team_id", ["team_id"])
        batch.alter_column("tokens", existing_type=sa.Integer(), nullable=False)
        batch.alter_column(
            "feature", new_column_name="kind", existing_type=sa.String(32), existing_nullable=False
        )
        for name in (*NEW_COUNTS, "ok"):
            batch.drop_column(name)
