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


@app.command("setup-roles")
def setup_roles(as_json: bool = JSON_OPTION) -> None:
    """Put row-level security on a shared PostgreSQL and create the member and daemon group
    roles; run with the tables' owner in AUTOPOSTR_ADMIN_DATABASE_URL (or
    AUTOPOSTR_DATABASE_URL), again after every `db upgrade`.

    \b
    Example:
      AUTOPOSTR_ADMIN_DATABASE_URL=postgresql://admin@db/social autopostr db setup-roles
    """
    from autopostr.cli import output
    from autopostr.dbroles import setup_from
    from autopostr.views import setup_roles_json

    output.emit(setup_roles_json(setup_from(settings())), as_json, _set_up)


def _set_up(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    output.success(
        f"row-level security on {len(data['tables'])} tables ({data['policies']} policies); "
        f"members connect in {data['member_role']}, daemons in {data['daemon_role']}"
    )
    output.info(
        "Give each member a role of their own with `autopostr db grant EMAIL` (or invite them "
        "with AUTOPOSTR_ADMIN_DATABASE_URL set), and each daemon host with "
        "`autopostr db grant --daemon NAME`."
    )


@app.command("grant")
def grant(
    who: str = typer.Argument(..., help="The member's e-mail, or a daemon's name with --daemon."),
    daemon: bool = typer.Option(False, "--daemon", help="A login role for daemons."),
    revoke: bool = typer.Option(False, "--revoke", help="Drop the login role instead."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Give a member (or a daemon) a PostgreSQL login role of their own and print its
    connection URL once; run again for a new password. Needs the administrative URL.

    \b
    Example:
      autopostr db grant ana@example.com --json
    """
    from autopostr.cli import output
    from autopostr.dbroles import grant_from, revoke_from
    from autopostr.views import login_json, revoked_login_json

    if revoke:
        role = revoke_from(settings(), who, daemon=daemon)
        output.emit(revoked_login_json(role), as_json, _revoked)
        return
    output.emit(login_json(grant_from(settings(), who, daemon=daemon)), as_json, _granted)


def _granted(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    output.print_line(data["connection_url"])
    output.info(
        f"Database role {data['role']} for {data['email'] or 'daemons'} (shown only now): "
        "give this URL to them by a private channel; they put it in AUTOPOSTR_DATABASE_URL "
        "in their environment or config file, never on a command line."
    )


def _revoked(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    output.success(f"dropped the database role {data['role']}")
