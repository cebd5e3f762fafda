"""operations: a daemon's liveness lock

daemons gains `lock_key`: the key of the session-level advisory lock a running
daemon holds on PostgreSQL for its whole life (on SQLite, set to 0: the daemon
holds the file lock beside the database). A daemon whose lock is free is gone,
and the others take over its claims at once instead of waiting out the lease.
Rows of daemons that never took a lock (older versions, `daemon run --once`)
keep NULL and are recovered by lease expiry only.

post_destinations gains a partial index on `next_attempt_at` of unsent rows waiting
for a retry time, so that a daemon's "when is the next thing due?" reads a few index
entries however many posts are scheduled.

Revision ID: 0010_operations
Revises: 0009_billing
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_operations"
down_revision: str | None = "0009_billing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


RETRY_WAITING = "status IN ('pending', 'retrying') AND next_attempt_at IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("daemons") as batch:
        batch.add_column(sa.Column("lock_key", sa.Integer(), nullable=True))
    op.create_index(
        "ix_post_destinations_retry_unsent",
        "post_destinations",
        ["next_attempt_at"],
        postgresql_where=sa.text(RETRY_WAITING),
        sqlite_where=sa.text(RETRY_WAITING),
    )


def downgrade() -> None:
    op.drop_index("ix_post_destinations_retry_unsent", table_name="post_destinations")
    with op.batch_alter_table("daemons") as batch:
        batch.drop_column("lock_key")
