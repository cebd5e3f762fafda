"""Input that used to crash: ids too large for the database, a non-id where an id goes,
LIKE wildcards in a filter, an output file that cannot be written. Each is one line,
the exit code of the README's table and the fix, never "unexpected"."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import Cli, one_error_line

# Beyond 64 bits (SQLite's integers), and beyond PostgreSQL's INTEGER but not SQLite's.
TOO_LARGE = ["99999999999999999999999", "3000000000"]

# Every command that takes an id, in whatever option or argument it takes it.
ID_COMMANDS = [
    "posts show {id}",
    "posts edit {id} --text x",
    "posts delete {id}",
    "posts schedule {id} +1h",
    "posts unschedule {id}",
    "posts publish {id}",
    "posts retry {id}",
    "posts submit {id}",
    "posts approve {id}",
    "posts reject {id} --comment no",
    "posts list --account {id}",
    "posts create --text hi --to {id}",
    "posts create --text hi --to sandbox:acme --media {id}",
    "calendar move {id} +1h",
    "media show {id}",
    "media rm {id}",
    "auth revoke {id}",
    "auth token revoke {id}",
    "logs --post {id}",
    "accounts show {id}",
    "accounts test {id}",
    "accounts refresh {id}",
    "accounts disconnect {id}",
    "team use {id}",
    "team role {id} editor",
    "team remove {id}",
    "team audit --user {id}",
]


def with_yes(cli: Cli, args: list[str]) -> list[str]:
    """Destructive commands confirm in a terminal: say yes where the command asks."""
    group = [a for a in args if not a.startswith("-")][:2]
    return [*args, "--yes"] if "--yes" in cli.ok(*group, "--help").stdout else args


def test_every_id_too_large_for_the_database_is_not_found_or_invalid(
    initialized: str, cli: Cli
) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "acme")
    largest = 2**63 - 1 if initialized == "sqlite" else 2**31 - 1
    problems = []
    for template in ID_COMMANDS:
        for value in TOO_LARGE:
            args = with_yes(cli, template.format(id=value).split())
            run = cli(*args)
            if run.exit_code == 0 and int(value) <= largest:
                continue  # a filter that fits the database and matches nothing
            lines = run.stderr.strip().splitlines()
            if (
                run.exit_code not in (3, 5)
                or run.exception is not None
                or len(lines) != 1
                or not lines[0].startswith("Error: ")
                or "unexpected" in lines[0]
            ):
                problems.append(f"{' '.join(args)} -> {run.exit_code}: {run.stderr.strip()}")
    assert problems == []


def test_a_too_large_id_names_the_number(initialized: str, cli: Cli) -> None:
    run = cli("posts", "show", TOO_LARGE[0])
    assert run.exit_code == 5
    assert TOO_LARGE[0] in one_error_line(run.stderr)


def test_audit_user_that_is_neither_email_nor_id_is_invalid(initialized: str, cli: Cli) -> None:
    run = cli("team", "audit", "--user", "' OR 1=1 --")
    assert run.exit_code == 5
    line = one_error_line(run.stderr)
    assert "--user" in line and "autopostr team members" in line


def test_audit_action_wildcards_match_only_themselves(initialized: str, cli: Cli) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "acme")
    cli.ok("posts", "create", "--text", "hi", "--to", "sandbox:acme", "--draft")
    everything = cli.ok("team", "audit", "--json").json()
    assert {"account.connect", "post.create"} <= {e["action"] for e in everything}

    assert cli.ok("team", "audit", "--action", "%", "--json").json() == []
    assert cli.ok("team", "audit", "--action", "post_", "--json").json() == []
    assert cli.ok("team", "audit", "--action", "%create", "--json").json() == []
    posts = cli.ok("team", "audit", "--action", "post.", "--json").json()
    assert [e["action"] for e in posts] == ["post.create"]


@pytest.mark.parametrize("where", ["missing-folder", "under-a-file", "a-folder"])
def test_export_to_a_path_that_cannot_be_written_is_exit_5_naming_it(
    initialized: str, cli: Cli, tmp_path: Path, where: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("keep")
    target = {
        "missing-folder": tmp_path / "no" / "such" / "dir" / "x.csv",
        "under-a-file": blocker / "x.csv",
        "a-folder": tmp_path,
    }[where]
    run = cli("posts", "export", "-o", str(target))
    assert run.exit_code == 5
    line = one_error_line(run.stderr)
    assert f"--output {target}" in line
    fix = {
        "missing-folder": f"mkdir -p {target.parent}",
        "under-a-file": f"{blocker} is a file, not a folder",
        "a-folder": "name a file",
    }[where]
    assert fix in line
    assert blocker.read_text() == "keep"


def test_export_to_a_writable_path_still_writes(initialized: str, cli: Cli, tmp_path: Path) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "acme")
    cli.ok("posts", "create", "--text", "hello", "--to", "sandbox:acme", "--draft")
    target = tmp_path / "out.csv"
    cli.ok("posts", "export", "-o", str(target))
    assert "hello" in target.read_text()
