"""Shared fixtures: an isolated home per test, and every database test on both engines.

PostgreSQL: the run creates its own database on 127.0.0.1:5432 (override with
AUTOPOSTR_TEST_POSTGRES_URL) and drops it at the end. It fails, never skips,
when the server cannot be reached.
"""

from __future__ import annotations

import functools
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

PG_ADMIN_URL = os.environ.get(
    "AUTOPOSTR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ENGINES = ["sqlite", "postgresql"]


def _pg_url_for(dbname: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{dbname}"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of this run's own, dropped when the run ends."""
    import psycopg

    name = f"autopostr_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({exc}). Start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`",
            pytrace=False,
        )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        # A test run need not wait for each commit to reach the disk (a crash loses the
        # run anyway); the server's other databases keep their settings.
        admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    try:
        yield _pg_url_for(name)
    finally:
        from autopostr.db import dispose_engines

        dispose_engines()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def reset_postgres(url: str) -> None:
    import psycopg

    from autopostr.db import dispose_engines

    dispose_engines()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own home and config, no keyring, no inherited secrets."""
    for key in list(os.environ):
        if key.startswith("AUTOPOSTR_") and key != "AUTOPOSTR_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(key, raising=False)  # the AI commands must not reach a real server
    home = tmp_path / "home"
    monkeypatch.setenv("AUTOPOSTR_HOME", str(home))
    monkeypatch.setenv("AUTOPOSTR_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("AUTOPOSTR_KEYRING", "off")
    monkeypatch.setenv("NO_COLOR", "1")
    yield home
    from autopostr.db import dispose_engines

    dispose_engines()


def _schema_at_head(url: str) -> bool:
    import psycopg

    from autopostr.db import SCHEMA_HEAD

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass('public.alembic_version')").fetchone()
        if row is None or row[0] is None:
            return False
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return version is not None and version[0] == SCHEMA_HEAD


def empty_postgres_tables(url: str) -> None:
    """Keep the migrated schema, drop the rows: much faster than migrating again."""
    import psycopg

    from autopostr.db import dispose_engines

    dispose_engines()
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ]
        sequences = [
            r[0]
            for r in conn.execute(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
            )
        ]
        # DELETE of a few rows takes milliseconds where TRUNCATE takes ~0.2 s (it makes new
        # files for every table); foreign-key triggers are off for the moment it runs.
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            for table in tables:
                conn.execute(f'DELETE FROM "{table}"')
            for sequence in sequences:
                conn.execute(f'ALTER SEQUENCE "{sequence}" RESTART')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; tests that start initialised copy it."""
    from autopostr.config import load_settings
    from autopostr.db import Database, dispose_engines
    from autopostr.migrate import upgrade

    path = tmp_path_factory.mktemp("template") / "autopostr.db"
    upgrade(
        Database(
            load_settings(
                {"AUTOPOSTR_DATABASE_URL": f"sqlite:///{path}", "AUTOPOSTR_HOME": str(path.parent)}
            )
        )
    )
    dispose_engines()
    return path


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs the test once per engine with AUTOPOSTR_DATABASE_URL pointing at an empty database.

    Tests that ask for `initialized` get a database with the schema already in place
    (rows emptied, or a migrated template copied): `init` then only adds the key and user.
    """
    fast = "initialized" in request.fixturenames
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_database")
        if fast and _schema_at_head(url):
            empty_postgres_tables(url)
        else:
            reset_postgres(url)
    else:
        database = tmp_path / "home" / "autopostr.db"
        if fast:
            import shutil

            database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copyfile(request.getfixturevalue("sqlite_template"), database)
            database.chmod(0o600)  # as `init` creates it
        url = f"sqlite:///{database}"
    monkeypatch.setenv("AUTOPOSTR_DATABASE_URL", url)
    return str(request.param)


@pytest.fixture
def postgres_only(postgres_database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """For behaviour that exists only on PostgreSQL (many daemons, LISTEN/NOTIFY)."""
    reset_postgres(postgres_database)
    monkeypatch.setenv("AUTOPOSTR_DATABASE_URL", postgres_database)
    return "postgresql"


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    def json(self) -> Any:
        import json

        return json.loads(self.stdout)


@functools.cache
def _typer_app() -> Any:
    """The app, with the Click command Typer builds from it made once per run: Typer
    rebuilds it on every invocation (~70 ms for our 65 commands), which a test suite of
    thousands of invocations need not pay."""
    import typer.main
    import typer.testing

    from autopostr.cli.app import app

    command = typer.main.get_command(app)
    build = typer.testing._get_command

    def cached(given: Any) -> Any:
        return command if given is app else build(given)

    typer.testing._get_command = cached  # type: ignore[attr-defined]
    return app


class Cli:
    """Runs the real Typer app in-process, stdout and stderr kept apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> Run:
        app = _typer_app()
        result = self.runner.invoke(app, list(args), input=input, env=env, catch_exceptions=True)
        exception = result.exception if not isinstance(result.exception, SystemExit) else None
        return Run(result.exit_code, result.stdout, result.stderr, exception)

    def ok(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Run:
        run = self(*args, input=input, env=env)
        assert run.exit_code == 0, (
            f"autopostr {' '.join(args)} exited {run.exit_code}\n"
            f"stdout: {run.stdout}\nstderr: {run.stderr}\nexception: {run.exception!r}"
        )
        return run


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def initialized(engine: str, cli: Cli) -> str:
    """An initialised database on each engine, the solo user signed in."""
    cli.ok("init")
    return engine


def run_autopostr(
    *args: str, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The real entry point in a child process, as a user's shell runs it."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "autopostr", *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=input,
        timeout=timeout,
    )
