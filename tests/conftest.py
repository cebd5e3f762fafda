"""Shared fixtures: an isolated home per test, and every database test on both engines.

PostgreSQL: the run creates its own database on 127.0.0.1:5432 (override with
AUTOPOSTR_TEST_POSTGRES_URL) and drops it at the end. It fails, never skips,
when the server cannot be reached. What tests share besides fixtures is in
tests/helpers.py.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.http_server import ScriptedServer, scripted_server
from tests.fakes.stripe_server import FakeStripe, fake_stripe
from tests.helpers import Cli, Daemons, KeyringSecrets, reset_postgres

# pytest-xdist workers run with COLUMNS=80 and LINES=24 set: tests see the width a
# plain run sees (piped, none given) unless they pass COLUMNS themselves.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

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


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own home and config, no keyring, no inherited secrets."""
    for key in list(os.environ):
        if key.startswith("AUTOPOSTR_") and key != "AUTOPOSTR_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(key, raising=False)  # the AI commands must not reach a real server
    for key in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
        monkeypatch.delenv(key, raising=False)  # billing is off unless a test turns it on
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


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def initialized(engine: str, cli: Cli) -> str:
    """An initialised database on each engine, the solo user signed in."""
    cli.ok("init")
    return engine


@pytest.fixture
def sandbox(initialized: str, cli: Cli) -> str:
    """An initialised database with one sandbox account, `sandbox:demo`."""
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    return initialized


@pytest.fixture
def accounts(initialized: str, cli: Cli) -> str:
    """Two sandbox accounts, `sandbox:demo` and `sandbox:other`."""
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    cli.ok("accounts", "add", "sandbox", "--handle", "other")
    return initialized


@pytest.fixture
def hook() -> Iterator[ScriptedServer]:
    """A local HTTP endpoint that answers as the test scripts it, for webhook destinations."""
    with scripted_server() as server:
        yield server


@pytest.fixture
def site(hook: ScriptedServer, initialized: str, cli: Cli) -> ScriptedServer:
    """`hook`, added as the signed webhook account `webhook:site`."""
    credentials = {"handle": "site", "url": f"{hook.url}/hook", "secret": "s3cr3t"}
    cli.ok("accounts", "add", "webhook", input=json.dumps(credentials))
    return hook


@pytest.fixture
def daemons() -> Iterator[Daemons]:
    running = Daemons()
    try:
        yield running
    finally:
        running.kill_all()


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeyringSecrets]:
    """A keyring that really keeps secrets, in memory, chosen by `AUTOPOSTR_KEYRING=auto`."""
    import keyring
    from keyring.backend import KeyringBackend
    from keyring.errors import PasswordDeleteError

    memory = KeyringSecrets()
    # Settle keyring's own choice first: a backend class, once defined, could be chosen.
    previous = keyring.get_keyring()

    class MemoryKeyring(KeyringBackend):
        priority = 1

        def get_password(self, service: str, username: str) -> str | None:
            return memory.secrets.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            memory.secrets[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            if memory.secrets.pop((service, username), None) is None:
                raise PasswordDeleteError(username)

    keyring.set_keyring(MemoryKeyring())
    monkeypatch.setenv("AUTOPOSTR_KEYRING", "auto")
    try:
        yield memory
    finally:
        keyring.set_keyring(previous)


@pytest.fixture(scope="module")
def stripe_server() -> Iterator[FakeStripe]:
    """localstripe with our Checkout/portal/events front, one per test file, with the
    prices of `tests.helpers.BILLING_PLANS`."""
    with fake_stripe() as fake:
        for price in ("price_pro_monthly", "price_pro_yearly", "price_team_monthly"):
            fake.plan(price, interval="year" if "yearly" in price else "month")
        yield fake


@pytest.fixture
def stripe(
    stripe_server: FakeStripe, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> FakeStripe:
    """Billing on, against `stripe_server`, with the small plans of BILLING_PLANS."""
    from tests.fakes.stripe_server import KEY
    from tests.helpers import billing_config

    billing_config(tmp_path)
    monkeypatch.setenv("STRIPE_SECRET_KEY", KEY)
    monkeypatch.setenv("AUTOPOSTR_STRIPE_API_URL", stripe_server.url)
    return stripe_server
