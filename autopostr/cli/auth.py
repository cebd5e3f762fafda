"""`autopostr auth`: sign in, sessions and personal access tokens."""

from __future__ import annotations

from typing import Any

import typer

from autopostr.cli.common import (
    JSON_OPTION,
    YES_OPTION,
    database,
    prompt_password,
    read_secret_from_stdin,
    settings,
    signed_in,
)

app = typer.Typer(help="Sign in and out, sessions, and access tokens for CI.", no_args_is_help=True)
token_app = typer.Typer(
    help="Personal access tokens: set AUTOPOSTR_TOKEN in CI or cron.", no_args_is_help=True
)
app.add_typer(token_app, name="token")

PASSWORD_STDIN = typer.Option(
    False, "--password-stdin", help="Read the password from the first line of stdin."
)


def _password(from_stdin: bool, confirm: bool) -> str:
    return read_secret_from_stdin("password") if from_stdin else prompt_password(confirm)


def _sign_in(token: str, as_json: bool, user_json: dict[str, str]) -> None:
    from autopostr.cli import output
    from autopostr.local_session import save_session_token

    s = settings()
    stored = save_session_token(s, database(s), token)

    def render(user: dict[str, str]) -> None:
        output.success(f"Signed in as {user['email']}")
        if stored.new_file:
            output.warn(
                f"No keyring backend works here: the session is kept in {stored.where} (0600)"
            )

    output.emit(user_json, as_json, render)


@app.command("register")
def register(
    email: str = typer.Option(..., "--email", help="Your email address."),
    name: str = typer.Option("", "--name", help="Your display name."),
    password_stdin: bool = PASSWORD_STDIN,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a user with a personal team and sign in.

    \b
    Example:
      printf '%s\\n' "$PW" | autopostr auth register --email ana@example.com --password-stdin
    """
    from autopostr.identity import create_user, start_session
    from autopostr.setup import session_label
    from autopostr.views import user_json

    password = _password(password_stdin, confirm=True)
    with database().session() as session:
        user = create_user(session, email, name, password)
        _row, token = start_session(session, user, session_label())
        data = user_json(user)
    _sign_in(token, as_json, data)


@app.command("login")
def login(
    email: str = typer.Option(..., "--email", help="Your email address."),
    password_stdin: bool = PASSWORD_STDIN,
    as_json: bool = JSON_OPTION,
) -> None:
    """Sign in; the session lasts 7 days from its last use.

    \b
    Example:
      autopostr auth login --email ana@example.com
    """
    from autopostr.identity import authenticate, needs_password, start_session
    from autopostr.setup import session_label
    from autopostr.views import user_json

    s = settings()
    db = database(s)
    # Whoever can open a local SQLite file owns its data already, so its
    # passwordless solo user may sign back in without one.
    local_file = db.url.dialect == "sqlite"
    with db.session() as session:
        ask = needs_password(session, email, passwordless_ok=local_file)
    # Prompt outside any transaction: SQLite would hold its write lock meanwhile.
    password = _password(password_stdin, confirm=False) if ask else ""
    with db.session() as session:
        user = authenticate(session, email, password, passwordless_ok=local_file)
        _row, token = start_session(session, user, session_label())
        data = user_json(user)
    _sign_in(token, as_json, data)


@app.command("logout")
def logout() -> None:
    """Sign out here: the session ends on the server and its token is forgotten.

    \b
    Example:
      autopostr auth logout
    """
    from autopostr.cli import output
    from autopostr.identity import end_session
    from autopostr.local_session import forget_session_token, load_session_token

    s = settings()
    db = database(s)
    token = load_session_token(s, db)
    if not token:
        output.info("Not signed in.")
        return
    with db.session() as session:
        end_session(session, token)
    forget_session_token(s, db)
    output.success("Signed out")


@app.command("whoami")
def whoami(as_json: bool = JSON_OPTION) -> None:
    """Show the signed-in user and current team.

    \b
    Example:
      autopostr auth whoami --json | jq -r .user.email
    """
    from autopostr.cli import output
    from autopostr.views import actor_json

    with signed_in() as (_session, actor):
        data = actor_json(actor)
    output.emit(data, as_json, _show_actor)


def _show_actor(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    user, team = data["user"], data["team"]
    output.print_fields(
        [
            ("user", f"{user['name']} <{user['email']}>"),
            ("id", user["id"]),
            ("team", f"{team['name']} ({team['role']})" if team else None),
            ("signed in via", "access token" if data["via"] == "token" else "session"),
        ]
    )


@app.command("password")
def password(password_stdin: bool = PASSWORD_STDIN) -> None:
    """Set or change your password.

    \b
    Example:
      autopostr auth password
    """
    from autopostr.cli import output
    from autopostr.identity import set_password

    with signed_in():
        pass  # fail with exit 4 before asking for a password nobody can set
    new_password = _password(password_stdin, confirm=True)
    with signed_in() as (session, actor):
        set_password(session, actor.user_id, new_password)
    output.success("Password updated")


@app.command("sessions")
def sessions(as_json: bool = JSON_OPTION) -> None:
    """List your active sessions; the current one is marked.

    \b
    Example:
      autopostr auth sessions
    """
    from autopostr.cli import output
    from autopostr.identity import list_sessions
    from autopostr.views import session_json

    with signed_in() as (session, actor):
        current = actor.credential_id if actor.via == "session" else None
        rows = [session_json(row, current) for row in list_sessions(session, actor.user_id)]
    output.emit(rows, as_json, _show_sessions)


def _show_sessions(rows: list[dict[str, Any]]) -> None:
    from autopostr.cli import output

    output.print_table(
        [{**row, "current": "*" if row["current"] else ""} for row in rows],
        [
            ("current", ""),
            ("id", "ID"),
            ("label", "Where"),
            ("last_used_at", "Last used"),
            ("expires_at", "Expires"),
        ],
        empty="No active sessions.",
    )


@app.command("revoke")
def revoke(
    session_id: int = typer.Argument(..., help="Session id from `auth sessions`."),
    yes: bool = YES_OPTION,
) -> None:
    """End one of your sessions (for a lost laptop).

    Asks first in a terminal; elsewhere it needs --yes.

    \b
    Example:
      autopostr auth revoke 3 --yes
    """
    from autopostr.cli import output
    from autopostr.cli.common import confirm
    from autopostr.identity import find_session, revoke_session
    from autopostr.timeparse import iso

    with signed_in() as (session, actor):
        row = find_session(session, actor.user_id, session_id)
        detail = (
            f"Session {session_id} ({row.label or 'no label'}, last used "
            f"{iso(row.last_used_at)}) is signed out at once"
        )
    confirm(f"revoke session {session_id}", yes, [detail])
    with signed_in() as (session, actor):
        revoke_session(session, actor.user_id, session_id)
    output.success(f"Session {session_id} revoked")


@token_app.command("create")
def token_create(
    name: str = typer.Option(..., "--name", help="What the token is for, e.g. ci."),
    expires_in: str = typer.Option(
        "", "--expires-in", help="Lifetime such as 30d, 12h or 90m (default: never)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a personal access token; it is shown once, store it safely.

    \b
    Example:
      autopostr auth token create --name ci --expires-in 90d
    """
    from autopostr.cli import output
    from autopostr.identity import create_api_token
    from autopostr.timeparse import parse_duration
    from autopostr.views import new_token_json

    lifetime = parse_duration(expires_in, "--expires-in") if expires_in else None
    with signed_in() as (session, actor):
        row, token = create_api_token(session, actor.user_id, name, lifetime)
        data = new_token_json(row, token)
    output.emit(data, as_json, _show_new_token)


def _show_new_token(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    output.print_line(data["token"])
    output.info(
        f"Token {data['id']} ({data['name']}) created. It is shown only now: "
        "use it as AUTOPOSTR_TOKEN in CI or cron."
    )


@token_app.command("list")
def token_list(as_json: bool = JSON_OPTION) -> None:
    """List your access tokens (never the tokens themselves).

    \b
    Example:
      autopostr auth token list --json
    """
    from autopostr.cli import output
    from autopostr.identity import list_api_tokens
    from autopostr.views import token_json

    with signed_in() as (session, actor):
        rows = [token_json(row) for row in list_api_tokens(session, actor.user_id)]
    output.emit(rows, as_json, _show_tokens)


def _show_tokens(rows: list[dict[str, Any]]) -> None:
    from autopostr.cli import output

    output.print_table(
        rows,
        [
            ("id", "ID"),
            ("name", "Name"),
            ("prefix", "Starts with"),
            ("status", "Status"),
            ("last_used_at", "Last used"),
            ("expires_at", "Expires"),
        ],
        empty="No access tokens. Create one with `autopostr auth token create --name ci`.",
    )


@token_app.command("revoke")
def token_revoke(
    token_id: int = typer.Argument(..., help="Token id from `auth token list`."),
    yes: bool = YES_OPTION,
) -> None:
    """Revoke an access token at once.

    Asks first in a terminal; elsewhere it needs --yes.

    \b
    Example:
      autopostr auth token revoke 2 --yes
    """
    from autopostr.cli import output
    from autopostr.cli.common import confirm
    from autopostr.identity import find_api_token, revoke_api_token

    with signed_in() as (session, actor):
        row = find_api_token(session, actor.user_id, token_id)
        detail = f"Token {token_id} ({row.name}, starts {row.prefix}) stops working at once"
    confirm(f"revoke token {token_id}", yes, [detail])
    with signed_in() as (session, actor):
        revoke_api_token(session, actor.user_id, token_id)
    output.success(f"Token {token_id} revoked")
