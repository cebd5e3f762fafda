"""Top-level commands: init, doctor, version."""

from __future__ import annotations

import sys
from typing import Any

import typer

from autopostr import __version__
from autopostr.cli.common import JSON_OPTION, settings


def init(as_json: bool = JSON_OPTION) -> None:
    """Create the home, the database schema and the encryption key; sign in the solo user.

    Safe to run again: it only does what is missing.

    \b
    Example:
      AUTOPOSTR_HOME=~/social autopostr init
    """
    from autopostr.cli import output
    from autopostr.setup import initialize
    from autopostr.views import init_json

    result = initialize(settings())
    # A script must not miss a note such as "back up your key" either.
    output.emit(init_json(result), as_json, _initialized, notes=result.notes)


def _initialized(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    if data["schema_before"] != data["schema_after"]:
        output.success(f"Database {data['database']} migrated to {data['schema_after']}")
    else:
        output.success(f"Database {data['database']} already at {data['schema_after']}")
    if data["key_created"]:
        output.success(f"Encryption key created in {data['key_source']}")
    if data["user_created"]:
        output.success(f"Signed in as {data['user_created']} (your personal team is ready)")
    elif data["signed_in_as"]:
        output.success(f"Signed in as {data['signed_in_as']} again")
    for note in data["notes"]:
        output.warn(note)
    output.info("`autopostr doctor` checks everything is in place.")
    if sys.stdin.isatty() and sys.stdout.isatty():  # a person, not a script or a deploy
        output.first_steps()


def doctor(as_json: bool = JSON_OPTION) -> None:
    """Check the installation; each failed check names the command that fixes it.

    Exits 1 when any check fails.

    \b
    Example:
      autopostr doctor --json | jq '.[] | select(.status=="fail")'
    """
    from autopostr.cli import output
    from autopostr.doctor import run_checks
    from autopostr.errors import ChecksFailed
    from autopostr.views import check_json

    results = run_checks(settings())
    output.emit([check_json(r) for r in results], as_json, _show_checks)
    if any(r.failed for r in results):
        raise ChecksFailed()


def _show_checks(checks: list[dict[str, str]]) -> None:
    from rich.markup import escape

    from autopostr.cli import output

    marks = {"ok": "[green]✔[/green]", "warn": "[yellow]![/yellow]", "fail": "[red]✘[/red]"}
    for check in checks:
        line = f"{marks[check['status']]} {escape(check['name'])}: {escape(check['detail'])}"
        if check["status"] != "ok" and check["fix"]:
            line += f"\n    fix: {escape(check['fix'])}"
        output.stdout().print(line)


def version(as_json: bool = JSON_OPTION) -> None:
    """Print autopostr's version.

    \b
    Example:
      autopostr version --json
    """
    from autopostr.cli import output
    from autopostr.views import version_json

    output.emit(
        version_json(__version__), as_json, lambda d: output.print_line(f"autopostr {d['version']}")
    )


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("doctor")(doctor)
    app.command("version")(version)
