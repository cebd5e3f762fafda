"""`autopostr db`: schema migrations."""

from __future__ import annotations

import typer

from autopostr.cli.common import JSON_OPTION, settings

app = typer.Typer(
    help="Database schema: upgrade and show the current revision.", no_args_is_help=True
)


@app.command("upgrade")
def upgrade(as_json: bool = JSON_OPTION) -> None:
    """Migrate the database to the newest schema (safe to run on every deploy).

    \b
    Example:
      AUTOPOSTR_DATABASE_URL=postgresql://app@db/social autopostr db upgrade
    """
    from autopostr.cli import output
    from autopostr.db import Database
    from autopostr.migrate import upgrade as run_upgrade

    db = Database(settings())
    before, after = run_upgrade(db)
    if as_json:
        output.print_json({"database": db.url.display, "before": before, "after": after})
    elif before == after:
        output.success(f"{db.url.display} is already at {after}")
    else:
        output.success(f"{db.url.display} migrated from {before or 'empty'} to {after}")


@app.command("current")
def current(as_json: bool = JSON_OPTION) -> None:
    """Show the database's schema revision and the newest one this autopostr knows.

    \b
    Example:
      autopostr db current --json
    """
    from autopostr.cli import output
    from autopostr.db import SCHEMA_HEAD, Database

    db = Database(settings())
    revision = db.revision()
    data = {
        "database": db.url.display,
        "current": revision,
        "head": SCHEMA_HEAD,
        "up_to_date": revision == SCHEMA_HEAD,
    }
    if as_json:
        output.print_json(data)
        return
    output.print_fields(
        [("database", data["database"]), ("current", revision or "none"), ("head", SCHEMA_HEAD)]
    )
    if revision is None:
        output.info("No schema yet: run `autopostr init`.")
    elif revision != SCHEMA_HEAD:
        output.info("Behind: run `autopostr db upgrade`.")
