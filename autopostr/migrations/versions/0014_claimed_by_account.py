"""the claim's count of each account's claimed destinations, by a plain index scan

Every claim counts how many of each account's destinations are claimed. Read
through `ix_post_destinations_lease_claimed` (keyed by lease time) the count is a
bitmap scan, and bitmap scans never mark the index entries of rows claimed and
published since the last vacuum as dead: a burst's claims read more of them at
each turn. Keyed by account, the count reads the index in its group order, by a
scan that marks them.

Revision ID: 0014_claimed_by_account
Revises: 0013_due_by_account
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_claimed_by_account"
down_revision: str | None = "0013_due_by_account"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLAIMED = "status = 'claimed'"


def upgrade() -> None:
    op.create_index(
        "ix_post_destinations_claimed_by_account",
        "post_destinations",
        ["account_id"],
        postgresql_where=sa.text(CLAIMED),
        sqlite_where=sa.text(CLAIMED),
    )


def downgrade() -> None:
    op.drop_index("ix_post_destinations_claimed_by_account", table_name="post_destinations")
