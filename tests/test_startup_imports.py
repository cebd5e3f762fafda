"""Everyday commands import only what they need: this fails when a heavy module creeps
into `--version`, `--help` or `posts list` (see bench/startup.py for the times)."""

from __future__ import annotations

import os
import subprocess
import sys

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
)


def imported(*args: str) -> set[str]:
    """Every module `autopostr ARGS` imports, from `python -X importtime`."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "autopostr", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=60,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in run.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def heavy(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules for f in forbidden if m == f or m.startswith(f + "."))


@pytest.mark.parametrize(
    "args",
    [("--version",), ("--help",), ("posts", "--help"), ("ai", "--help"), ("daemon", "--help")],
)
def test_version_and_help_import_nothing_heavy(args: tuple[str, ...]) -> None:
    assert heavy(imported(*args), HEAVY) == []


def test_posts_list_imports_the_database_and_nothing_more(sandbox: str, cli: Cli) -> None:
    if sandbox != "sqlite":
        pytest.skip("the modules a reading command loads do not depend on the engine")
    new_post(cli, "listed")
    modules = imported("posts", "list", "--json")
    assert "sqlmodel" in modules  # it did read the database
    assert heavy(modules, NOT_FOR_READING) == []
