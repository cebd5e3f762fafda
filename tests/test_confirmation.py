"""Every destructive command follows one rule (gh's): in a terminal it shows what will go,
after checking it exists, and asks; elsewhere it refuses without -y/--yes. On both engines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import Cli, age_media
from tests.media_samples import image
from tests.terminal import run_in_terminal

PASSWORD = "correct horse battery"


@dataclass
class World:
    """One of each thing a destructive command can take away, owned by the signed-in Ana."""

    cli: Cli
    post: str
    published: str
    loose_media: str
    orphan_media: str
    other_session: str
    token: str
    key: str


@pytest.fixture
def world(initialized: str, cli: Cli, tmp_path: Path) -> World:
    def register(email: str, env: dict[str, str] | None = None) -> None:
        cli.ok("auth", "register", "--email", email, "--password-stdin", input=PASSWORD, env=env)

    register("ana@example.com")
    # A second session of Ana's, on another machine: the one `auth revoke` ends.
    laptop = {"AUTOPOSTR_HOME": str(tmp_path / "laptop")}
    cli.ok(
        "auth",
        "login",
        "--email",
        "ana@example.com",
        "--password-stdin",
        input=PASSWORD,
        env=laptop,
    )
    member = {"AUTOPOSTR_HOME": str(tmp_path / "member")}
    register("m@example.com", member)
    invitation = cli.ok("team", "invite", "m@example.com", "--json").json()["token"]
    cli.ok("team", "join", "--token-stdin", input=invitation, env=member)
    cli.ok("accounts", "add", "sandbox", "--handle", "acme")
    post = cli.ok(
        "posts", "create", "--to", "sandbox:acme", "--text", "hello confirm", "--json"
    ).json()["id"]
    published = cli.ok(
        "posts", "create", "--to", "sandbox:acme", "--text", "out there", "--json"
    ).json()["id"]
    cli.ok("posts", "publish", published)
    loose, orphan = (
        cli.ok("media", "upload", str(image(tmp_path / name, "PNG", seed=seed)), "--json").json()[
            0
        ]["id"]
        for name, seed in (("loose.png", 1), ("aged.png", 2))
    )
    age_media(int(orphan), hours=48)
    sessions = cli.ok("auth", "sessions", "--json").json()
    [other] = [s["id"] for s in sessions if not s["current"]]
    token = cli.ok("auth", "token", "create", "--name", "ci", "--json").json()["id"]
    key = cli.ok("keys", "status", "--json").json()["active"]
    return World(cli, str(post), str(published), str(loose), str(orphan), other, str(token), key)


def _exists(cli: Cli, *args: str) -> bool:
    run = cli(*args)
    assert run.exit_code in (0, 3), run.stderr
    return run.exit_code == 0


# name, its arguments, what the terminal shows before asking, and whether the thing is still there
Case = tuple[str, Callable[[World], list[str]], Callable[[World], str], Callable[[World], bool]]
CASES: list[Case] = [
    (
        "posts delete",
        lambda w: ["posts", "delete", w.post],
        lambda w: "'hello confirm'",
        lambda w: _exists(w.cli, "posts", "show", w.post),
    ),
    (
        "posts unpublish",
        lambda w: ["posts", "unpublish", w.published],
        lambda w: "sandbox:acme: https://",
        lambda w: (
            w.cli.ok("posts", "show", w.published, "--json").json()["destinations"][0]["status"]
            == "published"
        ),
    ),
    (
        "media rm",
        lambda w: ["media", "rm", w.loose_media],
        lambda w: "loose.png (image/png",
        lambda w: _exists(w.cli, "media", "show", w.loose_media),
    ),
    (
        "media cleanup",
        lambda w: ["media", "cleanup"],
        lambda w: f"Media {w.orphan_media}: aged.png",
        lambda w: _exists(w.cli, "media", "show", w.orphan_media),
    ),
    (
        "accounts disconnect",
        lambda w: ["accounts", "disconnect", "sandbox:acme"],
        lambda w: "sandbox:acme (active)",
        lambda w: (
            w.cli.ok("accounts", "show", "sandbox:acme", "--json").json()["status"] == "active"
        ),
    ),
    (
        "team remove",
        lambda w: ["team", "remove", "m@example.com"],
        lambda w: "m@example.com (editor) loses access",
        lambda w: (
            "m@example.com" in [m["email"] for m in w.cli.ok("team", "members", "--json").json()]
        ),
    ),
    (
        "keys rotate",
        lambda w: ["keys", "rotate"],
        lambda w: f"the old key(s) {w.key}",
        lambda w: w.cli.ok("keys", "status", "--json").json()["active"] == w.key,
    ),
    (
        "auth revoke",
        lambda w: ["auth", "revoke", w.other_session],
        lambda w: f"Session {w.other_session} (",
        lambda w: (
            w.other_session in [s["id"] for s in w.cli.ok("auth", "sessions", "--json").json()]
        ),
    ),
    (
        "auth token revoke",
        lambda w: ["auth", "token", "revoke", w.token],
        lambda w: f"Token {w.token} (ci,",
        lambda w: (
            {t["id"]: t["status"] for t in w.cli.ok("auth", "token", "list", "--json").json()}[
                w.token
            ]
            == "active"
        ),
    ),
]
IDS = [case[0] for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_without_a_terminal_it_needs_yes(world: World, case: Case) -> None:
    name, args, _shown, still_there = case
    refused = world.cli(*args(world))
    assert refused.exit_code == 2, (name, refused.stderr)
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "--yes" in lines[0]
    assert still_there(world), f"{name} changed something without --yes"
    world.cli.ok(*args(world), "--yes")
    assert not still_there(world), f"{name} --yes did nothing"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_in_a_terminal_it_shows_what_goes_and_asks(world: World, case: Case) -> None:
    name, args, shown, still_there = case
    screen = run_in_terminal(*args(world), answers=[("[y/N]", "n")])
    assert screen.exit_code == 1, screen.output
    asked_at = screen.output.index("[y/N]")
    assert shown(world) in screen.output[:asked_at], screen.output
    assert "Nothing was changed" in screen.output
    assert still_there(world), f"{name} went ahead after a no"


@pytest.mark.parametrize("case", CASES[:3], ids=IDS[:3])
def test_in_a_terminal_yes_goes_ahead(world: World, case: Case) -> None:
    _name, args, _shown, still_there = case
    screen = run_in_terminal(*args(world), answers=[("[y/N]", "y")])
    assert screen.exit_code == 0, screen.output
    assert not still_there(world)


def test_what_does_not_exist_is_not_asked_about(world: World) -> None:
    for args in (
        ["posts", "delete", "99999"],
        ["accounts", "disconnect", "sandbox:nobody"],
        ["team", "remove", "nobody@example.com"],
    ):
        screen = run_in_terminal(*args)
        assert screen.exit_code == 3, screen.output
        assert "[y/N]" not in screen.output


def test_every_destructive_command_takes_yes() -> None:
    import typer.main

    from autopostr.cli.app import app

    root = typer.main.get_command(app)
    for name, *_ in CASES:
        command = root
        for part in name.split():
            command = command.commands[part]  # type: ignore[attr-defined]
        flags = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert {"--yes", "-y"} <= flags, f"`autopostr {name}` lacks -y/--yes"
