"""Database URLs, the schema check every command runs, and unreachable servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from autopostr import db as dbmod
from autopostr.config import load_settings
from autopostr.db import Database, parse_database_url
from autopostr.errors import ConfigError
from tests.helpers import Cli, key_file


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg"])
def test_every_postgres_spelling_selects_psycopg(scheme: str) -> None:
    parsed = parse_database_url(f"{scheme}://u:p@127.0.0.1:5432/app")
    assert parsed.dialect == "postgresql"
    assert parsed.url.startswith("postgresql+psycopg://")
    assert parsed.display == "postgresql+psycopg://u:****@127.0.0.1:5432/app"


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg"])
def test_every_postgres_spelling_really_connects(
    scheme: str, postgres_database: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import reset_postgres

    reset_postgres(postgres_database)
    rest = postgres_database.split("://", 1)[1]
    monkeypatch.setenv("AUTOPOSTR_DATABASE_URL", f"{scheme}://{rest}")
    cli.ok("init")
    assert cli.ok("db", "current", "--json").json()["current"] == dbmod.SCHEMA_HEAD


@pytest.mark.parametrize(
    "url",
    ["not a url", "mysql://root@localhost/x", "postgresql://postgres@127.0.0.1:5432", "://x"],
)
def test_malformed_or_unsupported_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_database_url(url)


def test_malformed_url_exits_5_with_one_line(cli: Cli) -> None:
    run = cli("init", env={"AUTOPOSTR_DATABASE_URL": "mysql://root:pw@localhost/x"})
    assert run.exit_code == 5
    assert run.stderr.startswith("Error: AUTOPOSTR_DATABASE_URL")
    assert len(run.stderr.strip().splitlines()) == 1
    assert "pw@" not in run.stderr


def test_unreachable_postgres_exits_6_without_the_password(cli: Cli, isolated_env: Path) -> None:
    run = cli(
        "auth", "whoami", env={"AUTOPOSTR_DATABASE_URL": "postgresql://app:s3cret@127.0.0.1:1/x"}
    )
    assert run.exit_code == 6
    assert run.stderr.startswith(
        "Error: cannot reach the database at postgresql+psycopg://app:****@127.0.0.1:1/x"
    )
    assert "s3cret" not in run.stderr + run.stdout
    assert "Traceback" not in run.stderr


def test_unreachable_postgres_on_init_changes_nothing(cli: Cli, isolated_env: Path) -> None:
    run = cli("init", env={"AUTOPOSTR_DATABASE_URL": "postgresql://app@127.0.0.1:1/x"})
    assert run.exit_code == 6
    assert not key_file(isolated_env).exists()


def test_commands_before_init_say_to_run_init(engine: str, cli: Cli) -> None:
    run = cli("auth", "whoami")
    assert run.exit_code == 5
    assert "run `autopostr init`" in run.stderr
    assert "Traceback" not in run.stderr


def test_sqlite_file_is_not_created_by_a_read(cli: Cli, isolated_env: Path) -> None:
    cli("auth", "whoami")
    assert not (isolated_env / "autopostr.db").exists()


def test_older_schema_says_to_run_db_upgrade(
    initialized: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What an older database looks like to a newer autopostr.
    monkeypatch.setattr(dbmod, "SCHEMA_HEAD", "9999_future")
    monkeypatch.setattr(dbmod, "SCHEMA_HISTORY", (*dbmod.SCHEMA_HISTORY, "9999_future"))
    run = cli("auth", "whoami")
    assert run.exit_code == 5
    assert "run `autopostr db upgrade`" in run.stderr


def test_newer_schema_says_to_upgrade_autopostr(initialized: str, cli: Cli) -> None:
    from sqlalchemy import text

    db = Database(load_settings())
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_unknown'"))
    run = cli("auth", "whoami")
    assert run.exit_code == 5
    assert "newer than this autopostr" in run.stderr


def test_db_upgrade_and_current(engine: str, cli: Cli) -> None:
    before = cli.ok("db", "current", "--json").json()
    assert before["current"] is None and before["up_to_date"] is False
    upgraded = cli.ok("db", "upgrade", "--json").json()
    assert upgraded["before"] is None and upgraded["after"] == dbmod.SCHEMA_HEAD
    again = cli.ok("db", "upgrade", "--json").json()
    assert again["before"] == again["after"] == dbmod.SCHEMA_HEAD
    assert cli.ok("db", "current", "--json").json()["up_to_date"] is True


def test_sqlite_runs_in_wal_mode_with_foreign_keys(cli: Cli) -> None:
    from sqlalchemy import text

    cli.ok("init")
    db = Database(load_settings())
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_a_connection_the_server_ended_is_replaced_before_use(
    postgres_only: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a server restart (here: the session ended by an administrator), the next
    unit of work gets a fresh connection instead of failing; a connection the server
    still holds is used again without a ping (a round trip per transaction)."""
    import time

    import psycopg
    from sqlalchemy import text

    cli.ok("init")
    db = Database(load_settings())
    dbmod.dispose_engines()
    pid_of = text("SELECT pg_backend_pid()")
    with db.transaction() as conn:
        first = conn.execute(pid_of).scalar_one()
    pings: list[object] = []
    dialect = db.engine.dialect

    def ping(connection: object) -> bool:
        pings.append(connection)
        return True

    monkeypatch.setattr(dialect, "do_ping", ping)
    with db.transaction() as conn:
        assert conn.execute(pid_of).scalar_one() == first
    assert pings == []  # checked without a round trip
    url = db.url.url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        for _ in range(50):  # the backend is gone once pg_stat_activity no longer lists it
            if not admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (first,)
            ).fetchone():
                break
            time.sleep(0.05)
        time.sleep(0.5)  # its socket closes as the process ends, after it left the list
    with db.transaction() as conn:
        assert conn.execute(pid_of).scalar_one() != first
    # Idle past PING_AFTER_IDLE, a connection answers a ping before it is used again.
    monkeypatch.setattr(dbmod, "PING_AFTER_IDLE", 0.0)
    with db.transaction() as conn:
        conn.execute(pid_of)
    assert len(pings) == 1


def test_outcome_writes_keep_generic_plans_and_claims_do_not(postgres_only: str, cli: Cli) -> None:
    """An outcome batch's statements are planned once (their sessions say so when they
    connect, no statement per transaction); any other unit of work, a claim's, plans
    each execution for its own values."""
    from sqlalchemy import text

    cli.ok("init")
    db = Database(load_settings())
    show = text("SHOW plan_cache_mode")
    with db.transaction(generic_plans=True) as conn:
        assert conn.execute(show).scalar_one() == "force_generic_plan"
    with db.transaction() as conn:
        assert conn.execute(show).scalar_one() == "auto"
    with db.session() as session:
        assert session.execute(show).scalar_one() == "auto"
