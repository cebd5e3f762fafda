"""`autopostr accounts`: the social accounts posts go to."""

from __future__ import annotations

import typer

from autopostr.cli.common import JSON_OPTION, settings, signed_in

app = typer.Typer(help="Add, list, show and disconnect social accounts.", no_args_is_help=True)


def _render(rows: list[dict[str, object]]) -> None:
    from autopostr.cli import output

    output.print_table(
        rows,
        [
            ("id", "ID"),
            ("platform", "Platform"),
            ("handle", "Handle"),
            ("name", "Name"),
            ("status", "Status"),
            ("expires_at", "Token expires"),
        ],
        empty="No accounts. Add one with `autopostr accounts add sandbox --handle demo`.",
    )


@app.command("add")
def add(
    platform: str = typer.Argument(..., help="Platform name, e.g. sandbox, x, bluesky."),
    handle: str = typer.Option(
        "", "--handle", help="The account's handle (needed where no credentials are)."
    ),
    name: str = typer.Option("", "--name", help="A display name."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Add an account; platforms with credentials read one JSON object from stdin.

    \b
    Examples:
      autopostr accounts add sandbox --handle demo
      echo '{"handle": "me.bsky.social", "app_password": "…"}' | autopostr accounts add bluesky
    """
    import json
    import sys

    from autopostr import accounts
    from autopostr.cli import output
    from autopostr.errors import InvalidInput
    from autopostr.platforms.registry import get_platform_class
    from autopostr.views import account_json

    credentials = None
    if get_platform_class(platform.lower()).needs_credentials:
        raw = "" if sys.stdin.isatty() else sys.stdin.read()
        try:
            credentials = json.loads(raw) if raw.strip() else None
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"stdin: not a JSON object ({exc.msg} at line {exc.lineno})"
            ) from None
        if credentials is not None and not isinstance(credentials, dict):
            raise InvalidInput("stdin: give one JSON object with the account's credentials")
        handle = handle or str((credentials or {}).get("handle", ""))
    with signed_in() as (session, actor):
        account = accounts.add(
            session, actor, settings(), platform.lower(), handle, credentials, name
        )
        data = account_json(account)
    if as_json:
        output.print_json(data)
    else:
        output.success(f"Added {data['platform']}:{data['handle']} (id {data['id']})")


@app.command("list")
def list_(
    platform: str = typer.Option("", "--platform", help="Only this platform."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List the current team's accounts.

    \b
    Example:
      autopostr accounts list --json
    """
    from autopostr import accounts
    from autopostr.cli import output
    from autopostr.views import account_json

    with signed_in() as (session, actor):
        rows = [account_json(a) for a in accounts.list_accounts(session, actor, platform or None)]
    if as_json:
        output.print_json(rows)
    else:
        _render(rows)


@app.command("show")
def show(
    account: str = typer.Argument(..., help="Account id or platform:handle."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one account.

    \b
    Example:
      autopostr accounts show sandbox:demo
    """
    from autopostr import accounts
    from autopostr.cli import output
    from autopostr.views import account_json

    with signed_in() as (session, actor):
        data = account_json(accounts.show(session, actor, account))
    if as_json:
        output.print_json(data)
    else:
        output.print_fields(list(data.items()))


@app.command("disconnect")
def disconnect(
    account: str = typer.Argument(..., help="Account id or platform:handle."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Disconnect an account and forget its tokens.

    \b
    Example:
      autopostr accounts disconnect x:acme
    """
    from autopostr import accounts
    from autopostr.cli import output
    from autopostr.views import account_json

    with signed_in() as (session, actor):
        data = account_json(accounts.disconnect(session, actor, account))
    if as_json:
        output.print_json(data)
    else:
        output.success(f"Disconnected {data['platform']}:{data['handle']}")
