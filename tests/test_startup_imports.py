"""Everyday commands import only what they need: this fails when a heavy module creeps
into `--version`, `--help` or `posts list` (see bench/startup.py for the times)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Cli, new_post

# Never needed to print a version or a help screen.
HEAVY = (
    "sqlalchemy",
    "sqlmodel",
    "psycopg",
    "rich",
    "openai",
    "stripe",
    "authlib",
    "httpx",
    "httpx2",
    "apscheduler",
    "alembic",
    "cryptography",
    "keyring",
    "PIL",
    "plotext",
    "prometheus_client",
    "sentry_sdk",
    "regex",
)
# A reading command needs the database, not the publishing machinery, the clients or Rich.
NOT_FOR_READING = (
    *(m for m in HEAVY if m not in ("sqlalchemy", "sqlmodel")),
    "autopostr.publishing",
    "autopostr.daemon",
    "autopostr.platforms.registry",
    "autopostr.platforms.http",
    "autopostr.media",
    "autopostr.ai",
    "autopostr.analytics",
    "autopostr.billing",
    # Tables of other parts of the product, and PostgreSQL's dialect on SQLite (the
    # partial indexes name it: they join the tables only with the whole schema).
    "autopostr.models.analytics",
    "autopostr.models.schedule",
    "autopostr.models.billing",
    "autopostr.models.ai",
    "sqlalchemy.dialects.postgresql",
)


# Runs the real entry point and, at exit, writes what it loaded and whether the cycle
# collector runs (after everything the command did, atexit handlers included).
PROBE = """
import atexit, gc, json, os, sys
def report():
    with open(os.environ["PROBE_OUT"], "w") as out:
        json.dump({"modules": sorted(sys.modules), "gc": gc.isenabled()}, out)
atexit.register(report)
sys.argv = ["autopostr", *sys.argv[1:]]
from autopostr.cli import main
main()
"""


def probe(*args: str, tmp: Path) -> dict[str, Any]:
    out = tmp / f"probe-{abs(hash(args))}.json"
    run = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "PROBE_OUT": str(out)},
        timeout=60,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def imported(*args: str, tmp: Path) -> set[str]:
    """Every module `autopostr ARGS` imports."""
    return set(probe(*args, tmp=tmp)["modules"])


def heavy(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules for f in forbidden if m == f or m.startswith(f + "."))


@pytest.mark.parametrize(
    "args",
    [("--version",), ("--help",), ("posts", "--help"), ("ai", "--help"), ("daemon", "--help")],
)
def test_version_and_help_import_nothing_heavy(args: tuple[str, ...], tmp_path: Path) -> None:
    assert heavy(imported(*args, tmp=tmp_path), HEAVY) == []


def test_posts_list_imports_the_database_and_nothing_more(
    sandbox: str, cli: Cli, tmp_path: Path
) -> None:
    if sandbox != "sqlite":
        pytest.skip("the modules a reading command loads do not depend on the engine")
    new_post(cli, "listed")
    modules = imported("posts", "list", "--json", tmp=tmp_path)
    assert "sqlmodel" in modules  # it did read the database
    assert heavy(modules, NOT_FOR_READING) == []


def test_the_collector_runs_again_once_a_command_opened_the_database(
    sandbox: str, tmp_path: Path
) -> None:
    """Start-up runs with the cycle collector off (cheaper); a command that works with
    the database (the daemon among them) must not go on without it."""
    assert probe("posts", "list", "--json", tmp=tmp_path)["gc"] is True
    assert probe("daemon", "run", "--once", tmp=tmp_path)["gc"] is True


def test_the_whole_schema_has_every_table_and_its_partial_indexes(tmp_path: Path) -> None:
    """A table's module loads alone; `metadata` loads every module and the partial
    indexes that wait for it (migrations compare against it)."""
    code = (
        "import sys\n"
        "from autopostr.models import PostDestination\n"
        "alone = sorted(i.name for i in PostDestination.__table__.indexes)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('autopostr.models.'))\n"
        "pg_alone = 'sqlalchemy.dialects.postgresql' in sys.modules\n"
        "from autopostr.models import metadata\n"
        "whole = sorted(i.name for i in PostDestination.__table__.indexes)\n"
        "print(alone, loaded, pg_alone, len(metadata.tables), whole, sep='\\n')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    alone, loaded, pg_alone, tables, whole = run.stdout.splitlines()
    assert "ix_post_destinations_due_unsent" not in alone
    # posts, and the tables its foreign keys name
    assert loaded == str(
        [f"autopostr.models.{m}" for m in ("_base", "accounts", "identity", "posts")]
    )
    assert pg_alone == "False"
    assert int(tables) >= 32
    assert "ix_post_destinations_due_unsent" in whole


def test_a_command_line_that_names_its_group_builds_only_that_group() -> None:
    """`autopostr posts list` builds the posts group alone; what it shows and accepts is
    what the whole app shows and accepts."""
    from typer.testing import CliRunner

    from autopostr.cli.app import GROUPS, ROOT_COMMANDS, app, build, named_part

    assert named_part(["-q", "posts", "list"]) == "posts"
    assert named_part(["--debug", "init"]) == "init"
    assert named_part(["--help", "posts"]) is None  # the root's help lists everything
    assert named_part(["post", "list"]) is None  # a typo is told with every name
    runner = CliRunner()
    parts = {name: {name} for name in GROUPS}
    parts.update({name: set(names) for names in ROOT_COMMANDS.values() for name in names})
    for name, built_with in parts.items():
        alone = build(named_part([name]))
        built = {g.name for g in alone.registered_groups}
        built |= {c.name for c in alone.registered_commands}
        assert built == built_with
        for args in ([name, "--help"], [name, "--no-such-option"]):
            lazy = runner.invoke(alone, args, env={"COLUMNS": "100"})
            whole = runner.invoke(app, args, env={"COLUMNS": "100"})
            assert (lazy.exit_code, lazy.output) == (whole.exit_code, whole.output), args


def test_a_daemon_with_its_key_in_a_file_loads_no_keyring_cipher_or_http_server(
    initialized: str, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its key set comes from the home's file (keyring is not asked for what the file
    holds), its start checks the key by its id, and no metrics server was asked for:
    keyring's backends (D-Bus, cryptography) and the HTTP server stay unloaded, a
    tenth of an idle daemon's memory."""
    if initialized != "sqlite":
        pytest.skip("the modules a daemon loads at start do not depend on the engine")
    monkeypatch.setenv("AUTOPOSTR_KEYRING", "auto")  # keyring would be asked, were it needed
    modules = imported("daemon", "run", "--once", "-q", tmp=tmp_path)
    assert "autopostr.daemon.runner" in modules
    assert heavy(modules, ("keyring", "cryptography", "wsgiref", "http.server")) == []


def test_a_daemon_on_postgresql_loads_no_sqlite_dialect(initialized: str, tmp_path: Path) -> None:
    """Its start checks every table for damage, by name: the partial indexes are not
    attached for that (their options name both dialects, and naming SQLite's loads it,
    more than half a MB of an idle daemon's memory)."""
    if initialized != "postgresql":
        pytest.skip("on SQLite the dialect is the engine's own")
    modules = imported("daemon", "run", "--once", "-q", tmp=tmp_path)
    assert "autopostr.daemon.runner" in modules
    assert heavy(modules, ("sqlalchemy.dialects.sqlite",)) == []


def test_an_idle_daemon_that_reads_no_feed_loads_no_html_entities(
    initialized: str, tmp_path: Path
) -> None:
    """Its periodic jobs look for feeds to read (the feeds module is loaded); the table
    of HTML entities, half a MB, waits for a feed's text."""
    if initialized != "sqlite":
        pytest.skip("the modules a daemon loads at start do not depend on the engine")
    modules = imported("daemon", "run", "--once", "-q", tmp=tmp_path)
    assert "autopostr.schedule.feeds" in modules
    assert heavy(modules, ("html",)) == []
