"""A home, database or config this user may not read or write: every command says which
path and how to fix it (exit 4), and doctor shows it as a failing check, never a crash.

Tests run as root here, and root reads any file whatever its mode, so the commands run
as `nobody` (through setpriv) against files root owns. Run by another user, the suite
takes the permissions away instead.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from autopostr.db import dispose_engines
from tests.helpers import Cli, one_error_line

AS_ROOT = os.geteuid() == 0
NO_CONFIG = "/nonexistent-autopostr-config/config.toml"

# A refusal about the home is never "unexpected", nor blamed on a database server.
NEVER_SHOWN = ("unexpected", "server is running")


def as_other_user(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`autopostr ARGS` as a user who does not own the files the test made."""
    prefix: list[str] = []
    if AS_ROOT:
        setpriv = shutil.which("setpriv")
        assert setpriv, "these tests need setpriv (util-linux) when run as root"
        nobody = pwd.getpwnam("nobody")
        prefix = [setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}"]
        prefix.append("--clear-groups")
    full_env = {**os.environ, "AUTOPOSTR_CONFIG": NO_CONFIG, **(env or {})}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "autopostr", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder every user may enter (pytest's own are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="autopostr-home-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def private_home(home: Path) -> None:
    """Nobody but its owner may enter the home."""
    dispose_engines()
    if AS_ROOT:
        home.chmod(0o700)  # root's, and the command runs as nobody
    else:
        home.chmod(0o000)


def give_away(home: Path, mode: int) -> None:
    """The home belongs to the user the command runs as, with `mode`."""
    dispose_engines()
    if AS_ROOT:
        nobody = pwd.getpwnam("nobody")
        for path in [home, *home.rglob("*")]:
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
    home.chmod(mode)


def test_a_home_this_user_cannot_enter_is_exit_4_and_a_failing_doctor_check(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "acme")
    private_home(isolated_env)
    try:
        listing = as_other_user("posts", "list")
        assert listing.returncode == 4, listing.stderr
        line = one_error_line(listing.stderr, never=NEVER_SHOWN)
        assert "cannot" in line
        # SQLite stops at the database file, PostgreSQL at the session token in the home.
        where = "autopostr.db" if initialized == "sqlite" else "secrets/session-"
        assert where in line
        if AS_ROOT:
            assert "owned by root" in line and "run autopostr as root" in line

        doctor = as_other_user("doctor", "--json")
        assert doctor.returncode == 1, doctor.stderr
        assert doctor.stderr == ""
        checks = {c["name"]: c for c in json.loads(doctor.stdout)}
        home = checks["home is writable"]
        assert home["status"] == "fail"
        assert str(isolated_env) in home["detail"]
        assert "AUTOPOSTR_HOME" in home["fix"] or "chmod" in home["fix"]
        if initialized == "sqlite":
            assert checks["database is reachable"]["status"] == "fail"
            assert "autopostr.db" in checks["database is reachable"]["detail"]
        key = checks["encryption key decrypts stored secrets"]
        assert key["status"] == "fail" and "encryption-keys" in key["detail"]

        text = as_other_user("doctor")
        assert text.returncode == 1 and "✘ home is writable" in text.stdout
        assert "Traceback" not in text.stdout + text.stderr
    finally:
        isolated_env.chmod(0o700)


def test_a_read_only_home_is_exit_4_naming_the_folder_not_a_server(
    engine: str, cli: Cli, shared_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = shared_folder / "home"
    monkeypatch.setenv("AUTOPOSTR_HOME", str(home))
    if engine == "sqlite":
        monkeypatch.setenv("AUTOPOSTR_DATABASE_URL", f"sqlite:///{home / 'autopostr.db'}")
    cli.ok("init")
    cli.ok("accounts", "add", "sandbox", "--handle", "acme")
    give_away(home, 0o500)
    try:
        if engine == "sqlite":
            assert not (home / "autopostr.db-wal").exists()  # SQLite must create it to read
            for args in (("posts", "list"), ("posts", "create", "--text", "hi", "--to", "1")):
                run = as_other_user(*args)
                assert run.returncode == 4, run.stderr
                line = one_error_line(run.stderr, never=NEVER_SHOWN)
                assert str(home) in line and "read-only" in line
                assert f"chmod u+w {home}" in line
        else:
            # The database is elsewhere: reading and writing it still work.
            assert as_other_user("posts", "list").returncode == 0
            run = as_other_user("posts", "create", "--text", "hi", "--to", "1", "--draft")
            assert run.returncode == 0, run.stderr
        init = as_other_user("init")
        assert init.returncode == 4
        assert str(home) in one_error_line(init.stderr, never=NEVER_SHOWN)

        doctor = as_other_user("doctor")
        assert doctor.returncode == 1
        assert f"✘ home is writable: {home} (mode 500" in doctor.stdout
        assert f"chmod u+w {home}" in doctor.stdout
    finally:
        home.chmod(0o700)


def test_a_home_that_is_a_file_is_exit_4_naming_it(
    engine: str, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("AUTOPOSTR_HOME", str(blocker))
    if engine == "sqlite":
        monkeypatch.setenv("AUTOPOSTR_DATABASE_URL", f"sqlite:///{blocker / 'autopostr.db'}")
    else:
        cli.ok("init", env={"AUTOPOSTR_HOME": str(tmp_path / "home")})
    run = cli("posts", "list")
    assert run.exit_code == 4, run.stderr
    line = one_error_line(run.stderr, never=NEVER_SHOWN)
    assert f"{blocker} is a file, not a folder" in line
    assert "AUTOPOSTR_HOME" in line
    assert "autopostr init" not in line  # init cannot fix this one
    assert blocker.read_text() == "not a folder"


def test_a_config_file_this_user_cannot_read_is_exit_4(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('timezone = "UTC"\n')
    config.chmod(0o600)
    if not AS_ROOT:
        config.chmod(0o000)
    try:
        run = as_other_user("config", "show", env={"AUTOPOSTR_CONFIG": str(config)})
        assert run.returncode == 4, run.stderr
        line = one_error_line(run.stderr, never=NEVER_SHOWN)
        assert f"cannot read config file {config}" in line
    finally:
        config.chmod(0o600)
