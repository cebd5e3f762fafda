"""Teams: invitations, roles, last-owner protection, isolation, removal, audit — on both engines."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import Cli, db_session

PASSWORD = "correct horse battery"


@dataclass
class Person:
    email: str
    home: Path
    env: dict[str, str]


@pytest.fixture
def people(initialized: str, cli: Cli, tmp_path: Path) -> dict[str, Person]:
    """An owner (the solo user) plus three registered people, each with a home of their own."""
    owner_home = tmp_path / "home"
    people = {"owner": Person("owner", owner_home, {})}
    for name in ("ed", "vi", "out"):
        home = tmp_path / f"home-{name}"
        env = {"AUTOPOSTR_HOME": str(home)}
        cli.ok(
            "auth",
            "register",
            "--email",
            f"{name}@example.com",
            "--name",
            name,
            "--password-stdin",
            input=PASSWORD + "\n",
            env=env,
        )
        people[name] = Person(f"{name}@example.com", home, env)
    cli.ok("team", "create", "Acme")
    return people


def invite_and_join(cli: Cli, person: Person, role: str) -> None:
    token = cli.ok("team", "invite", person.email, "--role", role, "--json").json()["token"]
    joined = cli.ok("team", "join", "--token-stdin", "--json", input=token, env=person.env).json()
    assert joined["name"] == "Acme" and joined["role"] == role


def test_invite_json_and_join(people: dict[str, Person], cli: Cli) -> None:
    data = cli.ok("team", "invite", "ed@example.com", "--role", "editor", "--json").json()
    assert set(data) >= {"token", "email", "role", "expires_at"}
    assert data["email"] == "ed@example.com" and data["role"] == "editor"
    cli.ok("team", "join", "--token-stdin", input=data["token"], env=people["ed"].env)
    members = {m["email"]: m["role"] for m in cli.ok("team", "members", "--json").json()}
    assert members["ed@example.com"] == "editor"
    again = cli("team", "join", "--token-stdin", input=data["token"], env=people["ed"].env)
    assert again.exit_code == 5 and "used already" in again.stderr


def test_invite_prints_a_join_command_that_works_as_printed(
    people: dict[str, Person], cli: Cli
) -> None:
    """The invitee runs exactly the command the owner was shown, in a terminal, and pastes
    the token at a hidden prompt: it never reaches argv, shell history or the screen."""
    import re

    from tests.terminal import run_in_terminal

    shown = cli.ok("team", "invite", "ed@example.com", "--role", "editor")
    token = shown.stdout.strip()
    printed = re.findall(r"`(autopostr [^`]*)`", shown.stderr)
    assert printed and token not in shown.stderr
    command = printed[0].split()
    assert command[:3] == ["autopostr", "team", "join"]
    screen = run_in_terminal(
        *command[1:],
        answers=[("Invitation token", token)],
        hidden=["Invitation token"],
        env=people["ed"].env,
    )
    assert screen.exit_code == 0, screen.output
    assert "Joined 'Acme' as editor" in screen.output
    assert token not in screen.output  # typed with echo off
    assert "Warning" not in screen.output
    members = {m["email"]: m["role"] for m in cli.ok("team", "members", "--json").json()}
    assert members["ed@example.com"] == "editor"


def test_join_reads_the_token_from_stdin_and_warns_about_argv(
    people: dict[str, Person], cli: Cli
) -> None:
    token = cli.ok("team", "invite", "ed@example.com", "--json").json()["token"]
    # No terminal and no --token-stdin: nothing to ask on, and the message says what to do.
    refused = cli("team", "join", env=people["ed"].env)
    assert refused.exit_code == 2 and "--token-stdin" in refused.stderr
    both = cli("team", "join", token, "--token-stdin", input=token, env=people["ed"].env)
    assert both.exit_code == 2
    joined = cli.ok(
        "team", "join", "--token-stdin", "--json", input=token + "\n", env=people["ed"].env
    )
    assert joined.json()["name"] == "Acme" and joined.stderr == ""
    # The argument still works, with a warning on stderr that names the better ways.
    token = cli.ok("team", "invite", "vi@example.com", "--json").json()["token"]
    argv = cli.ok("team", "join", token, "--json", env=people["vi"].env)
    assert argv.json()["role"] == "editor"
    assert "Warning" in argv.stderr and "shell history" in argv.stderr
    assert "--token-stdin" in argv.stderr and token not in argv.stderr


def test_invitation_is_single_use_and_expires(people: dict[str, Person], cli: Cli) -> None:
    token = cli.ok("team", "invite", "vi@example.com", "--role", "viewer", "--json").json()["token"]
    from sqlmodel import select

    from autopostr.models import TeamInvite, utcnow

    with db_session() as session:
        for row in session.exec(select(TeamInvite)):
            row.expires_at = utcnow()
            session.add(row)
    expired = cli("team", "join", "--token-stdin", input=token, env=people["vi"].env)
    assert expired.exit_code == 5 and "expired" in expired.stderr
    bad = cli("team", "join", "--token-stdin", input="api_not-a-token", env=people["vi"].env)
    assert bad.exit_code == 5
    wrong_person = cli.ok("team", "invite", "vi@example.com", "--role", "viewer", "--json").json()[
        "token"
    ]
    assert (
        cli("team", "join", "--token-stdin", input=wrong_person, env=people["out"].env).exit_code
        == 4
    )


def test_last_owner_is_protected(people: dict[str, Person], cli: Cli) -> None:
    me = cli.ok("auth", "whoami", "--json").json()["user"]["email"]
    demote = cli("team", "role", me, "editor")
    assert demote.exit_code == 5 and "last owner" in demote.stderr
    assert cli("team", "remove", me).exit_code == 5
    invite_and_join(cli, people["ed"], "editor")
    cli.ok("team", "role", "ed@example.com", "owner")
    cli.ok("team", "role", me, "editor")  # now allowed: ed is an owner
    assert {m["role"] for m in cli.ok("team", "members", "--json").json()} == {"owner", "editor"}


def test_roles_are_enforced_with_the_needed_role_named(people: dict[str, Person], cli: Cli) -> None:
    invite_and_join(cli, people["vi"], "viewer")
    cli.ok("accounts", "add", "sandbox", "--handle", "acme")
    vi = people["vi"].env
    assert cli.ok("posts", "list", "--json", env=vi).json() == []
    denied = cli("posts", "create", "--to", "sandbox:acme", "--text", "x", env=vi)
    assert denied.exit_code == 4 and "editor" in denied.stderr
    assert cli("team", "invite", "x@example.com", env=vi).exit_code == 4
    assert cli("accounts", "add", "sandbox", "--handle", "vi", env=vi).exit_code == 4


def test_other_teams_are_invisible_even_by_id(people: dict[str, Person], cli: Cli) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "acme")
    post = cli.ok(
        "posts", "create", "--to", "sandbox:acme", "--text", "secret plan", "--json"
    ).json()
    out = people["out"].env
    assert cli.ok("posts", "list", "--json", env=out).json() == []
    for args in (
        ("posts", "show", post["id"]),
        ("posts", "edit", post["id"], "--text", "hijack"),
        ("posts", "delete", post["id"], "--yes"),
        ("posts", "schedule", post["id"], "+1h"),
        ("posts", "publish", post["id"]),
        ("accounts", "show", "sandbox:acme"),
        ("team", "use", "Acme"),
    ):
        run = cli(*args, env=out)
        assert run.exit_code == 3, (args, run.stderr)
        assert "secret plan" not in run.stdout + run.stderr
    assert cli.ok("posts", "show", post["id"], "--json").json()["text"] == "secret plan"


def test_removal_takes_effect_at_once_for_sessions_and_tokens(
    people: dict[str, Person], cli: Cli
) -> None:
    invite_and_join(cli, people["ed"], "editor")
    cli.ok("accounts", "add", "sandbox", "--handle", "acme")
    ed = people["ed"].env
    token = cli.ok("auth", "token", "create", "--name", "ci", "--json", env=ed).json()["token"]
    assert cli.ok("posts", "list", "--json", env={**ed, "AUTOPOSTR_TOKEN": token}).json() == []
    cli.ok("posts", "create", "--to", "sandbox:acme", "--text", "team post")
    assert len(cli.ok("posts", "list", "--json", env=ed).json()) == 1
    cli.ok("team", "remove", "--yes", "ed@example.com")
    for env in (ed, {**ed, "AUTOPOSTR_TOKEN": token}):
        assert (
            cli.ok("posts", "list", "--json", env=env).json() == []
        )  # back in their personal team
        assert cli("accounts", "show", "sandbox:acme", env=env).exit_code == 3


def test_team_use_and_list(people: dict[str, Person], cli: Cli) -> None:
    teams = cli.ok("team", "list", "--json").json()
    assert [t["name"] for t in teams if t["current"]] == ["Acme"]
    personal = next(t for t in teams if t["name"] != "Acme")
    cli.ok("team", "use", personal["id"])
    assert cli.ok("auth", "whoami", "--json").json()["team"]["id"] == personal["id"]
    assert cli("team", "use", "Nope").exit_code == 3


def test_audit_log_records_who_did_what(people: dict[str, Person], cli: Cli) -> None:
    invite_and_join(cli, people["ed"], "editor")
    cli.ok("accounts", "add", "sandbox", "--handle", "acme")
    post = cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:acme",
        "--text",
        "audited",
        "--json",
        env=people["ed"].env,
    ).json()
    cli.ok("posts", "schedule", post["id"], "+2h", env=people["ed"].env)
    cli.ok("team", "role", "ed@example.com", "viewer")
    cli.ok("team", "settings", "--approval-required")
    cli.ok("accounts", "disconnect", "--yes", "sandbox:acme")
    cli.ok("team", "remove", "--yes", "ed@example.com")
    entries = cli.ok("team", "audit", "--json").json()
    actions = [e["action"] for e in entries]
    for expected in (
        "team.create",
        "team.invite",
        "team.join",
        "account.connect",
        "post.create",
        "post.schedule",
        "team.role",
        "team.settings",
        "account.disconnect",
        "team.remove",
    ):
        assert expected in actions, expected
    by_ed = cli.ok("team", "audit", "--user", "ed@example.com", "--json").json()
    assert {e["action"] for e in by_ed} >= {"team.join", "post.create", "post.schedule"}
    assert [e["action"] for e in cli.ok("team", "audit", "--action", "post.", "--json").json()] == [
        "post.create",
        "post.schedule",
    ]
    # Removed, ed is back in his personal team: Acme's audit is out of his sight.
    assert all(
        e["action"] != "post.create"
        for e in cli.ok("team", "audit", "--json", env=people["ed"].env).json()
    )


def test_smtp_invitation_reaches_a_local_sink(
    people: dict[str, Person], cli: Cli, tmp_path: Path
) -> None:
    import sys

    sink = tmp_path / "mail.txt"
    # The sink binds a free port itself and says which: a port probed here and bound
    # there could be taken in between by another test's server.
    server = subprocess.Popen(
        [sys.executable, "-c", SMTP_SINK, str(sink)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        env = {"AUTOPOSTR_SMTP_HOST": "127.0.0.1", "AUTOPOSTR_SMTP_PORT": str(port)}
        data = cli.ok(
            "team", "invite", "vi@example.com", "--role", "viewer", "--json", env=env
        ).json()
        assert data["emailed"] is True
        mail = sink.read_text()
        assert "vi@example.com" in mail and data["token"] in mail
        # The mail's command runs as printed: it asks for the token instead of holding it.
        assert "    autopostr team join\n" in mail
        assert f"autopostr team join {data['token']}" not in mail
        down = cli(
            "team",
            "invite",
            "x@example.com",
            env={"AUTOPOSTR_SMTP_HOST": "127.0.0.1", "AUTOPOSTR_SMTP_PORT": "1"},
        )
        assert down.exit_code == 6
    finally:
        server.kill()
        server.wait()
    invites = [e for e in cli.ok("team", "audit", "--action", "team.invite", "--json").json()]
    assert len(invites) == 1  # the failed one left nothing behind


def test_an_smtp_port_that_is_no_number_names_the_setting_and_saves_nothing(
    people: dict[str, Person], cli: Cli
) -> None:
    env = {"AUTOPOSTR_SMTP_HOST": "127.0.0.1", "AUTOPOSTR_SMTP_PORT": "twenty-five"}
    run = cli("team", "invite", "x@example.com", env=env)
    assert run.exit_code == 5, run.stderr
    assert "AUTOPOSTR_SMTP_PORT must be a whole number from 1 to 65535, not 'twenty-five'" in (
        run.stderr
    )
    assert cli.ok("team", "audit", "--action", "team.invite", "--json").json() == []


# A minimal SMTP server on the standard library's sockets: accepts one message per connection.
SMTP_SINK = r"""
import socket, sys
path = sys.argv[1]
srv = socket.socket()
srv.bind(("127.0.0.1", 0)); srv.listen(5)
print(srv.getsockname()[1], flush=True)
while True:
    conn, _ = srv.accept()
    f = conn.makefile("rwb")
    def send(line): f.write(line.encode() + b"\r\n"); f.flush()
    send("220 sink ready")
    data = False
    lines = []
    for raw in f:
        line = raw.decode(errors="replace").rstrip("\r\n")
        if data:
            if line == ".":
                data = False
                with open(path, "a") as out: out.write("\n".join(lines) + "\n")
                send("250 ok")
            else:
                lines.append(line)
            continue
        cmd = line.split(" ")[0].upper()
        if cmd in ("EHLO", "HELO"): send("250 sink")
        elif cmd == "DATA": data = True; send("354 go on")
        elif cmd == "QUIT": send("221 bye"); break
        else: send("250 ok")
    conn.close()
"""
