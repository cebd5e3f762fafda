"""What autopostr writes in its home is its owner's alone, whatever the umask, and `doctor`
fails, naming the path and the chmod, when the home or a file holding secrets is not."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from autopostr.config import load_settings
from autopostr.db import Database
from tests.helpers import Cli, doctor
from tests.media_samples import image

PRIVATE = "files are private"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The most common umask, which gives new files 0644 and folders 0755."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_database_media_and_secrets_are_private_in_an_existing_open_home(
    engine: str,
    cli: Cli,
    isolated_env: Path,
    umask_022: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolated_env.mkdir(mode=0o755)
    assert mode(isolated_env) == 0o755
    monkeypatch.setenv("AUTOPOSTR_MEDIA_STORAGE", "local")
    cli.ok("init")
    picture = image(tmp_path / "launch.png", "PNG")
    cli.ok("media", "upload", str(picture))

    secrets = isolated_env / "secrets"
    assert mode(secrets) == 0o700
    assert [mode(p) for p in secrets.iterdir()] == [0o600] * len(list(secrets.iterdir()))
    media = isolated_env / "media"
    folders = [media, *(p for p in media.rglob("*") if p.is_dir())]
    files = [p for p in media.rglob("*") if p.is_file()]
    assert len(folders) == 2 and len(files) == 1
    assert {mode(p) for p in folders} == {0o700}
    assert {mode(p) for p in files} == {0o600}

    if engine == "sqlite":
        database = isolated_env / "autopostr.db"
        with Database(load_settings()).engine.connect():  # the -wal and -shm exist meanwhile
            sidecars = [isolated_env / "autopostr.db-wal", isolated_env / "autopostr.db-shm"]
            assert all(p.exists() for p in sidecars)
            assert [mode(p) for p in (database, *sidecars)] == [0o600] * 3

    # The home was there before: its mode is its owner's choice, and doctor names the fix.
    assert mode(isolated_env) == 0o755
    code, checks = doctor(cli)
    assert code == 1
    assert checks[PRIVATE]["status"] == "fail"
    assert f"{isolated_env} is open to others (mode 0755)" in checks[PRIVATE]["detail"]
    assert checks[PRIVATE]["fix"] == f"chmod 700 {isolated_env}"
    isolated_env.chmod(0o700)
    code, checks = doctor(cli)
    assert checks[PRIVATE]["status"] == "ok"
    assert code == 0


def test_doctor_fails_on_an_open_database_or_a_config_file_holding_secrets(
    initialized: str, cli: Cli, isolated_env: Path, tmp_path: Path
) -> None:
    code, checks = doctor(cli)
    assert (code, checks[PRIVATE]["status"]) == (0, "ok")

    config = tmp_path / "config.toml"
    config.write_text('timezone = "Europe/Paris"\n')
    config.chmod(0o644)
    code, checks = doctor(cli)
    assert checks[PRIVATE]["status"] == "ok"  # nothing secret in it

    config.write_text('timezone = "Europe/Paris"\n[x]\nclient_secret = "x-app-secret"\n')
    config.chmod(0o644)
    wanted = [f"chmod 600 {config}"]
    if initialized == "sqlite":
        database = isolated_env / "autopostr.db"
        database.chmod(0o640)  # group-readable is too much as well
        wanted.insert(0, f"chmod 600 {database}")
    code, checks = doctor(cli)
    assert code == 1
    check = checks[PRIVATE]
    assert check["status"] == "fail"
    assert check["fix"] == "; ".join(wanted)
    assert f"{config} is open to others (mode 0644)" in check["detail"]
    if initialized == "sqlite":
        assert f"{database} is open to others (mode 0640)" in check["detail"]
    assert "x-app-secret" not in str(checks)

    for command in check["fix"].split("; "):
        _chmod, octal, path = command.split(" ")
        Path(path).chmod(int(octal, 8))
    code, checks = doctor(cli)
    assert (code, checks[PRIVATE]["status"]) == (0, "ok")
