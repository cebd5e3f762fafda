"""Migrations build exactly the models' schema on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from autopostr.config import load_settings
from autopostr.db import SCHEMA_HEAD, Database
from autopostr.migrate import head_revision, upgrade
from autopostr.migrations.hooks import compare_type
from autopostr.models import metadata


def test_schema_head_constant_matches_alembic() -> None:
    assert head_revision() == SCHEMA_HEAD


def test_upgrade_on_empty_database_matches_models(engine: str) -> None:
    db = Database(load_settings())
    before, after = upgrade(db)
    assert before is None and after == SCHEMA_HEAD
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": compare_type})
        diff = compare_metadata(context, metadata)
    assert diff == []
    tables = set(metadata.tables)
    assert {
        "users",
        "sessions",
        "api_tokens",
        "teams",
        "team_members",
        "team_invites",
        "social_accounts",
        "posts",
        "post_destinations",
        "media",
        "post_media",
        "publish_logs",
        "analytics_snapshots",
        "ai_usage",
        "subscriptions",
        "daemons",
        "audit_log",
    } <= tables


def test_migrations_ship_inside_the_package() -> None:
    from importlib.resources import files

    versions = files("autopostr.migrations") / "versions"
    assert any(p.name.startswith("0001_") for p in versions.iterdir())
    assert (files("autopostr.migrations") / "script.py.mako").is_file()
