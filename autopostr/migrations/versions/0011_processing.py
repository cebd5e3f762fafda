"""media still processing on the platform: a scheduled continuation

Revision ID: 0011_processing
Revises: 0010_operations
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_processing"
down_revision: str | None = "0010_operations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_DUE = "status IN ('pending', 'retrying')"
NEW_DUE = "status IN ('pending', 'processing', 'retrying')"
OLD_RETRY = f"{OLD_DUE} AND next_attempt_at IS NOT NULL"
NEW_RETRY = f"{NEW_DUE} AND next_attempt_at IS NOT NULL"


def _due_indexes(due: str, retry: str) -> None:
    """The claim's index and next_wake_at's index of retries both hold every due state."""
    for name in ("ix_post_destinations_due_unsent", "ix_post_destinations_retry_unsent"):
        op.drop_index(name, table_name="post_destinations")
    op.create_index(
        "ix_post_destinations_due_unsent",
        "post_destinations",
        ["due_at"],
        postgresql_where=sa.text(due),
        sqlite_where=sa.text(due),
    )
    op.create_index(
        "ix_post_destinations_retry_unsent",
        "post_destinations",
        ["next_attempt_at"],
        postgresql_where=sa.text(retry),
        sqlite_where=sa.text(retry),
    )


def upgrade() -> None:
    # Where the platform is with a destination's media (its ids, what to ask next), so
    # a daemon comes back to it at `next_attempt_at` instead of uploading again.
    with op.batch_alter_table("post_destinations") as batch:
        batch.add_column(sa.Column("resume", sa.Text(), nullable=True))
    # A processing destination is due again at its next check: the claim's index holds it.
    _due_indexes(NEW_DUE, NEW_RETRY)


def downgrade() -> None:
    _due_indexes(OLD_DUE, OLD_RETRY)
    with op.batch_alter_table("post_destinations") as batch:
        batch.drop_column("resume")
