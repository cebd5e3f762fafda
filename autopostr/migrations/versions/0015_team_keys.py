"""a team's own sealing key: its public half, which its account secrets are sealed to

A team with a key of its own has its accounts' secrets sealed to it instead of the
database's public key, so only the daemons given that team's key open them.

Revision ID: 0015_team_keys
Revises: 0014_claimed_by_account
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_team_keys"
down_revision: str | None = "0014_claimed_by_account"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.add_column(sa.Column("sealing_public_key", sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.drop_column("sealing_public_key")
