"""Migrations build exactly the models' schema on both engines."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, Connection, MetaData, create_engine, inspect, text

from autopostr.config import load_settings
from autopostr.db import SCHEMA_HEAD, SCHEMA_HISTORY, Database, read_history
from autopostr.migrate import head_revision, upgrade
from autopostr.migrations.hooks import compare_type
from autopostr.models import metadata

REFERENCE = "autopostr_reference"  # the PostgreSQL schema create_all builds for comparison


def test_schema_head_constant_matches_alembic() -> None:
    assert head_revision() == SCHEMA_HEAD


def alembic_history(script_location: str) -> tuple[str, ...]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", script_location)
    walked = ScriptDirectory.from_config(config).walk_revisions("base", "heads")
    return tuple(reversed([script.revision for script in walked]))


def test_schema_history_is_alembics() -> None:
    assert SCHEMA_HISTORY == alembic_history("autopostr:migrations")


def test_a_new_migration_joins_the_history_by_itself(tmp_path: Path) -> None:
    """A revision made from the project's template is read without Alembic, as Alembic
    reads it: nothing else to update by hand."""
    from importlib.resources import as_file, files

    from alembic import command
    from alembic.config import Config

    with as_file(files("autopostr") / "migrations") as source:
        shutil.copytree(
            source, tmp_path / "migrations", ignore=shutil.ignore_patterns("__pycache__")
        )
    config = Config()
    config.set_main_option("script_location", str(tmp_path / "migrations"))
    command.revision(config, "next step", rev_id="0099_next_step")

    history = read_history(tmp_path / "migrations" / "versions")
    assert history == (*SCHEMA_HISTORY, "0099_next_step")
    assert history == alembic_history(str(tmp_path / "migrations"))


def test_a_forked_history_is_refused(tmp_path: Path) -> None:
    for name in ("0001_a", "0002_b", "0002_c"):
        parent = "None" if name == "0001_a" else '"0001_a"'
        (tmp_path / f"{name}.py").write_text(
            f'"""{name}"""\n\nrevision: str = "{name}"\ndown_revision: str | None = {parent}\n'
        )
    with pytest.raises(RuntimeError, match="one line of revisions"):
        read_history(tmp_path)
    (tmp_path / "0002_c.py").unlink()
    assert read_history(tmp_path) == ("0001_a", "0002_b")


def _normal(sql: str) -> str:
    sql = sql.replace(f"{REFERENCE}.", "").replace("public.", "").replace('"', "")
    return re.sub(r"\s+", " ", sql).strip()


def schema_facts(conn: Connection, schema: str = "public") -> dict[str, str]:
    """What autogenerate does not compare: each index's full definition, WHERE included,
    and each constraint's (CHECKs among them), by name."""
    if conn.dialect.name == "postgresql":
        indexes = conn.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = :s"),
            {"s": schema},
        )
        constraints = conn.execute(
            text(
                "SELECT rel.relname || '.' || con.conname, pg_get_constraintdef(con.oid) "
                "FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid "
                "JOIN pg_namespace ns ON ns.oid = rel.relnamespace "
                "WHERE ns.nspname = :s AND rel.relname <> 'alembic_version'"
            ),
            {"s": schema},
        )
        facts = {f"index {name}": _normal(sql) for name, sql in indexes}
        facts.pop("index pk_alembic_version", None)
        facts.pop("index alembic_version_pkc", None)
        return facts | {f"constraint {name}": _normal(sql) for name, sql in constraints}
    rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
    # Unique constraints' own indexes have no SQL; autogenerate compares those.
    facts = {f"index {name}": _normal(sql) for name, sql in rows if sql is not None}
    inspector = inspect(conn)
    for table in inspector.get_table_names():
        for check in inspector.get_check_constraints(table):
            facts[f"constraint {table}.{check['name']}"] = _normal(check["sqltext"])
    return facts


@contextmanager
def created_from(conn: Connection, target: MetaData) -> Iterator[Connection]:
    """A schema made by `create_all` of `target` beside the migrated one: a schema of
    its own on PostgreSQL, an in-memory database on SQLite."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"CREATE SCHEMA {REFERENCE}"))
        try:
            target.create_all(conn.execution_options(schema_translate_map={None: REFERENCE}))
            yield conn
        finally:
            conn.execute(text(f"DROP SCHEMA {REFERENCE} CASCADE"))
        return
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as reference:
            target.create_all(reference)
            yield reference
    finally:
        engine.dispose()


def drift(db: Database, target: MetaData) -> dict[str, tuple[str | None, str | None]]:
    """Each index or constraint whose definition differs: (migrated, created)."""
    with db.engine.begin() as conn, created_from(conn, target) as reference:
        migrated = schema_facts(conn)
        created = schema_facts(reference, REFERENCE)
    return {
        name: (migrated.get(name), created.get(name))
        for name in sorted(migrated.keys() | created.keys())
        if migrated.get(name) != created.get(name)
    }


def test_upgrade_on_empty_database_matches_models(engine: str) -> None:
    db = Database(load_settings())
    before, after = upgrade(db)
    assert before is None and after == SCHEMA_HEAD
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": compare_type})
        diff = compare_metadata(context, metadata)
    assert diff == []
    assert drift(db, metadata) == {}
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


def test_drift_check_sees_index_predicates_and_checks(engine: str) -> None:
    """A partial index's WHERE or a CHECK that differs is drift, though autogenerate
    sees none."""
    db = Database(load_settings())
    upgrade(db)
    altered = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(altered)
    destinations, posts = altered.tables["post_destinations"], altered.tables["posts"]
    (due,) = [ix for ix in destinations.indexes if ix.name == "ix_post_destinations_due_unsent"]
    for dialect in ("postgresql", "sqlite"):
        due.dialect_options[dialect]["where"] = text("status = 'pending'")
    (status,) = [ck for ck in posts.constraints if isinstance(ck, CheckConstraint)]
    status.sqltext = text("status IN ('draft', 'scheduled')")

    found = drift(db, altered)

    assert set(found) == {
        "index ix_post_destinations_due_unsent",
        "constraint posts.ck_posts_status",
    }
    migrated, created = found["index ix_post_destinations_due_unsent"]
    assert migrated is not None and "retrying" in migrated
    assert created is not None and "retrying" not in created


def test_migrations_ship_inside_the_package() -> None:
    from importlib.resources import files

    versions = files("autopostr.migrations") / "versions"
    assert any(p.name.startswith("0001_") for p in versions.iterdir())
    assert (files("autopostr.migrations") / "script.py.mako").is_file()


@pytest.mark.parametrize("table", sorted(metadata.tables))
def test_every_foreign_key_is_indexed(table: str) -> None:
    """Deleting the row a foreign key points at finds its children by index, never by
    scanning their table (a partial index counts where it covers every non-NULL key)."""
    t = metadata.tables[table]
    leading: list[list[str]] = [[c.name for c in t.primary_key.columns]]
    for index in t.indexes:
        where = index.dialect_options["postgresql"].get("where")
        columns = [c.name for c in index.columns]
        if where is None or str(where) == f"{columns[0]} IS NOT NULL":
            leading.append(columns)
    for constraint in t.constraints:
        if constraint.__class__.__name__ == "UniqueConstraint":
            leading.append([c.name for c in constraint.columns])  # type: ignore[attr-defined]
    for fk in t.foreign_key_constraints:
        keys = [c.name for c in fk.columns]
        assert any(cols[: len(keys)] == keys for cols in leading), f"{table}.{keys} unindexed"


AT = "2026-01-02 03:04:05+00:00"
DAY = "2026-01-02"
ROWS_AT_0004: dict[str, list[dict[str, object]]] = {
    "teams": [
        {"id": 1, "name": "solo", "personal": True, "approval_required": False},
        {"id": 2, "name": "acme", "personal": False, "approval_required": True},
    ],
    "users": [
        {"id": 1, "email": "a@example.com", "name": "A", "current_team_id": 1},
        {"id": 2, "email": "b@example.com", "name": "B", "current_team_id": 2},
    ],
    "team_members": [
        {"team_id": 1, "user_id": 1, "role": "owner"},
        {"team_id": 2, "user_id": 1, "role": "editor"},
        {"team_id": 2, "user_id": 2, "role": "owner"},
    ],
    "team_invites": [
        {
            "id": 1,
            "team_id": 2,
            "email": "c@example.com",
            "role": "viewer",
            "token_hash": "i",
            "invited_by": 2,
            "used_by": 1,
            "expires_at": AT,
        },
    ],
    "sessions": [
        {
            "id": 1,
            "user_id": 1,
            "token_hash": "s",
            "label": "",
            "last_used_at": AT,
            "expires_at": AT,
        },
    ],
    "api_tokens": [{"id": 1, "user_id": 2, "name": "ci", "token_hash": "t", "prefix": "ap_"}],
    "social_accounts": [
        {
            "id": 1,
            "team_id": 1,
            "platform": "mastodon",
            "handle": "a",
            "name": "",
            "status": "active",
            "scopes": "",
            "extra": "{}",
            "connected_by": 1,
            "updated_at": AT,
        },
        {
            "id": 2,
            "team_id": 2,
            "platform": "bluesky",
            "handle": "b",
            "name": "",
            "status": "needs_reconnect",
            "scopes": "",
            "extra": "{}",
            "connected_by": 2,
            "updated_at": AT,
        },
    ],
    "posts": [
        {"id": 1, "team_id": 1, "author_id": 1, "status": "draft", "text": "one", "updated_at": AT},
        {
            "id": 2,
            "team_id": 1,
            "author_id": 2,
            "status": "published",
            "text": "two",
            "updated_at": AT,
            "external_id": "row-2",
            "origin": "import",
            "import_key": "k2",
        },
        {
            "id": 3,
            "team_id": 2,
            "author_id": 2,
            "status": "partially_published",
            "text": "three",
            "updated_at": AT,
        },
    ],
    "post_destinations": [
        {
            "id": 1,
            "post_id": 1,
            "account_id": 1,
            "status": "pending",
            "attempts": 0,
            "idempotency_key": "d1",
            "updated_at": AT,
        },
        {
            "id": 2,
            "post_id": 2,
            "account_id": 1,
            "status": "published",
            "attempts": 1,
            "idempotency_key": "d2",
            "updated_at": AT,
            "remote_id": "r2",
        },
        {
            "id": 3,
            "post_id": 3,
            "account_id": 2,
            "status": "failed",
            "attempts": 3,
            "idempotency_key": "d3",
            "updated_at": AT,
            "error": "refused",
        },
        {
            "id": 4,
            "post_id": 3,
            "account_id": 1,
            "status": "needs_review",
            "attempts": 1,
            "idempotency_key": "d4",
            "updated_at": AT,
        },
    ],
    "media": [
        {
            "id": 1,
            "team_id": 1,
            "uploaded_by": 1,
            "filename": "a.png",
            "mime_type": "image/png",
            "size": 3,
            "sha256": "a" * 64,
            "storage": "database",
            "storage_key": "",
            "updated_at": AT,
        },
        {
            "id": 2,
            "team_id": 2,
            "uploaded_by": 2,
            "filename": "b.png",
            "mime_type": "image/png",
            "size": 3,
            "sha256": "b" * 64,
            "storage": "local",
            "storage_key": "bb/b",
            "updated_at": AT,
        },
    ],
    "media_chunks": [
        {"media_id": 1, "seq": 0, "data": b"ab"},
        {"media_id": 1, "seq": 1, "data": b"c"},
    ],
    "post_media": [
        {"post_id": 1, "media_id": 1, "position": 0},
        {"post_id": 2, "media_id": 1, "position": 0},
        {"post_id": 3, "media_id": 2, "position": 0},
    ],
    "publish_logs": [
        {
            "id": n,
            "post_id": post,
            "destination_id": dest,
            "account_id": account,
            "team_id": team,
            "event": event,
            "attempt": 1,
            "message": "",
        }
        for n, post, dest, account, team, event in (
            (1, 2, 2, 1, 1, "claimed"),
            (2, 2, 2, 1, 1, "published"),
            (3, 3, 3, 2, 2, "failed"),
            (4, 3, 4, 1, 2, "needs_review"),
        )
    ],
    "analytics_snapshots": [
        {"id": 1, "account_id": 1, "destination_id": None, "day": DAY, "impressions": 5},
        {"id": 2, "account_id": 1, "destination_id": 2, "day": DAY, "impressions": 7},
        {"id": 3, "account_id": 2, "destination_id": None, "day": DAY, "impressions": 9},
    ],
    "import_tombstones": [{"team_id": 1, "import_key": "k9", "post_id": 9, "deleted_at": AT}],
    "audit_log": [
        {
            "id": 1,
            "team_id": 2,
            "user_id": 2,
            "action": "post.create",
            "target_type": "post",
            "target_id": "3",
            "details": "{}",
        },
    ],
    "ai_usage": [{"id": 1, "user_id": 1, "team_id": 1, "kind": "draft", "model": "m", "tokens": 3}],
    "subscriptions": [
        {"id": 1, "team_id": 2, "plan": "free", "status": "active", "updated_at": AT}
    ],
    "daemons": [
        {"id": "d", "host": "h", "pid": 1, "version": "", "heartbeat_at": AT, "in_flight": 0}
    ],
    "app_meta": [{"key": "probe", "value": "x"}],
}


PARENTS = ("teams", "users", "social_accounts", "posts", "post_destinations")


def _insert(conn: Connection, table: str, row: dict[str, object]) -> None:
    """Insert with raw SQL (the models describe head, not the revision the database is
    at); unset timestamps and counters of the table as it is now get a value."""
    from sqlalchemy import DateTime, Integer, inspect

    values = dict(row)
    for column in inspect(conn).get_columns(table):
        if column["nullable"] or column.get("autoincrement") is True or column["name"] in values:
            continue
        if column["name"] == "id":
            continue
        if isinstance(column["type"], DateTime):
            values[column["name"]] = AT
        elif isinstance(column["type"], Integer):
            values[column["name"]] = 0
    names = ", ".join(values)
    conn.execute(
        text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in values)})"),
        values,
    )


def every_row(db: Database) -> dict[str, list[tuple[object, ...]]]:
    with db.engine.connect() as conn:
        return {
            table: [
                tuple(row) for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2"))
            ]
            for table in ROWS_AT_0004
        }


def test_0005_keeps_every_row_up_and_down(engine: str) -> None:
    """0005 copies tables on SQLite: no row is deleted and no reference nulled by a
    cascade from the copy, upgrading or downgrading."""
    from autopostr.migrate import downgrade

    db = Database(load_settings())
    upgrade(db, "0004_import_tombstones")
    with db.engine.begin() as conn:
        for table, rows in ROWS_AT_0004.items():
            for row in rows:
                _insert(conn, table, row)
    before = every_row(db)
    assert {t: len(rows) for t, rows in before.items()} == {
        t: len(rows) for t, rows in ROWS_AT_0004.items()
    }

    assert upgrade(db, "0005_integrity") == ("0004_import_tombstones", "0005_integrity")
    assert every_row(db) == before

    downgrade(db, "0004_import_tombstones")
    assert db.revision() == "0004_import_tombstones"
    assert every_row(db) == before
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert compare_metadata(context, metadata) != []  # the 0004 schema, not head's


def test_0006_keeps_each_ai_request_up_and_down(engine: str) -> None:
    """0006 renames kind to feature and splits tokens: a request recorded before keeps its
    feature and its total, and nothing else in the database moves, either way."""
    from autopostr.migrate import downgrade

    db = Database(load_settings())
    upgrade(db, "0004_import_tombstones")
    with db.engine.begin() as conn:
        for table, rows in ROWS_AT_0004.items():
            for row in rows:
                _insert(conn, table, row)
    upgrade(db, "0005_integrity")
    before = every_row(db)

    assert upgrade(db, "0006_ai_usage") == ("0005_integrity", "0006_ai_usage")
    with db.engine.connect() as conn:
        usage = tuple(
            conn.execute(
                text(
                    "SELECT user_id, team_id, feature, model, prompt_tokens, completion_tokens, "
                    "duration_ms, ok FROM ai_usage"
                )
            ).one()
        )
    assert usage == (1, 1, "draft", "m", 0, 3, 0, True)
    assert {t: r for t, r in every_row(db).items() if t != "ai_usage"} == {
        t: r for t, r in before.items() if t != "ai_usage"
    }

    downgrade(db, "0005_integrity")
    after = every_row(db)
    del after["ai_usage"], before["ai_usage"]  # its columns come back in another order
    assert after == before
    with db.engine.connect() as conn:
        old = conn.execute(text("SELECT id, user_id, team_id, kind, model, tokens FROM ai_usage"))
        assert [tuple(r) for r in old] == [(1, 1, 1, "draft", "m", 3)]


def test_account_level_snapshots_are_unique_per_day(engine: str) -> None:
    """Account rows (no destination) repeated under the old key; 0005 keeps the newest of
    each day and refuses another."""
    from sqlalchemy.exc import IntegrityError

    db = Database(load_settings())
    upgrade(db, "0004_import_tombstones")
    account_rows: list[dict[str, object]] = [
        {"id": 1, "account_id": 1, "destination_id": None, "day": DAY, "followers": 10},
        {"id": 2, "account_id": 1, "destination_id": None, "day": DAY, "followers": 12},
        {"id": 3, "account_id": 1, "destination_id": None, "day": "2026-01-03", "followers": 13},
    ]
    with db.engine.begin() as conn:
        for table in PARENTS:
            for row in ROWS_AT_0004[table]:
                _insert(conn, table, row)
        for row in account_rows:
            _insert(conn, "analytics_snapshots", row)
    upgrade(db)

    with db.engine.connect() as conn:
        kept = conn.execute(text("SELECT id, followers FROM analytics_snapshots ORDER BY id"))
        assert [tuple(row) for row in kept] == [(2, 12), (3, 13)]
    again: list[dict[str, object]] = [
        {"account_id": 1, "destination_id": None, "day": DAY},  # the account's day again
        {"account_id": 1, "destination_id": 2, "day": DAY},
        {"account_id": 1, "destination_id": 2, "day": DAY},  # the post's day again
    ]
    with db.engine.begin() as conn:
        _insert(conn, "analytics_snapshots", again[1])
    for row in (again[0], again[2]):
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            _insert(conn, "analytics_snapshots", row)


@pytest.mark.parametrize(
    ("table", "column", "bad"),
    [
        ("posts", "status", "sent"),
        ("post_destinations", "status", "done"),
        ("social_accounts", "status", "expired"),
        ("team_members", "role", "admin"),
        ("team_invites", "role", "admin"),
    ],
)
def test_closed_sets_refuse_other_values(engine: str, table: str, column: str, bad: str) -> None:
    from sqlalchemy.exc import IntegrityError

    db = Database(load_settings())
    upgrade(db)
    with db.engine.begin() as conn:
        for name in dict.fromkeys((*PARENTS, table)):
            for row in ROWS_AT_0004[name]:
                _insert(conn, name, row)
    with pytest.raises(IntegrityError, match=f"ck_{table}_{column}"), db.engine.begin() as conn:
        conn.execute(text(f"UPDATE {table} SET {column} = :bad"), {"bad": bad})


def test_sqlite_migrations_refuse_to_run_with_foreign_keys_on(tmp_path: Path) -> None:
    """A table copy with foreign keys on would cascade into the child tables."""
    from alembic import command

    from autopostr.migrate import alembic_config

    db = Database(load_settings({"AUTOPOSTR_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}))
    upgrade(db, "0004_import_tombstones")
    with pytest.raises(RuntimeError, match="foreign keys off"), db.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert db.revision() == "0004_import_tombstones"


def test_the_schema_check_on_every_command_needs_no_alembic(initialized: str) -> None:
    """`posts list` checks the schema first; knowing the history costs no Alembic import
    (about half a second)."""
    code = (
        "import sys\n"
        "sys.argv = ['autopostr', 'posts', 'list', '--json']\n"
        "from autopostr.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "assert 'autopostr.db' in sys.modules\n"
        "assert not [m for m in sys.modules if m.startswith('alembic')], 'alembic imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_0007_keeps_snapshots_and_lets_metrics_be_null(engine: str) -> None:
    """0007 copies analytics_snapshots on SQLite: the numbers and their fetch time stay,
    a metric may now be NULL, and going back turns NULL into the 0 the old schema had."""
    from autopostr.migrate import downgrade

    db = Database(load_settings())
    upgrade(db, "0006_ai_usage")
    with db.engine.begin() as conn:
        for table in PARENTS:
            for row in ROWS_AT_0004[table]:
                _insert(conn, table, row)
        for row in ROWS_AT_0004["analytics_snapshots"]:
            _insert(conn, "analytics_snapshots", row)
    upgrade(db)
    with db.engine.begin() as conn:
        kept = conn.execute(
            text("SELECT id, impressions, reach, fetched_at FROM analytics_snapshots ORDER BY id")
        ).all()
        assert [(r[0], r[1], r[2]) for r in kept] == [(1, 5, None), (2, 7, None), (3, 9, None)]
        assert all(r[3] is not None for r in kept)
        conn.execute(text("UPDATE analytics_snapshots SET likes = NULL WHERE id = 2"))
    downgrade(db, "0006_ai_usage")
    with db.engine.connect() as conn:
        back = conn.execute(
            text("SELECT id, impressions, likes, captured_at FROM analytics_snapshots ORDER BY id")
        ).all()
    assert [(r[0], r[1], r[2]) for r in back] == [(1, 5, 0), (2, 7, 0), (3, 9, 0)]
