"""Signed out, or the home moved: the way back in is named, with the user's e-mail.

On a single-user SQLite home `init` signs its passwordless solo user back in, and
every refusal says so; doctor checks that someone is signed in.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autopostr.db import dispose_engines
from tests.helpers import Cli

SIGNED_IN = "someone is signed in"


def refusal(cli: Cli, *args: str) -> str:
    run = cli(*args)
    assert run.exit_code == 4, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    return lines[0]


def doctor_check(cli: Cli) -> dict[str, str]:
    checks = {c["name"]: c for c in cli("doctor", "--json").json()}
    return checks[SIGNED_IN]


def test_after_logout_init_signs_the_solo_user_back_in(initialized: str, cli: Cli) -> None:
    email = cli.ok("auth", "whoami", "--json").json()["user"]["email"]
    assert doctor_check(cli)["status"] == "ok"
    assert email in doctor_check(cli)["detail"]
    cli.ok("auth", "logout")

    line = refusal(cli, "posts", "list")
    check = doctor_check(cli)
    if initialized == "sqlite":
        assert f"run `autopostr init` to sign in as {email} again" in line
        assert f"autopostr auth login --email {email}" in line
        assert check["status"] == "fail"
        assert "autopostr init" in check["fix"] and email in check["fix"]
        assert cli("doctor").exit_code == 1

        again = cli.ok("init", "--json").json()
        assert again["signed_in_as"] == email
        assert again["user_created"] is None
        assert cli.ok("auth", "whoami", "--json").json()["user"]["email"] == email
        assert doctor_check(cli)["status"] == "ok"
        text = cli.ok("init")
        assert "Signed in as" not in text.stderr  # already signed in: nothing to do
    else:
        # A shared server: anyone could run init, so it signs no one in.
        assert "autopostr auth login --email" in line
        assert "autopostr init" not in line
        assert check["status"] == "warn" and "auth login" in check["fix"]
        again = cli.ok("init", "--json")
        assert again.json()["signed_in_as"] is None
        assert "You are not signed in" in again.stderr
        refusal(cli, "auth", "whoami")


def test_a_moved_sqlite_home_signs_back_in_with_init(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default database lives in the home, so this is SQLite's case only."""
    email = cli.ok("init", "--json").json()["user_created"]
    cli.ok("accounts", "add", "sandbox", "--handle", "acme")
    dispose_engines()
    moved = tmp_path / "moved-home"
    shutil.move(tmp_path / "home", moved)
    monkeypatch.setenv("AUTOPOSTR_HOME", str(moved))

    assert f"sign in as {email} again" in refusal(cli, "accounts", "list")
    cli.ok("init")
    assert [a["handle"] for a in cli.ok("accounts", "list", "--json").json()] == ["acme"]


def test_a_solo_user_with_a_password_is_told_to_log_in(initialized: str, cli: Cli) -> None:
    email = cli.ok("auth", "whoami", "--json").json()["user"]["email"]
    cli.ok("auth", "password", "--password-stdin", input="correct horse battery\n")
    cli.ok("auth", "logout")
    line = refusal(cli, "auth", "whoami")
    login = email if initialized == "sqlite" else "YOUR-EMAIL"  # a server names no one
    assert f"autopostr auth login --email {login}" in line
    assert "autopostr init" not in line
    init = cli.ok("init", "--json")
    assert init.json()["signed_in_as"] is None
    assert "autopostr auth login --email" in init.stderr
    refusal(cli, "auth", "whoami")


def test_an_expired_session_names_whose_it_was(initialized: str, cli: Cli) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from autopostr.models import Session, utcnow
    from tests.helpers import db_session

    email = cli.ok("auth", "whoami", "--json").json()["user"]["email"]
    with db_session() as session:
        session.execute(update(Session).values(expires_at=utcnow() - timedelta(minutes=1)))
    line = refusal(cli, "auth", "whoami")
    assert f"your session as {email} has expired" in line
