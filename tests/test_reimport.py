"""Re-importing a file every hour: rows already imported are skipped whatever happened
since (their time passed, their post was edited, moved or deleted), and approval holds
for every imported row."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.helpers import CSV_HEADER, Cli, Team, db_session, sandbox_lines, write_csv

README = Path(__file__).resolve().parent.parent / "README.md"


def soon(seconds: float) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def wait_until_past(moment: str) -> None:
    while datetime.now(UTC) <= datetime.fromisoformat(moment):
        time.sleep(0.1)


def readme_cron_line() -> str:
    """The crontab line the README gives for importing a file every hour."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^0 \* \* \* \* (autopostr posts import .+)$", text, re.MULTILINE)
    assert match, "the README no longer shows the hourly import cron line"
    return match.group(1)


@pytest.mark.slow
def test_the_readmes_cron_line_keeps_working_after_the_first_rows_time_has_passed(
    initialized: str, cli: Cli, tmp_path: Path, isolated_env: Path
) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    command = readme_cron_line()
    # The line as a user's crontab runs it: `autopostr` on PATH, `~` their home.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "autopostr"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m autopostr "$@"\n')
    shim.chmod(0o755)
    user_home = tmp_path / "user"
    csv_path = Path(
        os.path.expanduser(command.split()[3]).replace(os.path.expanduser("~"), str(user_home))
    )
    csv_path.parent.mkdir(parents=True)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(user_home)}

    def cron() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", "-c", command], env=env, capture_output=True, text=True, timeout=120
        )

    # Times a few seconds ahead, with room for slow process starts on a loaded machine.
    first_at = soon(5)
    csv_path.write_text(CSV_HEADER + f"First row,sandbox:demo,{first_at},,,,,\n", encoding="utf-8")
    run = cron()
    assert run.returncode == 0, run.stderr
    wait_until_past(first_at)

    # An hour later: the first row's time has passed, and a row was added to the file.
    # Far enough ahead that this run (an import and a publish run) ends before it.
    second_at = soon(15)
    with csv_path.open("a", encoding="utf-8") as f:
        f.write(f"Second row,sandbox:demo,{second_at},,,,,\n")
    run = cron()
    assert run.returncode == 0, run.stderr
    assert [line["text"] for line in sandbox_lines(isolated_env)] == ["First row"]
    wait_until_past(second_at)

    run = cron()
    assert run.returncode == 0, run.stderr
    assert [line["text"] for line in sandbox_lines(isolated_env)] == ["First row", "Second row"]
    run = cron()
    assert run.returncode == 0, run.stderr
    posts = cli.ok("posts", "list", "--json").json()
    assert sorted(p["text"] for p in posts) == ["First row", "Second row"]
    assert {p["status"] for p in posts} == {"published"}
    assert len(sandbox_lines(isolated_env)) == 2  # nothing twice


def test_a_row_whose_time_has_passed_is_skipped_not_refused(
    accounts: str, cli: Cli, tmp_path: Path
) -> None:
    at = soon(1.5)
    path = write_csv(tmp_path, f"Soon,sandbox:demo,{at},,,,,\n", "week.csv")
    cli.ok("posts", "import", str(path))
    while datetime.now(UTC) <= datetime.fromisoformat(at):
        time.sleep(0.1)
    again = cli.ok("posts", "import", str(path), "--json").json()
    assert again["created"] == 0
    assert [(r["line"], r["reason"]) for r in again["skipped_rows"]] == [(2, "already imported")]
    # A new row in the past is still refused: only rows imported before are let through.
    path.write_text(
        CSV_HEADER + f"Soon,sandbox:demo,{at},,,,,\nLate,sandbox:demo,2001-01-01 09:00,UTC,,,,\n"
    )
    late = cli("posts", "import", str(path))
    assert late.exit_code == 5 and "line 3: at: 2001-01-01 09:00 is in the past" in late.stderr


def test_edits_moves_and_deletes_stick_across_reimports(
    accounts: str, cli: Cli, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path,
        "Keep me,sandbox:demo,2030-05-01 09:00,UTC,,,,\n"
        "Edit me,sandbox:demo,2030-05-02 09:00,UTC,,,,\n"
        "Move me,sandbox:other,2030-05-03 09:00,UTC,,,,\n"
        "Delete me,sandbox:demo,2030-05-04 09:00,UTC,,,,\n"
        "Delete me too,sandbox:demo,2030-05-05 09:00,UTC,,,,ext-5\n",
        "week.csv",
    )
    ids = cli.ok("posts", "import", str(path), "--json").json()["post_ids"]
    keep, edit, move, delete, delete_ext = ids
    cli.ok("posts", "edit", edit, "--text", "Edited by hand")
    cli.ok("calendar", "move", move, "2030-06-01 10:00", "--tz", "UTC")
    cli.ok("posts", "delete", delete, "--yes")
    cli.ok("posts", "delete", delete_ext, "--yes")

    dry = cli.ok("posts", "import", str(path), "--dry-run", "--json").json()
    assert dry["created"] == 0
    assert [(r["line"], r["reason"], r["post"]) for r in dry["skipped_rows"]] == [
        (2, "already imported", keep),
        (3, "changed since", edit),
        (4, "changed since", move),
        (5, "deleted since", None),
        (6, "deleted since", None),
    ]
    human = cli.ok("posts", "import", str(path), "--dry-run")
    assert f"line 3: changed since (post {edit})" in human.stderr
    assert "line 5: deleted since" in human.stderr
    assert "skipped 5: 1 already imported, 2 changed since, 2 deleted since" in human.stderr

    again = cli.ok("posts", "import", str(path), "--json").json()
    assert again["created"] == 0 and again["skipped"] == 5
    texts = sorted(p["text"] for p in cli.ok("posts", "list", "--json").json())
    assert texts == ["Edited by hand", "Keep me", "Move me"]

    # Restoring a backup on purpose brings the deleted ones back, once.
    restored = cli.ok("posts", "import", str(path), "--include-deleted", "--json").json()
    assert restored["created"] == 2
    assert cli.ok("posts", "import", str(path), "--json").json()["created"] == 0
    assert len(cli.ok("posts", "list", "--json").json()) == 5


def test_a_post_written_by_hand_and_deleted_leaves_no_tombstone(
    accounts: str, cli: Cli, tmp_path: Path
) -> None:
    """Only imported posts are remembered: a file may later bring the same text."""
    made = cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "Hi",
        "--at",
        "2030-05-01T09:00Z",
        "--json",
    ).json()
    cli.ok("posts", "delete", made["id"], "--yes")
    result = cli.ok(
        "posts",
        "import",
        str(write_csv(tmp_path, "Hi,sandbox:demo,2030-05-01 09:00,UTC,,,,\n", "week.csv")),
        "--json",
    ).json()
    assert result["created"] == 1


def _due_at(post_id: str) -> list[datetime | None]:
    from sqlmodel import select

    from autopostr.models import PostDestination

    with db_session() as session:
        return [
            d.due_at
            for d in session.exec(
                select(PostDestination).where(PostDestination.post_id == int(post_id))
            )
        ]


def test_an_editors_imported_rows_wait_for_approval(
    initialized: str, cli: Cli, tmp_path: Path, isolated_env: Path
) -> None:
    team = Team(cli, tmp_path, email="ed@example.com", handle="demo", approval=True)
    path = write_csv(
        tmp_path,
        f"Explicit,sandbox:demo,{soon(60)},,,,scheduled,\n"
        f"Implied,sandbox:demo,{soon(60)},,,,,\n"
        "Draft,sandbox:demo,,,,,draft,\n",
        "week.csv",
    )
    dry = team.as_member("posts", "import", str(path), "--dry-run", "--json")
    assert dry.exit_code == 0 and json.loads(dry.stdout)["pending_approval"] == 2
    run = team.as_member("posts", "import", str(path), "--json")
    assert run.exit_code == 0, run.stderr
    explicit, implied, draft = json.loads(run.stdout)["post_ids"]
    statuses = {p["id"]: p["status"] for p in cli.ok("posts", "list", "--json").json()}
    assert statuses == {explicit: "pending_approval", implied: "pending_approval", draft: "draft"}
    assert _due_at(explicit) == [None]  # no daemon can pick it up

    # The editor cannot push it out by any other door.
    refused = team.as_member("posts", "publish", explicit)
    assert refused.exit_code == 4 and "approv" in refused.stderr
    assert team.as_member("posts", "retry", explicit).exit_code in (4, 5)
    cli.ok("daemon", "run", "--once")
    assert sandbox_lines(isolated_env) == []

    approved = cli.ok("posts", "approve", explicit, "--json").json()
    assert approved["status"] == "scheduled" and _due_at(explicit) != [None]


def test_every_path_an_editor_takes_goes_through_approval(
    initialized: str, cli: Cli, tmp_path: Path
) -> None:
    team = Team(cli, tmp_path, email="ed@example.com", handle="demo", approval=True)
    made = json.loads(
        team.as_member(
            "posts", "create", "--to", "sandbox:demo", "--text", "x", "--at", "+2h", "--json"
        ).stdout
    )
    assert made["status"] == "pending_approval"
    post_id = made["id"]
    assert cli.ok("posts", "approve", post_id, "--json").json()["status"] == "scheduled"

    moved = team.as_member("calendar", "move", post_id, "+3h", "--json")
    assert moved.exit_code == 0, moved.stderr
    assert cli.ok("posts", "show", post_id, "--json").json()["status"] == "pending_approval"
    assert _due_at(post_id) == [None]

    cli.ok("posts", "approve", post_id)
    team.as_member("posts", "schedule", post_id, "+4h")
    assert cli.ok("posts", "show", post_id, "--json").json()["status"] == "pending_approval"

    cli.ok("posts", "approve", post_id)
    team.as_member("posts", "edit", post_id, "--text", "changed")
    assert cli.ok("posts", "show", post_id, "--json").json()["status"] == "pending_approval"
    assert team.as_member("posts", "publish", post_id).exit_code == 4

    # The owner's own changes need nobody's approval.
    cli.ok("posts", "approve", post_id)
    cli.ok("calendar", "move", post_id, "+5h")
    assert cli.ok("posts", "show", post_id, "--json").json()["status"] == "scheduled"
