"""What people see in a terminal: tables that fit COLUMNS (80 and 120), never padded,
compact times in the user's zone, ids in the calendar; piped output and a real terminal."""

from __future__ import annotations

import re

import pytest

from tests.helpers import Cli
from tests.terminal import run_in_terminal

BERLIN = {"TZ": "Europe/Berlin"}
LONG = "A launch note that goes on for quite a while, longer than any narrow terminal"


def _posts(cli: Cli) -> list[str]:
    cli.ok("accounts", "add", "sandbox", "--handle", "other")
    ids = []
    for n, at in enumerate(("2030-07-01 09:00", "2030-07-02 18:30")):
        data = cli.ok(
            "posts",
            "create",
            "--to",
            "sandbox:demo",
            "--to",
            "sandbox:other",
            "--text",
            f"{LONG} {n}",
            "--at",
            at,
            "--json",
            env=BERLIN,
        ).json()
        ids.append(data["id"])
    cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "Just a draft")
    return ids


def _fits(text: str, width: int) -> None:
    for line in text.splitlines():
        assert len(line) <= width, (width, line)
        assert line == line.rstrip(), f"padded line: {line!r}"


@pytest.mark.parametrize("width", [80, 120])
def test_posts_list_fits_columns_with_compact_local_times(
    sandbox: str, cli: Cli, width: int
) -> None:
    ids = _posts(cli)
    run = cli.ok("posts", "list", env={**BERLIN, "COLUMNS": str(width)})
    _fits(run.stdout, width)
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["ID", "Status", "When", "(Berlin)", "To", "Text"]
    first = next(line for line in lines if line.startswith(ids[0] + " "))
    assert "2030-07-01 09:00" in first  # Berlin wall time, one line, no offset noise
    assert "T07:00" not in run.stdout and "+00:00" not in run.stdout
    assert "(pending)" not in run.stdout  # unsent destinations need no state
    assert len(lines) == 4  # one line per post: nothing wraps
    assert first.endswith("…")  # the text gives way, cut where the terminal ends
    assert ("sandbox:demo, sandbox:other" in first) == (width == 120)


def test_piped_output_without_columns_is_wide_and_unpadded(sandbox: str, cli: Cli) -> None:
    _posts(cli)
    run = cli.ok("posts", "list", env={**BERLIN, "COLUMNS": ""})
    _fits(run.stdout, 200)
    assert f"{LONG} 1" in run.stdout  # a script gets the whole text


@pytest.mark.parametrize("width", [80, 120])
def test_calendar_fits_and_names_post_ids(sandbox: str, cli: Cli, width: int) -> None:
    ids = _posts(cli)
    run = cli.ok("calendar", "--from", "2030-07-01", env={**BERLIN, "COLUMNS": str(width)})
    _fits(run.stdout, width)
    assert f"#{ids[0]} 09:00" in run.stdout and f"#{ids[1]} 18:30" in run.stdout
    assert "Mon 07-01" in run.stdout and "Sun 07-07" in run.stdout
    # Words are cut with an ellipsis, never broken across lines.
    cut = r"sandbox:demo \+1" if width == 120 else r"sandbox:de?…"
    assert re.search(cut, run.stdout) and "│emo" not in run.stdout
    month = cli.ok("calendar", "--month", "--from", "2030-07-01", env={"COLUMNS": str(width)})
    _fits(month.stdout, width)


@pytest.mark.parametrize("width", [80, 120])
def test_in_a_real_terminal_tables_fit_columns(sandbox: str, cli: Cli, width: int) -> None:
    ids = _posts(cli)
    screen = run_in_terminal("posts", "list", env={**BERLIN, "COLUMNS": str(width)})
    assert screen.exit_code == 0, screen.output
    _fits(screen.output, width)
    assert any(
        line.startswith(f"{ids[1]} ") and "07-02 18:30" in line
        for line in screen.output.splitlines()
    )


def test_times_are_told_in_the_users_zone_and_json_stays_iso(sandbox: str, cli: Cli) -> None:
    run = cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "Hi",
        "--at",
        "2030-06-30 09:00",
        env=BERLIN,
    )
    assert "scheduled for 2030-06-30 09:00 +02:00 (Europe/Berlin)" in run.stderr
    data = cli.ok("posts", "show", "1", "--json").json()
    assert data["scheduled_at"] == "2030-06-30T07:00:00+00:00"
    shown = cli.ok("posts", "show", "1").stdout
    assert "2030-06-30 09:00 +02:00 (Europe/Berlin)" in shown
    # A post with its own zone is told in that zone, whoever looks at it.
    cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "NY",
        "--at",
        "2030-06-30 09:00",
        "--tz",
        "America/New_York",
    )
    assert "2030-06-30 09:00 -04:00 (America/New_York)" in cli.ok("posts", "show", "2").stdout


def test_a_first_run_in_a_terminal_ends_with_the_next_three_commands(engine: str, cli: Cli) -> None:
    screen = run_in_terminal("init", env={"COLUMNS": "80"})
    assert screen.exit_code == 0, screen.output
    steps = screen.output[screen.output.index("Next steps:") :]
    for command in (
        "autopostr accounts add sandbox --handle demo",
        'autopostr posts create --to sandbox:demo --text "Hello" --at +5m',
        "autopostr daemon run",
    ):
        assert command in steps
    _fits(steps, 80)
    # A script (no terminal) gets no lesson; the dashboard gives it while nothing is set up.
    assert "Next steps" not in cli.ok("init").stderr
    empty = cli.ok("dashboard")
    assert "No accounts yet" in empty.stderr and "accounts add sandbox" in empty.stderr
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    assert "Next steps" not in cli.ok("dashboard").stderr


@pytest.mark.parametrize("width", [80, 120])
def test_dashboard_fits_and_tells_local_times(sandbox: str, cli: Cli, width: int) -> None:
    _posts(cli)
    run = cli.ok("dashboard", env={**BERLIN, "COLUMNS": str(width)})
    _fits(run.stdout, width)
    assert "When (Berlin)" in run.stdout and "07-01 09:00" in run.stdout
