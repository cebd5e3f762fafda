"""Glue shared by the command modules: settings, the database, the signed-in user."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

    from autopostr.config import Settings
    from autopostr.db import Database
    from autopostr.identity import Actor

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document on stdout.")
YES_OPTION = typer.Option(
    False, "--yes", "-y", help="Do not ask for confirmation (needed when stdin is not a terminal)."
)


def settings() -> Settings:
    from autopostr.config import load_settings

    return load_settings()


def database(s: Settings | None = None) -> Database:
    from autopostr.db import open_database

    database = open_database(s or settings())
    start_up_over()
    return database


def start_up_over() -> None:
    """The command's modules are loaded: collect cycles again, among what the command
    makes from now on (a daemon runs for months; see `autopostr.cli` for why not before)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


@contextmanager
def signed_in() -> Iterator[tuple[DbSession, Actor]]:
    """A transaction and the user running the command, or exit 4 naming the fix."""
    from autopostr.local_session import current_actor

    s = settings()
    db = database(s)
    with db.session() as session:
        actor = current_actor(s, db, session)
        yield session, actor


def signed_in_database() -> tuple[Database, Actor]:
    """The database and the user running the command, for a command that opens its own
    transactions (an AI request holds none while the model writes)."""
    from autopostr.local_session import current_actor

    s = settings()
    db = database(s)
    with db.session() as session:
        return db, current_actor(s, db, session)


def read_secret_from_stdin(what: str) -> str:
    from autopostr.errors import InvalidInput

    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise InvalidInput(f"{what}: nothing was read from stdin")
    return value


def prompt_password(confirm: bool) -> str:
    """Read a password without echo; never from argv."""
    from autopostr.errors import InvalidInput

    if not sys.stdin.isatty():
        raise InvalidInput("password: no terminal to prompt on; pipe it with --password-stdin")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=confirm))


def prompt_secret(label: str, stdin_flag: str) -> str:
    """A secret typed at a hidden prompt, or the flag that pipes it when no one is there."""
    from autopostr.errors import UsageError

    if not sys.stdin.isatty():
        raise UsageError(f"{label.lower()}: no terminal to ask on; pipe it with {stdin_flag}")
    value = str(typer.prompt(label, hide_input=True, err=True)).strip()
    if not value:
        raise UsageError(f"{label.lower()}: nothing was typed")
    return value


def confirm(action: str, yes: bool, details: Sequence[str] = (), question: str = "") -> None:
    """The one rule every destructive command follows (as gh's do): `--yes` goes ahead; in a
    terminal, show what will go (`details`, already checked to exist) and ask; otherwise
    refuse, since a script cannot answer. `action` is lower case: "delete post 12"."""
    from autopostr.cli import output
    from autopostr.errors import NothingChanged, UsageError

    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"{action}: add --yes to confirm (stdin is not a terminal to ask on)")
    for line in details:
        output.info(line)
    if not ask(question or f"{action[:1].upper()}{action[1:]}?"):
        output.info("Nothing was changed.")
        raise NothingChanged()


def ask(question: str) -> bool:
    """A yes/no question in a terminal (default no); never asked when stdin is not one.
    Asked on stderr and read from stdin, so stdout (maybe `--json > file`) stays data."""
    if not sys.stdin.isatty():
        return False
    sys.stderr.write(f"{question} [y/N]: ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def zone_for(session: DbSession, actor: Actor, tz: str) -> str:
    from autopostr.models import User
    from autopostr.timeparse import default_zone_name, zone

    if tz:
        zone(tz)
        return tz
    user = session.get(User, actor.user_id)
    return default_zone_name(settings().get("timezone"), user.timezone if user else None)


def when_for(text: str, session: DbSession, actor: Actor, tz: str, field: str) -> tuple[Any, str]:
    from autopostr.models import utcnow
    from autopostr.timeparse import parse_when

    zone_name = zone_for(session, actor, tz)
    return parse_when(text, zone_name, utcnow(), field), zone_name
