"""`autopostr db`: schema migrations."""

from __future__ import annotations

from typing import Any

import typer

from autopostr.cli import options
from autopostr.cli.common import JSON_OPTION, settings

app = typer.Typer(
    help="Database schema: upgrade and show the current revision.", no_args_is_help=True
)


@app.command("upgrade")
def upgrade(quiet: bool = options.quiet_option(), as_json: bool = JSON_OPTION) -> None:
    """Migrate the database to the newest schema (safe to run on every deploy).

    \b
    Example:
      AUTOPOSTR_DATABASE_URL=postgresql://app@db/social autopostr db upgrade
    """
    from autopostr.cli import output
    from autopostr.db import Database
    from autopostr.migrate import upgrade as run_upgrade
    from autopostr.views import upgrade_json

    db = Database(settings())
    before, after = run_upgrade(db)
    output.emit(upgrade_json(db.url.display, before, after), as_json, _upgraded)


def _upgraded(data: dict[str, str | None]) -> None:
    from autopostr.cli import output

    if data["before"] == data["after"]:
        output.success(f"{data['database']} is already at {data['after']}")
    else:
        output.success(
            f"{data['database']} migrated from {data['before'] or 'empty'} to {data['after']}"
        )


@app.command("current")
def current(as_json: bool = JSON_OPTION) -> None:
    """Show the database's schema revision and the newest one this autopostr knows.

    \b
    Example:
      autopostr db current --json
    """
    from autopostr.cli import output
    from autopostr.db import SCHEMA_HEAD, Database
    from autopostr.views import revision_json

    db = Database(settings())
    output.emit(revision_json(db.url.display, db.revision(), SCHEMA_HEAD), as_json, _revision)


def _revision(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    output.print_fields(
        [
            ("database", data["database"]),
            ("current", data["current"] or "none"),
            ("head", data["head"]),
        ]
    )
    if data["current"] is None:
        output.info("No schema yet: run `autopostr init`.")
    elif not data["up_to_date"]:
        output.info("Behind: run `autopostr db upgrade`.")
