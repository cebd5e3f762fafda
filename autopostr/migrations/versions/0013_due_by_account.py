"""the claim's per-account index: each account's unsent destinations in due order

A daemon's claim takes, for each account with room, only its earliest due
destinations: with this index that is a few index entries per account, however
many destinations a burst has made due.

Revision ID: 0013_due_by_account
Revises: 0012_schedule
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_due_by_account"
down_revision: str | None = "0012_schedule"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DUE = "status IN ('pending', 'processing', 'retrying')"


def upgrade() -> None:
    op.create_index(
        "ix_post_destinations_due_by_account",
        "post_destinations",
        ["account_id", "due_at", "id"],
        postgresql_where=sa.text(DUE),
        sqlite_where=sa.text(DUE),
    )


def downgrade() -> None:
    op.drop_index("ix_post_destinations_due_by_account", table_name="post_destinations")
