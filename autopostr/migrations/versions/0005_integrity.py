"""integrity: indexes on foreign keys, CHECKs on closed sets, unique account snapshots

Every foreign key gets an index, so deleting the row it points at (or the
cascade that nulls it) finds the children without scanning their table. These 11
had none:

    publish_logs.destination_id       -> post_destinations  SET NULL
    publish_logs.account_id           -> social_accounts    SET NULL
    analytics_snapshots.destination_id -> post_destinations CASCADE
        (served by the partial unique index on (destination_id, day) below)
    posts.author_id                   -> users              SET NULL
    media.uploaded_by                 -> users              SET NULL
    social_accounts.connected_by      -> users              SET NULL
    audit_log.user_id                 -> users              SET NULL
    team_invites.invited_by           -> users              SET NULL
    team_invites.used_by              -> users              SET NULL
    users.current_team_id             -> teams              SET NULL
    ai_usage.team_id                  -> teams              CASCADE

Columns that hold one of a closed set of names get a CHECK: post and destination
states, account states, team roles. Adding one on SQLite copies the table (batch
mode); autopostr runs migrations with foreign keys off so the copy's DROP cannot
cascade (see autopostr.migrate.migrating).

analytics_snapshots' unique key (account_id, destination_id, day) never stopped two
account-level rows for the same day, as their destination_id is NULL and NULLs
never collide. Two partial unique indexes replace it; duplicates already there are
removed first, keeping the newest row (highest id) of each.

Revision ID: 0005_integrity
Revises: 0004_import_tombstones
Create Date: 2026-12-09
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_integrity"
down_revision: str | None = "0004_import_tombstones"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEY_INDEXES = (
    ("publish_logs", "destination_id"),
    ("publish_logs", "account_id"),
    ("posts", "author_id"),
    ("media", "uploaded_by"),
    ("social_accounts", "connected_by"),
    ("audit_log", "user_id"),
    ("team_invites", "invited_by"),
    ("team_invites", "used_by"),
    ("users", "current_team_id"),
    ("ai_usage", "team_id"),
)

# The sets as this revision knows them (autopostr.states and autopostr.models build
# the same text); a later revision that adds a state replaces its CHECK.
POST_STATES = (
    "status IN ('approved', 'draft', 'failed', 'partially_published', "
    "'pending_approval', 'published', 'publishing', 'scheduled')"
)
DESTINATION_STATES = (
    "status IN ('claimed', 'deleted', 'failed', 'needs_review', 'pending', "
    "'processing', 'published', 'retrying')"
)
ACCOUNT_STATES = "status IN ('active', 'disconnected', 'needs_reconnect')"
ROLES = "role IN ('editor', 'owner', 'viewer')"
CHECKS = (
    ("posts", "status", POST_STATES),
    ("post_destinations", "status", DESTINATION_STATES),
    ("social_accounts", "status", ACCOUNT_STATES),
    ("team_members", "role", ROLES),
    ("team_invites", "role", ROLES),
)

ACCOUNT_ROWS = "destination_id IS NULL"
DESTINATION_ROWS = "destination_id IS NOT NULL"
OLD_SNAPSHOT_KEY = "uq_analytics_snapshots_account_id_destination_id_day"


def upgrade() -> None:
    for table, column, check in CHECKS:
        with op.batch_alter_table(table) as batch:
            batch.create_check_constraint(op.f(f"ck_{table}_{column}"), check)

    for key, rows in (("account_id", ACCOUNT_ROWS), ("destination_id", DESTINATION_ROWS)):
        op.execute(
            f"DELETE FROM analytics_snapshots WHERE {rows} AND id NOT IN "
            f"(SELECT max(id) FROM analytics_snapshots WHERE {rows} GROUP BY {key}, day)"
        )
    with op.batch_alter_table("analytics_snapshots") as batch:
        batch.drop_constraint(OLD_SNAPSHOT_KEY, type_="unique")
    for key, rows in (("account_id", ACCOUNT_ROWS), ("destination_id", DESTINATION_ROWS)):
        op.create_index(
            f"uq_analytics_snapshots_{key}_day",
            "analytics_snapshots",
            [key, "day"],
            unique=True,
            postgresql_where=sa.text(rows),
            sqlite_where=sa.text(rows),
        )

    # Last: the table copies above need not rebuild them.
    for table, column in FOREIGN_KEY_INDEXES:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column])


def downgrade() -> None:
    for table, column in FOREIGN_KEY_INDEXES:
        op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)

    for key in ("account_id", "destination_id"):
        op.drop_index(f"uq_analytics_snapshots_{key}_day", table_name="analytics_snapshots")
    with op.batch_alter_table("analytics_snapshots") as batch:
        batch.create_unique_constraint(
            op.f(OLD_SNAPSHOT_KEY), ["account_id", "destination_id", "day"]
        )

    for table, column, _check in CHECKS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
