"""The permission matrix: every role against every mutating command, on both engines,
plus the approval workflow's transitions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import Cli, Team
from tests.media_samples import image

PASSWORD = "correct horse battery"
ROLE_RANK = {"viewer": 0, "editor": 1, "owner": 2}


Builder = Callable[[Team], list[str]]


def csv_file(team: Team) -> str:
    path = team.tmp_path / f"import{team.counter}.csv"
    team.counter += 1
    path.write_text(f"text,accounts\nimported {team.counter},sandbox:acme\n", encoding="utf-8")
    return str(path)


# (command, the lowest role allowed, how to build its arguments as the owner prepares things)
MATRIX: list[tuple[str, str, Builder]] = [
    (
        "posts create",
        "editor",
        lambda t: ["posts", "create", "--to", "sandbox:acme", "--text", "by member"],
    ),
    ("posts edit", "editor", lambda t: ["posts", "edit", t.post(), "--text", "edited"]),
    ("posts delete", "editor", lambda t: ["posts", "delete", t.post(), "--yes"]),
    ("posts unpublish", "editor", lambda t: ["posts", "unpublish", t.published(), "--yes"]),
    ("posts schedule", "editor", lambda t: ["posts", "schedule", t.post(), "+3h"]),
    ("posts unschedule", "editor", lambda t: ["posts", "unschedule", t.post("--at", "+3h")]),
    ("posts publish", "editor", lambda t: ["posts", "publish", t.post()]),
    ("posts import", "editor", lambda t: ["posts", "import", csv_file(t)]),
    ("calendar move", "editor", lambda t: ["calendar", "move", t.post("--at", "+3h"), "+4h"]),
    (
        "media upload",
        "editor",
        lambda t: ["media", "upload", str(image(t.tmp_path / "up.png", "PNG", seed=99))],
    ),
    ("media rm", "editor", lambda t: ["media", "rm", "--yes", t.media()]),
    (
        "accounts add",
        "owner",
        lambda t: ["accounts", "add", "sandbox", "--handle", f"new{t.counter}"],
    ),
    ("accounts disconnect", "owner", lambda t: ["accounts", "disconnect", "--yes", "sandbox:acme"]),
    ("team invite", "owner", lambda t: ["team", "invite", "z@example.com", "--role", "viewer"]),
    ("team role", "owner", lambda t: ["team", "role", "m@example.com", "viewer"]),
    ("team settings", "owner", lambda t: ["team", "settings", "--no-approval-required"]),
    ("team audit", "owner", lambda t: ["team", "audit"]),
    ("posts approve", "owner", lambda t: ["posts", "approve", t.pending()]),
    ("posts reject", "owner", lambda t: ["posts", "reject", t.pending(), "--comment", "no"]),
    ("team remove", "owner", lambda t: ["team", "remove", "--yes", "m@example.com"]),
]


@pytest.mark.parametrize("role", ["viewer", "editor", "owner"])
def test_every_role_against_every_mutating_command(
    initialized: str, cli: Cli, tmp_path: Path, role: str
) -> None:
    team = Team(cli, tmp_path, role)
    failures = []
    for name, lowest, build in MATRIX:
        args = build(team)
        run = cli(*args, env=team.member)
        allowed = ROLE_RANK[role] >= ROLE_RANK[lowest]
        if allowed and run.exit_code != 0:
            failures.append(
                f"{role} {name}: expected allowed, got {run.exit_code}: {run.stderr.strip()}"
            )
        if not allowed and (run.exit_code != 4 or lowest not in run.stderr):
            failures.append(
                f"{role} {name}: expected exit 4 naming {lowest}, got {run.exit_code}: {run.stderr.strip()}"
            )
        # Keep the member in the team for the next command.
        if name == "team role" and run.exit_code == 0:
            cli.ok("team", "role", "m@example.com", role)
        if name == "accounts disconnect" and run.exit_code == 0:
            cli.ok("accounts", "add", "sandbox", "--handle", "acme")  # reconnect for what follows
    assert failures == []


def test_approval_workflow(initialized: str, cli: Cli, tmp_path: Path) -> None:
    team = Team(cli, tmp_path, "editor")
    ed = team.member
    cli.ok("team", "settings", "--approval-required")
    held = cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:acme",
        "--text",
        "needs ok",
        "--at",
        "+2h",
        "--json",
        env=ed,
    ).json()
    assert held["status"] == "pending_approval"
    assert all(d["status"] == "pending" for d in held["destinations"])
    inbox = [
        p["id"] for p in cli.ok("posts", "list", "--status", "pending_approval", "--json").json()
    ]
    assert inbox == [held["id"]]
    assert cli("posts", "publish", held["id"], env=ed).exit_code == 4

    rejected = cli.ok("posts", "reject", held["id"], "--comment", "Fix the typo", "--json").json()
    assert rejected["status"] == "draft" and rejected["review_comment"] == "Fix the typo"
    assert cli("posts", "reject", held["id"], "--comment", "again").exit_code == 5

    cli.ok("posts", "edit", held["id"], "--text", "needs ok, fixed", env=ed)
    assert (
        cli.ok("posts", "submit", held["id"], "--json", env=ed).json()["status"]
        == "pending_approval"
    )
    approved = cli.ok("posts", "approve", held["id"], "--comment", "Great", "--json").json()
    assert approved["status"] == "scheduled" and approved["review_comment"] == "Great"

    # Editing a scheduled post sends it back for approval.
    assert (
        cli.ok("posts", "edit", held["id"], "--text", "changed after ok", "--json", env=ed).json()[
            "status"
        ]
        == "pending_approval"
    )

    # A draft with no time: approve makes it approved; scheduling it later needs no new approval.
    draft = cli.ok(
        "posts", "create", "--to", "sandbox:acme", "--text", "no time yet", "--json", env=ed
    ).json()
    cli.ok("posts", "submit", draft["id"], env=ed)
    assert cli.ok("posts", "approve", draft["id"], "--json").json()["status"] == "approved"
    assert (
        cli.ok("posts", "schedule", draft["id"], "+5h", "--json", env=ed).json()["status"]
        == "scheduled"
    )

    # An editor scheduling an unapproved draft gets pending_approval, never scheduled.
    other = cli.ok(
        "posts", "create", "--to", "sandbox:acme", "--text", "sneaky", "--json", env=ed
    ).json()
    assert (
        cli.ok("posts", "schedule", other["id"], "+1h", "--json", env=ed).json()["status"]
        == "pending_approval"
    )

    actions = {e["action"] for e in cli.ok("team", "audit", "--json").json()}
    assert {
        "post.create",
        "post.edit",
        "post.submit",
        "post.approve",
        "post.reject",
        "post.schedule",
    } <= actions
    cli.ok("posts", "delete", other["id"], "--yes", env=ed)
    assert "post.delete" in {
        e["action"] for e in cli.ok("team", "audit", "--action", "post.delete", "--json").json()
    }

    cli.ok("team", "settings", "--no-approval-required")
    direct = cli.ok(
        "posts", "create", "--to", "sandbox:acme", "--text", "free", "--at", "+2h", "--json", env=ed
    ).json()
    assert direct["status"] == "scheduled"
    assert (
        cli(
            "posts",
            "submit",
            cli.ok(
                "posts", "create", "--to", "sandbox:acme", "--text", "d", "--json", env=ed
            ).json()["id"],
            env=ed,
        ).exit_code
        == 5
    )
