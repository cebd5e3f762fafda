"""`autopostr doctor`: a check per concern, a fix for each failure, non-zero exit on failure."""

from __future__ import annotations

import base64
import os
import sqlite3
from pathlib import Path

import keyring
import pytest

from autopostr.db import SCHEMA_HEAD, SCHEMA_HISTORY
from tests.helpers import Cli, database, key_file

CHECK_NAMES = {
    "home is writable",
    "database is reachable",
    "schema is at head",
    "database is intact",
    "encryption key decrypts stored secrets",
    "keyring backend",
}
HOME = "home is writable"
DATABASE = "database is reachable"
SCHEMA = "schema is at head"
INTACT = "database is intact"
KEY = "encryption key decrypts stored secrets"
KEYRING = "keyring backend"

UNREACHABLE_URL = "postgresql://postgres:s3cret@127.0.0.1:1/x"


def doctor_json(cli: Cli) -> tuple[int, dict[str, dict[str, str]]]:
    run = cli("doctor", "--json")
    assert run.exception is None, run
    data = run.json()
    assert isinstance(data, list)
    for check in data:
        assert set(check) == {"name", "status", "detail", "fix"}
        assert check["status"] in {"ok", "warn", "fail"}
        assert all(isinstance(v, str) for v in check.values())
        if check["status"] == "fail":
            assert check["fix"], check
    checks = {c["name"]: c for c in data}
    assert len(checks) == len(data)
    return run.exit_code, checks


def failed(checks: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {name: c for name, c in checks.items() if c["status"] == "fail"}


def execute(sql: str, **params: str) -> None:
    from sqlalchemy import text

    with database().engine.begin() as conn:
        conn.execute(text(sql), params)


def test_all_checks_pass_after_init(initialized: str, cli: Cli) -> None:
    code, checks = doctor_json(cli)
    assert code == 0
    assert set(checks) >= CHECK_NAMES
    assert failed(checks) == {}
    for name in (HOME, DATABASE, SCHEMA, INTACT, KEY):
        assert checks[name]["status"] == "ok", checks[name]
    assert checks[SCHEMA]["detail"] == SCHEMA_HEAD
    # Tests run with AUTOPOSTR_KEYRING=off: a warning, which does not fail doctor.
    assert checks[KEYRING]["status"] == "warn"
    assert checks[KEYRING]["fix"]
    assert checks["a daemon is alive"]["status"] == "warn"
    assert checks["nothing is overdue"]["status"] == "ok"

    # PostgreSQL without `db setup-roles`: one role for everyone, a warning with its fix.
    shared = initialized == "postgresql"
    assert checks["row-level security"]["status"] == ("warn" if shared else "ok")

    run = cli.ok("doctor")
    # The two warnings: no keyring, and no daemon (which is fine while nothing is scheduled).
    assert run.stdout.count("✔") == len(checks) - 2 - shared
    assert run.stdout.count("!") == 2 + shared
    assert "✘" not in run.stdout
    assert "fix:" in run.stdout  # the keyring warning names its fix


def test_json_output_is_one_document_in_check_order(initialized: str, cli: Cli) -> None:
    run = cli.ok("doctor", "--json")
    names = [c["name"] for c in run.json()]
    assert names[:6] == [HOME, DATABASE, SCHEMA, INTACT, KEY, KEYRING]


def test_before_init_every_failure_says_run_init(engine: str, cli: Cli) -> None:
    code, checks = doctor_json(cli)
    assert code == 1
    bad = failed(checks)
    assert {HOME, SCHEMA, KEY} <= set(bad)
    if engine == "sqlite":
        assert DATABASE in bad  # no file yet
    else:
        assert checks[DATABASE]["status"] == "ok"  # the server is there, the schema is not
    for check in bad.values():
        assert "autopostr init" in check["fix"], check

    run = cli("doctor")
    assert run.exit_code == 1
    assert "✘" in run.stdout
    assert "fix: autopostr init" in run.stdout
    assert run.stderr == ""

    cli.ok("init")
    code, checks = doctor_json(cli)
    assert code == 0
    assert failed(checks) == {}


def test_unreachable_postgres_fails_without_showing_the_password(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPOSTR_DATABASE_URL", UNREACHABLE_URL)
    run = cli("doctor", "--json")
    assert run.exit_code == 1
    assert "s3cret" not in run.stdout + run.stderr
    checks = {c["name"]: c for c in run.json()}
    database_check = checks[DATABASE]
    assert database_check["status"] == "fail"
    assert "127.0.0.1:1" in database_check["detail"]
    assert "AUTOPOSTR_DATABASE_URL" in database_check["fix"]
    assert checks[SCHEMA]["status"] == "fail"

    text = cli("doctor")
    assert text.exit_code == 1
    assert text.exception is None
    assert "s3cret" not in text.stdout + text.stderr
    assert "Traceback" not in text.stdout + text.stderr


def test_unreachable_postgres_init_exits_6_and_writes_nothing(
    cli: Cli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPOSTR_DATABASE_URL", UNREACHABLE_URL)
    run = cli("init")
    assert run.exit_code == 6
    assert "s3cret" not in run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert not isolated_env.exists()


def test_missing_schema_is_reported_with_init_as_the_fix(engine: str, cli: Cli) -> None:
    db = database()
    if db.url.sqlite_path is not None:
        db.url.sqlite_path.parent.mkdir(parents=True)
        sqlite3.connect(db.url.sqlite_path).close()  # an empty database file
    code, checks = doctor_json(cli)
    assert code == 1
    assert checks[DATABASE]["status"] == "ok"
    assert checks[SCHEMA]["status"] == "fail"
    assert "no autopostr schema" in checks[SCHEMA]["detail"]
    assert "autopostr init" in checks[SCHEMA]["fix"]


@pytest.mark.parametrize("revision", [*SCHEMA_HISTORY[:-1], "base"])
def test_schema_behind_is_reported_with_its_fix(initialized: str, cli: Cli, revision: str) -> None:
    from autopostr.migrate import downgrade

    # A real downgrade: a database left at an older revision, as an old autopostr made it.
    downgrade(database(), revision)
    fix = "autopostr init" if revision == "base" else "autopostr db upgrade"
    code, checks = doctor_json(cli)
    assert code == 1
    assert checks[SCHEMA]["status"] == "fail"
    assert fix in checks[SCHEMA]["fix"]

    cli.ok(*fix.removeprefix("autopostr ").split())  # the fix it names works
    code, checks = doctor_json(cli)
    assert failed(checks) == {}
    assert code == 0


def test_schema_ahead_says_to_upgrade_autopostr(initialized: str, cli: Cli) -> None:
    execute("UPDATE alembic_version SET version_num = '9999_future'")
    code, checks = doctor_json(cli)
    assert code == 1
    schema = checks[SCHEMA]
    assert schema["status"] == "fail"
    assert "9999_future" in schema["detail"]
    assert "upgrade autopostr" in schema["fix"]
    assert "db upgrade" not in schema["fix"]  # that cannot go forward from an unknown revision


def test_missing_key_probe_is_a_warning_that_init_repairs(initialized: str, cli: Cli) -> None:
    execute("DELETE FROM app_meta WHERE key = 'key_probe'")
    code, checks = doctor_json(cli)
    assert code == 0
    assert checks[KEY]["status"] == "warn"
    assert "autopostr init" in checks[KEY]["fix"]
    cli.ok("init")
    _, checks = doctor_json(cli)
    assert checks[KEY]["status"] == "ok"


@pytest.mark.parametrize("where", ["under-a-file", "is-a-file"])
def test_home_that_cannot_be_written_fails_the_home_check(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    home = blocker / "home" if where == "under-a-file" else blocker
    monkeypatch.setenv("AUTOPOSTR_HOME", str(home))

    code, checks = doctor_json(cli)
    assert code == 1
    check = checks[HOME]
    assert check["status"] == "fail"
    assert str(home) in check["detail"]
    assert "AUTOPOSTR_HOME" in check["fix"]  # init cannot fix this one

    run = cli("doctor")
    assert run.exit_code == 1
    assert run.exception is None

    init = cli("init")
    assert init.exit_code == 4
    lines = init.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "AUTOPOSTR_HOME" in lines[0]
    assert blocker.read_text() == "not a folder"


def test_keyring_check_is_a_warning_without_a_keyring_backend(
    initialized: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    monkeypatch.setenv("AUTOPOSTR_KEYRING", "auto")
    try:
        code, checks = doctor_json(cli)
    finally:
        keyring.set_keyring(previous)
    assert code == 0
    assert checks[KEYRING]["status"] == "warn"
    assert "fail" in checks[KEYRING]["detail"].lower()
    assert "0600" in checks[KEYRING]["detail"]
    assert checks[KEYRING]["fix"]
    assert failed(checks) == {}


def test_secrets_never_appear_in_doctor_keys_status_or_config_show(
    engine: str, cli: Cli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = base64.b64encode(os.urandom(32)).decode("ascii")
    monkeypatch.setenv("AUTOPOSTR_ENCRYPTION_KEY", key)
    password = "pw-s3cret-do-not-print"
    if engine == "postgresql":
        # Trust auth ignores the password, so the URL works while carrying one.
        url = os.environ["AUTOPOSTR_DATABASE_URL"].replace(
            "postgresql://postgres@", f"postgresql://postgres:{password}@"
        )
        assert password in url
        monkeypatch.setenv("AUTOPOSTR_DATABASE_URL", url)
    init = cli.ok("init")
    assert key not in init.stdout + init.stderr

    session_files = list((isolated_env / "secrets").glob("session-*"))
    assert len(session_files) == 1
    token = session_files[0].read_text().strip()
    assert len(token) >= 20
    assert not key_file(isolated_env).exists()

    secrets = [key, token, password, key.rstrip("=")]
    for args in (
        ("doctor",),
        ("doctor", "--json"),
        ("keys", "status"),
        ("keys", "status", "--json"),
        ("config", "show"),
        ("config", "show", "--json"),
    ):
        run = cli.ok(*args)
        for secret in secrets:
            assert secret not in run.stdout, (args, secret)
            assert secret not in run.stderr, (args, secret)

    shown = {row["name"]: row for row in cli.ok("config", "show", "--json").json()}
    assert shown["encryption_key"]["value"] == "****"
    assert shown["encryption_key"]["source"] == "env AUTOPOSTR_ENCRYPTION_KEY"


def test_accounts_that_need_reconnecting_fail_with_the_command(initialized: str, cli: Cli) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    cli.ok(
        "accounts",
        "add",
        "webhook",
        input='{"handle": "site", "url": "https://example.com/hook", "secret": "s"}',
    )
    assert doctor_json(cli)[1]["accounts can publish"]["status"] == "ok"
    execute("UPDATE social_accounts SET status = 'needs_reconnect' WHERE platform = 'webhook'")
    code, checks = doctor_json(cli)
    assert code == 1
    check = checks["accounts can publish"]
    assert check["status"] == "fail"
    assert "webhook:site needs reconnecting" in check["detail"]
    # What to pipe is said, never the URL or secret it had.
    assert check["fix"] == (
        'pipe {"url": "…", "format": "json", "secret": "…"} to '
        "`autopostr accounts add webhook --handle site`"
    )


def test_instagram_without_a_public_media_url_fails_and_explains(
    initialized: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "Instagram can fetch media"
    assert doctor_json(cli)[1][name]["status"] == "ok"  # no Instagram account: nothing to say
    execute(
        "INSERT INTO social_accounts (team_id, platform, handle, name, status, scopes, extra, "
        "created_at, updated_at) SELECT id, 'instagram', 'acme', 'acme', 'active', '', '{}', "
        "created_at, created_at FROM teams"
    )
    code, checks = doctor_json(cli)
    assert code == 1
    assert checks[name]["status"] == "fail"
    assert "AUTOPOSTR_INSTAGRAM_MEDIA_BASE_URL" in checks[name]["detail"]
    assert "by URL" in checks[name]["fix"]
    monkeypatch.setenv("AUTOPOSTR_INSTAGRAM_MEDIA_BASE_URL", "https://media.example.com/a")
    assert doctor_json(cli)[1][name]["status"] == "ok"
