"""A damaged database says so: doctor fails with the fix, every command prints one line
that names it, and the daemon refuses to run on it.

The damage is real: bytes overwritten in the middle of a SQLite file, and in PostgreSQL
a table's page overwritten on disk. For the latter the test writes into the server's
data directory, so it needs the server on this machine and root (as the test suite
runs here); the table is first moved to a tablespace of its own, a copy made below
the buffer cache, so the server reads the damaged page from disk.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from autopostr.config import load_settings
from autopostr.db import Database, dispose_engines
from tests.helpers import Cli, one_error_line, reset_postgres, run_autopostr

INTACT = "database is intact"


def fill_posts(cli: Cli, count: int) -> None:
    """Enough posts that the posts table spans many pages of the file."""
    from sqlalchemy import text

    cli.ok("accounts", "add", "sandbox", "--handle", "acme")
    cli.ok("posts", "create", "--text", "seed", "--to", "sandbox:acme", "--draft")
    with Database(load_settings()).engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO posts (team_id, author_id, status, text, created_at, updated_at) "
                "SELECT team_id, author_id, status, :text, created_at, updated_at FROM posts "
                "WHERE id = (SELECT min(id) FROM posts)"
            ),
            [{"text": f"post {i} " + "x" * 300} for i in range(count)],
        )
    dispose_engines()


def damage_sqlite(path: Path, table: str = "posts", min_pages: int = 50) -> None:
    """Overwrite pages in the middle of a table, as a failing disk would."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the file itself
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        leaves = [
            r[0]
            for r in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno",
                (table,),
            )
        ]
    finally:
        conn.close()
    assert len(leaves) >= min_pages
    with path.open("r+b") as handle:
        for page in leaves[len(leaves) // 2 : len(leaves) // 2 + 3]:
            # The page's second half: where its rows are, past the header.
            handle.seek((page - 1) * page_size + page_size // 2)
            handle.write(b"\xff" * (page_size // 2))
    conn = sqlite3.connect(path)
    try:  # the damage is real, as SQLite itself sees it
        assert conn.execute("PRAGMA quick_check").fetchall() != [("ok",)]
    finally:
        conn.close()


@pytest.fixture
def pg_damage() -> Iterator[list[str]]:
    """Overwrites the first page of a PostgreSQL table on disk; drops what it made after."""
    made: list[str] = []
    yield made
    if made:
        url, tablespace, folder = made
        reset_postgres(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP TABLESPACE IF EXISTS "{tablespace}"')
        shutil.rmtree(folder, ignore_errors=True)


def damage_postgres(url: str, table: str, made: list[str]) -> None:
    import pwd

    dispose_engines()
    folder = tempfile.mkdtemp(prefix="autopostr-damage-")
    owner = pwd.getpwnam("postgres")
    os.chown(folder, owner.pw_uid, owner.pw_gid)
    tablespace = f"autopostr_damage_{secrets.token_hex(4)}"
    made.extend([url, tablespace, folder])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLESPACE \"{tablespace}\" LOCATION '{folder}'")
        conn.execute(f'ALTER TABLE "{table}" SET TABLESPACE "{tablespace}"')
        row = conn.execute(
            "SELECT current_setting('data_directory') || '/' || pg_relation_filepath(%s)",
            (table,),
        ).fetchone()
    assert row is not None
    with open(row[0], "r+b") as handle:
        handle.write(b"\xff" * 8192)


def test_a_damaged_database_fails_doctor_reads_and_the_daemon(
    initialized: str, cli: Cli, isolated_env: Path, pg_damage: list[str]
) -> None:
    fill_posts(cli, 2000)
    checks = {c["name"]: c for c in cli.ok("doctor", "--json").json()}
    assert checks[INTACT] == {
        "name": INTACT,
        "status": "ok",
        "detail": "PRAGMA quick_check: no damage"
        if initialized == "sqlite"
        else "every table read in full: no damage",
        "fix": "",
    }
    db = Database(load_settings())
    if initialized == "sqlite":
        assert db.url.sqlite_path is not None
        damage_sqlite(db.url.sqlite_path)
        fix = ".recover"
    else:
        damage_postgres(db.url.url.replace("+psycopg", ""), "posts", pg_damage)
        fix = "restore it from a backup"

    doctor = cli("doctor", "--json")
    assert doctor.exit_code == 1
    check = {c["name"]: c for c in doctor.json()}[INTACT]
    assert check["status"] == "fail"
    assert "is damaged" in check["detail"]
    assert fix in check["fix"]
    if initialized == "sqlite":
        assert f"sqlite3 {db.url.sqlite_path}" in check["fix"]
    else:
        assert "table posts: invalid page" in check["detail"]
    text = cli("doctor")
    assert text.exit_code == 1 and "✘ database is intact" in text.stdout

    # Every post, so the damaged page is read whatever plan the engine picks (the first
    # 100 can come from an index alone, or from pages the damage missed).
    listing = cli("posts", "list", "-n", "5000")
    assert listing.exit_code == 1
    assert listing.exception is None
    line = one_error_line(listing.stderr)
    assert "is damaged" in line and fix in line

    daemon = run_autopostr("daemon", "run", "--once")
    assert daemon.returncode == 1
    line = one_error_line(daemon.stderr)
    assert "the daemon refuses to run" in line and fix in line
    assert "published" not in daemon.stderr


def test_the_long_running_daemon_refuses_a_damaged_database(
    initialized: str, cli: Cli, pg_damage: list[str]
) -> None:
    fill_posts(cli, 2000)
    db = Database(load_settings())
    if initialized == "sqlite":
        assert db.url.sqlite_path is not None
        damage_sqlite(db.url.sqlite_path)
    else:
        damage_postgres(db.url.url.replace("+psycopg", ""), "posts", pg_damage)
    daemon = run_autopostr("daemon", "run", timeout=60)
    assert daemon.returncode == 1
    assert "the daemon refuses to run" in daemon.stderr
    assert "is damaged" in one_error_line(daemon.stderr)


def test_a_running_daemon_that_meets_damage_stops(
    initialized: str, cli: Cli, pg_damage: list[str]
) -> None:
    from autopostr.daemon.runner import DaemonConfig, DaemonRunner
    from autopostr.errors import DatabaseCorrupt

    settings = load_settings()
    db = Database(settings)
    runner = DaemonRunner(settings, db, DaemonConfig(concurrency=1))
    try:
        runner._register()  # its row, in the table its heartbeat reads
        runner.heartbeat()
        assert runner.fatal is None and not runner.stopping.is_set()
        dispose_engines()
        if initialized == "sqlite":
            assert db.url.sqlite_path is not None
            damage_sqlite(db.url.sqlite_path, "daemons", min_pages=1)
        else:
            damage_postgres(db.url.url.replace("+psycopg", ""), "daemons", pg_damage)
        runner.heartbeat()
        assert isinstance(runner.fatal, DatabaseCorrupt)
        assert runner.stopping.is_set()  # run_forever then stops and raises it: exit 1
    finally:
        runner.workers.shutdown()
