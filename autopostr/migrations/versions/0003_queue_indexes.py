"""partial indexes for the publishing queue

Revision ID: 0003_queue_indexes
Revises: 0002_media_chunks
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_queue_indexes"
down_revision: str | None = "0002_media_chunks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSENT = "status IN ('pending', 'retrying')"
CLAIMED = "status = 'claimed'"


def upgrade() -> None:
    # The full index on due_at is replaced by the partial one: published rows need none.
    op.drop_index("ix_post_destinations_due_at", table_name="post_destinations")
    op.create_index(
        "ix_post_destinations_due_unsent",
        "post_destinations",
        ["due_at"],
        postgresql_where=sa.text(UNSENT),
        sqlite_where=sa.text(UNSENT),
    )
    op.create_index(
        "ix_post_destinations_lease_claimed",
        "post_destinations",
        ["lease_expires_at"],
        postgresql_where=sa.text(CLAIMED),
        sqlite_where=sa.text(CLAIMED),
    )


def downgrade() -> None:
    op.drop_index("ix_post_destinations_lease_claimed", table_name="post_destinations")
    op.drop_index("ix_post_destinations_due_unsent", table_name="post_destinations")
    op.create_index("ix_post_destinations_due_at", "post_destinations", ["due_at"], unique=False)
