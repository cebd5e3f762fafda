"""The options every group shares (cli/options.py): -q/--quiet, -n/--limit with `N of M
shown`, one reading of dates and times, one refusal (exit 5) of an unknown value,
metavars people read, and completion of values, account names included."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import CSV_HEADER, Cli, one_error_line, write_csv


def _three_posts(cli: Cli) -> None:
    for n in range(3):
        cli.ok(
            "posts",
            "create",
            "--to",
            "sandbox:demo",
            "--text",
            f"Post {n}",
            "--at",
            f"2030-07-0{n + 1} 09:00",
            "--tz",
            "UTC",
        )


# -- quiet ------------------------------------------------------------------------


def test_quiet_cron_runs_print_nothing_when_all_is_well(
    sandbox: str, cli: Cli, tmp_path: Path
) -> None:
    loud = cli.ok("daemon", "run", "--once")
    assert "0 published, 0 not published" in loud.stderr
    for args in (("daemon", "run", "--once", "--quiet"), ("-q", "daemon", "run", "--once")):
        run = cli.ok(*args)
        assert run.stderr == "" and run.stdout == ""
    path = write_csv(tmp_path, "Hi,sandbox:demo,2030-05-01 09:00,UTC,,,,\n")
    cli.ok("posts", "import", str(path))
    again = cli.ok("posts", "import", str(path))
    assert "skipped 1" in again.stderr
    assert cli.ok("posts", "import", str(path), "-q").stderr == ""
    assert cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "x", "-q").stderr == ""


def test_quiet_still_prints_errors(sandbox: str, cli: Cli) -> None:
    run = cli("posts", "publish", "999", "--quiet")
    assert run.exit_code == 3
    one_error_line(run.stderr)


# -- limits and `N of M shown` --------------------------------------------------------


def test_lists_say_when_the_limit_cut_them(sandbox: str, cli: Cli) -> None:
    _three_posts(cli)
    run = cli.ok("posts", "list", "-n", "2", "--json")
    assert len(run.json()) == 2
    assert "2 of 3 posts shown" in run.stderr
    assert "shown" not in cli.ok("posts", "list", "--limit", "3").stderr
    cli.ok("daemon", "run", "--once")  # nothing due: no log yet
    for post in ("1", "2", "3"):
        cli.ok("posts", "publish", post)
    logs = cli.ok("logs", "-n", "2")
    assert len(logs.stdout.splitlines()) == 2 and "2 of 6 entries shown" in logs.stderr
    audit = cli.ok("team", "audit", "-n", "1")
    assert "1 of " in audit.stderr and "entries shown" in audit.stderr


# -- one reading of each kind of value --------------------------------------------------


def test_dates_and_times_are_read_alike_everywhere(sandbox: str, cli: Cli) -> None:
    _three_posts(cli)
    listed = cli.ok("posts", "list", "--from", "2030-07-02", "--until", "2030-07-03", "--json")
    assert [p["text"] for p in listed.json()] == ["Post 1"]
    cli.ok("calendar", "--from", "2030-07-02 09:00", "--json")  # a time names its day
    cli.ok("calendar", "--from", "2030-07-02", "--json")
    for since in ("2026-01-01", "7d", "2026-01-01T09:00"):
        cli.ok("logs", "--since", since)
        cli.ok("team", "audit", "--since", since)


def test_to_names_an_account_in_lists_as_in_create(accounts: str, cli: Cli) -> None:
    cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "to demo")
    cli.ok("posts", "create", "--to", "sandbox:other", "--text", "to other")
    rows = cli.ok("posts", "list", "--to", "sandbox:other", "--json").json()
    assert [r["text"] for r in rows] == ["to other"]
    listed = cli.ok("accounts", "list", "-n", "1", "--json")
    assert len(listed.json()) == 1 and "1 of 2 accounts shown" in listed.stderr
    assert "shown" not in cli.ok("media", "list", "-n", "1").stderr
    # The old `--to TIME` still works, and says what it became.
    old = cli.ok("posts", "list", "--to", "2030-01-01T00:00", "--json")
    assert "--until" in old.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("posts", "list", "--status", "bogus"),
        ("posts", "export", "--status", "bogus"),
        ("posts", "export", "--format", "xml"),
        ("logs", "--event", "bogus"),
        ("logs", "--since", "yesterday-ish"),
        ("team", "audit", "--since", "bogus"),
        ("calendar", "--from", "bogus"),
    ],
)
def test_an_unknown_value_is_exit_5_naming_the_valid_ones(
    sandbox: str, cli: Cli, args: tuple[str, ...]
) -> None:
    run = cli(*args)
    assert run.exit_code == 5, run
    line = one_error_line(run.stderr)
    assert args[-2] in line
    if args[-2] in ("--status", "--event", "--format"):
        assert "is not one of" in line
    assert run.stdout == ""


def test_several_states_at_once(sandbox: str, cli: Cli) -> None:
    _three_posts(cli)
    cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "a draft")
    rows = cli.ok("posts", "list", "--status", "draft,scheduled", "--json").json()
    assert len(rows) == 4
    assert len(cli.ok("posts", "list", "--status", "draft", "--json").json()) == 1


# -- help and completion ----------------------------------------------------------------


def _all_commands() -> list[list[str]]:
    import typer.main

    from autopostr.cli.app import app

    found: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            found.append(path)

    walk(typer.main.get_command(app), [])
    return found


def test_help_shows_metavars_not_python_types(cli: Cli) -> None:
    for path in _all_commands():
        text = cli.ok(*path, "--help").stdout
        for python in ("<str>", "<int>", "list[str]", "int range", "{post_id}", "<float"):
            assert python not in text, (path, text)
    create = cli.ok("posts", "create", "--help").stdout
    assert "--to ACCOUNT" in create and "--at WHEN" in create and "--tz ZONE" in create
    assert "-n, --limit N" in cli.ok("posts", "list", "--help").stdout
    assert "POST_ID" in cli.ok("posts", "show", "--help").stdout
    top = cli.ok("--help").stdout
    assert "Example:" in top and "autopostr posts create" in top


def _complete(words: str, env: dict[str, str] | None = None) -> list[str]:
    parts = words.split(" ")
    full = {
        **os.environ,
        **(env or {}),
        "_AUTOPOSTR_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(parts) - 1),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "autopostr"], capture_output=True, text=True, env=full, timeout=60
    )
    return proc.stdout.split()


def test_completion_offers_values(accounts: str, cli: Cli) -> None:
    assert _complete("autopostr posts list --status sch") == ["scheduled"]
    assert set(_complete("autopostr posts export --format ")) == {"csv", "json"}
    assert "sandbox" in _complete("autopostr accounts add s")
    assert "needs_review" in _complete("autopostr logs --event n")
    assert "Europe/Berlin" in _complete("autopostr posts create --tz Europe/Ber")
    # Account names come from the database, on either engine.
    assert _complete("autopostr posts create --to sandbox:") == ["sandbox:demo", "sandbox:other"]
    assert _complete("autopostr logs --account sandbox:o") == ["sandbox:other"]


def test_csv_header_helper_is_the_import_header() -> None:
    assert CSV_HEADER.startswith("text,accounts")
