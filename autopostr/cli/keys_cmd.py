"""`autopostr keys`: the key that encrypts stored account tokens."""

from __future__ import annotations

from typing import Any

import typer

from autopostr.cli.common import (
    JSON_OPTION,
    YES_OPTION,
    confirm,
    database,
    read_secret_from_stdin,
    settings,
)

app = typer.Typer(help="Encryption keys for stored account tokens.", no_args_is_help=True)


@app.command("status")
def status(as_json: bool = JSON_OPTION) -> None:
    """Show which key is active and where it comes from (never the key itself).

    \b
    Example:
      autopostr keys status --json
    """
    from autopostr.cli import output
    from autopostr.keys import require_keyset
    from autopostr.views import keyset_json

    output.emit(keyset_json(require_keyset(settings())), as_json, _show_keys)


def _show_keys(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    output.print_fields(
        [
            ("active key", data["active"]),
            ("all keys", ", ".join(data["keys"])),
            ("source", data["source"]),
        ]
    )


@app.command("rotate")
def rotate(
    new_key_stdin: bool = typer.Option(
        False,
        "--new-key-stdin",
        help="Read the new key (base64 of 32 bytes) from stdin; needed when the key "
        "comes from AUTOPOSTR_ENCRYPTION_KEY.",
    ),
    yes: bool = YES_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Re-encrypt every stored secret with a new key, in one transaction.

    Old keys stay readable until the transaction commits. Asks first in a
    terminal; elsewhere (and with --new-key-stdin) it needs --yes.

    \b
    Examples:
      autopostr keys rotate
      openssl rand -base64 32 | autopostr keys rotate --new-key-stdin --yes
    """
    from autopostr.cli import output
    from autopostr.keys import check_rotation
    from autopostr.keys import rotate as rotate_keys
    from autopostr.views import rotation_json

    s = settings()
    old, managed_here = check_rotation(s, new_key_stdin)
    after = (
        "dropped"
        if managed_here
        else f"still needed until {old.source} holds the new key on every machine"
    )
    detail = (
        f"Every stored secret is re-encrypted with a new key; the old key(s) "
        f"{', '.join(sorted(old.keys))} (from {old.source}) are then {after}"
    )
    confirm("rotate the encryption key", yes, [detail])
    new_key = read_secret_from_stdin("new key") if new_key_stdin else None
    result = rotate_keys(s, database(s), new_key)
    output.emit(rotation_json(result), as_json, _rotated)


def _rotated(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    output.success(
        f"Re-encrypted {data['reencrypted']} secret(s) with key {data['new_key']} "
        f"(was {', '.join(data['old_keys'])})"
    )
    if data["env_instructions"]:
        output.warn(
            f"The key comes from {data['source']}: set it to the new key on every machine "
            "that uses this database before the next command"
        )


@app.command("migrate")
def migrate(
    team: str | None = typer.Option(
        None,
        "--team",
        help="Give this team (id or name) a sealing key of its own instead: its accounts' "
        "secrets are re-sealed to it, and only daemons given that key open them.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Seal every stored secret to the database's public key (X25519 sealed boxes), in one
    transaction, so members add accounts without holding any key and only daemons open
    tokens. Run once, on a daemon's machine; nothing is lost, the same keys open both.

    With --team, one team of a shared PostgreSQL gets a key of its own: the daemons that
    hold only the database's key then leave its posts to the daemons given the team's key
    (`keys export --team`). Run it again to replace the team's key.

    \b
    Examples:
      autopostr keys migrate --json
      autopostr keys migrate --team acme
      autopostr keys export --team acme | ssh acme-daemon autopostr keys import
    """
    from autopostr.cli import output

    s = settings()
    if team is not None:
        from autopostr.keys import migrate_team
        from autopostr.views import team_key_migration_json

        moved = migrate_team(s, database(s), team)
        output.emit(team_key_migration_json(moved), as_json, _team_migrated)
        return
    from autopostr.keys import migrate_to_sealed_boxes
    from autopostr.views import key_migration_json

    result = migrate_to_sealed_boxes(s, database(s))
    output.emit(key_migration_json(result), as_json, _migrated)


def _team_migrated(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    replaced = f" (replacing key {data['previous_key']})" if data["previous_key"] else ""
    output.success(
        f"Team {data['team']} ({data['team_id']}) has a key of its own, {data['key']}{replaced}: "
        f"sealed {data['resealed']} secret(s) to it"
    )
    output.info(
        "Only daemons holding this key open the team's tokens now; the others leave its posts "
        f"to them. Hand it over with `autopostr keys export --team {data['team_id']} | ssh "
        "DAEMON-HOST autopostr keys import`."
    )


def _migrated(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    output.success(
        f"Sealed {data['resealed']} secret(s) to the public key of key {data['key']}"
        + (" (again)" if data["already"] else "")
    )
    output.info(
        "Members now need no key: they seal to this public key. Keep the key set only where "
        "daemons run (delete it from members' machines: `autopostr keys status` says where it is)."
    )


@app.command("export")
def export(
    team: str | None = typer.Option(
        None,
        "--team",
        help="Only this team's own key (id or name), for daemons that publish for it alone; "
        "importing it leaves the active key there as it is.",
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Print the keys even when stdout is a terminal."
    ),
) -> None:
    """Print this machine's key set on stdout, for `keys import` on another machine.

    Anyone holding it can open the stored account tokens: move it over a safe
    channel. It refuses to print on a terminal unless --yes.

    \b
    Examples:
      autopostr keys export | ssh daemon-host autopostr keys import
      autopostr keys export --team acme | ssh acme-daemon autopostr keys import
    """
    import sys

    from autopostr.cli import output
    from autopostr.errors import InvalidInput
    from autopostr.keys import export_keys

    if sys.stdout.isatty() and not yes:
        raise InvalidInput(
            "refusing to print the encryption keys on a terminal: pipe them "
            "(`autopostr keys export | ssh HOST autopostr keys import`), redirect them to a "
            "private file, or pass --yes"
        )
    s = settings()
    output.print_line(export_keys(s, database(s), team) if team else export_keys(s))


@app.command("import")
def import_(as_json: bool = JSON_OPTION) -> None:
    """Add the keys `keys export` printed (read from stdin) to this machine's key set.

    Their active key becomes the active one here. Importing the same keys again
    changes nothing.

    \b
    Example:
      ssh owner-host autopostr keys export | autopostr keys import
    """
    import sys

    from autopostr.cli import output
    from autopostr.keys import import_keys
    from autopostr.views import key_import_json

    result = import_keys(settings(), sys.stdin.read())
    output.emit(key_import_json(result), as_json, _imported)


def _imported(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    if data["added"]:
        output.success(
            f"Added key(s) {', '.join(data['added'])} to {data['source']}; the active key is "
            f"{data['active']}"
        )
    elif data["changed"]:
        output.success(f"The active key is now {data['active']} (in {data['source']})")
    else:
        output.info(f"Nothing to add: those keys are already here (active key {data['active']})")
