"""Top-level commands: init, doctor, version."""

from __future__ import annotations

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
    from dataclasses import asdict

    from autopostr.cli import output
    from autopostr.setup import initialize

    result = initialize(settings())
    if as_json:
        output.print_json(asdict(result))
        for note in result.notes:  # a script must not miss "back up your key"
            output.warn(note)
        return
    if result.schema_before != result.schema_after:
        output.success(f"Database {result.database} migrated to {result.schema_after}")
    else:
        output.success(f"Database {result.database} already at {result.schema_after}")
    if result.key_created:
        output.success(f"Encryption key created in {result.key_source}")
    if result.user_created:
        output.success(f"Signed in as {result.user_created} (your personal team is ready)")
    elif result.signed_in_as:
        output.success(f"Signed in as {result.signed_in_as} again")
    for note in result.notes:
        output.warn(note)
    output.info("Next: `autopostr doctor` checks everything is in place.")


def doctor(as_json: bool = JSON_OPTION) -> None:
    """Check the installation; each failed check names the command that fixes it.

    Exits 1 when any check fails.

    \b
    Example:
      autopostr doctor --json | jq '.[] | select(.status=="fail")'
    """
    from dataclasses import asdict

    from autopostr.cli import output
    from autopostr.doctor import run_checks

    results = run_checks(settings())
    if as_json:
        output.print_json([asdict(r) for r in results])
    else:
        marks = {"ok": "[green]✔[/green]", "warn": "[yellow]![/yellow]", "fail": "[red]✘[/red]"}
        from rich.markup import escape

        for r in results:
            line = f"{marks[r.status]} {escape(r.name)}: {escape(r.detail)}"
            if r.status != "ok" and r.fix:
                line += f"\n    fix: {escape(r.fix)}"
            output.stdout().print(line)
    if any(r.failed for r in results):
        raise typer.Exit(1)


def version(as_json: bool = JSON_OPTION) -> None:
    """Print autopostr's version.

    \b
    Example:
      autopostr version --json
    """
    from autopostr.cli import output

    if as_json:
        output.print_json({"version": __version__})
    else:
        output.print_line(f"autopostr {__version__}")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("doctor")(doctor)
    app.command("version")(version)
