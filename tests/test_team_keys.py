"""Joining a team database: `keys export` on a machine that has the keys, `keys import`
on the one that joins; the second home opens no token before, and publishes after."""

from __future__ import annotations

import base64
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.http_server import ScriptedServer
from tests.helpers import Cli, db_session, make_due, one_error_line


def key_text() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii")


def attempts_of(post_id: str) -> list[tuple[str, int]]:
    from sqlmodel import select

    from autopostr.models import PostDestination

    with db_session() as session:
        rows = session.exec(
            select(PostDestination).where(PostDestination.post_id == int(post_id))
        ).all()
        return [(d.status, d.attempts) for d in rows]


def test_a_second_home_opens_the_team_tokens_only_after_importing_the_keys(
    initialized: str, cli: Cli, hook: ScriptedServer, tmp_path: Path
) -> None:
    # The owner set the database up and added a signed webhook.
    url = f"{hook.url}/hooks/team"
    credentials = {"handle": "site", "url": url, "secret": "team-signing-secret"}
    cli.ok("accounts", "add", "webhook", input=json.dumps(credentials))
    owner_key = cli.ok("keys", "status", "--json").json()["active"]
    token = cli.ok("auth", "token", "create", "--name", "daemon-host", "--json").json()["token"]
    post = cli.ok(
        "posts",
        "create",
        "--to",
        "webhook:site",
        "--text",
        "From the team",
        "--at",
        "+1h",
        "--json",
    ).json()
    make_due(int(post["id"]))

    # A second home (another person, a daemon host) points at the same database.
    member = {"AUTOPOSTR_HOME": str(tmp_path / "member"), "AUTOPOSTR_TOKEN": token}
    refused = cli("accounts", "test", "webhook:site", env=member)
    assert refused.exit_code == 5
    line = one_error_line(refused.stderr, never=())
    assert "autopostr keys import" in line and "webhook:site" in line
    daemon = cli("daemon", "run", "--once", env=member)
    assert daemon.exit_code == 5
    line = one_error_line(daemon.stderr, never=())
    assert owner_key in line and "not on this machine" in line and "keys import" in line
    assert hook.received == []
    assert attempts_of(post["id"]) == [("pending", 0)]

    exported = cli.ok("keys", "export").stdout
    assert json.loads(exported)["active"] == owner_key
    imported = cli.ok("keys", "import", "--json", input=exported, env=member).json()
    assert imported["added"] == [owner_key] and imported["active"] == owner_key
    again = cli.ok("keys", "import", input=exported, env=member)
    assert "Nothing to add" in again.stderr
    assert exported.strip() not in again.stdout + again.stderr + json.dumps(imported)

    cli.ok("accounts", "test", "webhook:site", env=member)
    outcomes = cli.ok("daemon", "run", "--once", "--json", env=member).json()
    assert [o["status"] for o in outcomes] == ["published"]
    assert [r.json().get("text") for r in hook.received] == [None, "From the team"]  # ping, post
    assert cli.ok("keys", "status", "--json", env=member).json()["active"] == owner_key


def test_import_merges_into_the_keys_already_here_and_both_stay_readable(
    engine: str, cli: Cli, tmp_path: Path, hook: ScriptedServer
) -> None:
    own = key_text()
    other_home = {"AUTOPOSTR_HOME": str(tmp_path / "other"), "AUTOPOSTR_ENCRYPTION_KEY": own}
    cli.ok("init")  # this home's own key file
    mine = cli.ok("keys", "status", "--json").json()["active"]
    cli.ok("accounts", "add", "webhook", input=json.dumps({"handle": "site", "url": hook.url}))

    exported = cli.ok("keys", "export", env=other_home).stdout
    theirs = json.loads(exported)["active"]
    result = cli.ok("keys", "import", input=exported)
    assert f"Added key(s) {theirs}" in result.stderr
    status = cli.ok("keys", "status", "--json").json()
    assert status["active"] == theirs and sorted(status["keys"]) == sorted([mine, theirs])
    cli.ok("accounts", "test", "webhook:site")  # sealed with the old active key: still opens
    cli.ok("doctor")


@pytest.mark.parametrize(
    ("stdin", "says"),
    [
        ("", "nothing to import"),
        ("{not json", "not valid JSON"),
        ('{"active": "x"}', '"keys"'),
        ('{"keys": ["c2hvcnQ="]}', "5 bytes"),
        ("%%%not-base64%%%", "not valid base64"),
    ],
    ids=["empty", "not-json", "no-keys", "short-key", "garbage"],
)
def test_import_refuses_what_is_not_a_key_export_and_changes_nothing(
    cli: Cli, isolated_env: Path, stdin: str, says: str
) -> None:
    run = cli("keys", "import", input=stdin)
    assert run.exit_code == 5
    line = one_error_line(run.stderr, never=())
    assert says in line
    if len(stdin) > 4:
        assert stdin not in line
    assert not (isolated_env / "secrets").exists()


def test_import_with_keys_from_the_environment_names_what_to_change(
    cli: Cli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    present, absent = key_text(), key_text()
    monkeypatch.setenv("AUTOPOSTR_ENCRYPTION_KEY", present)
    theirs = cli.ok("keys", "export", env={"AUTOPOSTR_ENCRYPTION_KEY": absent}).stdout
    run = cli("keys", "import", input=theirs)
    assert run.exit_code == 5
    line = one_error_line(run.stderr, never=())
    assert "AUTOPOSTR_ENCRYPTION_KEY" in line and json.loads(theirs)["active"] in line
    assert absent not in run.stderr
    # Keys the environment already has: nothing to do.
    ours = cli.ok("keys", "export").stdout
    assert "Nothing to add" in cli.ok("keys", "import", input=ours).stderr
    assert not (isolated_env / "secrets").exists()


def test_export_refuses_a_terminal_unless_yes(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = key_text()
    monkeypatch.setenv("AUTOPOSTR_ENCRYPTION_KEY", key)

    def on_a_terminal(*args: str) -> tuple[int, str, str]:
        controller, terminal = pty.openpty()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "autopostr", "keys", "export", *args],
                stdout=terminal,
                stderr=subprocess.PIPE,
                text=True,
                timeout=60,
            )
            os.close(terminal)
            terminal = -1
            shown = b""
            while True:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # the terminal closed: all was read
                    break
                if not chunk:
                    break
                shown += chunk
        finally:
            os.close(controller)
            if terminal != -1:
                os.close(terminal)
        return proc.returncode, shown.decode(), proc.stderr

    code, shown, stderr = on_a_terminal()
    assert code == 5
    assert "--yes" in one_error_line(stderr, never=())
    assert key not in shown + stderr
    code, shown, _stderr = on_a_terminal("--yes")
    assert code == 0
    assert key in shown
