"""`autopostr accounts`: the social accounts posts go to."""

from __future__ import annotations

from typing import Any

import typer

from autopostr.cli import options
from autopostr.cli.common import JSON_OPTION, YES_OPTION, confirm, database, settings, signed_in

app = typer.Typer(
    help="Connect, add, list, test, refresh and disconnect social accounts.", no_args_is_help=True
)


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
    output.emit(data, as_json, _added)


def _added(data: dict[str, str]) -> None:
    from autopostr.cli import output

    output.success(f"Added {data['platform']}:{data['handle']} (id {data['id']})")


@app.command("list")
def list_(
    platform: str = typer.Option("", "--platform", help="Only this platform."),
    expiring_within: str = typer.Option(
        "",
        "--expiring-within",
        help="Only accounts that stop publishing within this long (e.g. 7d, 12h) unless "
        "someone acts: a token nothing can renew runs out, or they need reconnecting; "
        "exit 1 when there is any (for cron alerts).",
    ),
    limit: int = options.limit_option(200, "accounts"),
    as_json: bool = JSON_OPTION,
) -> None:
    """List the current team's accounts; says how many there are when -n cuts the list.

    \b
    Examples:
      autopostr accounts list --json
      autopostr accounts list --expiring-within 7d || notify-send "reconnect an account"
    """
    from autopostr import accounts
    from autopostr.cli import output
    from autopostr.errors import AttentionNeeded
    from autopostr.views import account_json

    within = None
    if expiring_within:
        from autopostr.timeparse import parse_duration

        within = parse_duration(expiring_within, "--expiring-within")
    with signed_in() as (session, actor):
        found = (
            accounts.expiring(session, actor, within, platform or None)
            if within is not None
            else accounts.list_accounts(session, actor, platform or None)
        )
        rows = [account_json(a) for a in found[:limit]]
    if within is None:
        output.emit(rows, as_json, _render)
        output.shown(options.shown(len(rows), len(found), "accounts"))
        return

    def render(rows: list[dict[str, object]]) -> None:
        if rows:
            _render(rows)
        else:
            output.info(f"No account's token runs out within {expiring_within}.")

    output.emit(rows, as_json, render)
    if rows:
        names = ", ".join(f"{r['platform']}:{r['handle']}" for r in rows)
        output.info(f"{len(rows)} account(s) need attention within {expiring_within}: {names}")
        raise AttentionNeeded()


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
    output.emit(data, as_json, lambda data: output.print_fields(list(data.items())))


@app.command("disconnect")
def disconnect(
    account: str = typer.Argument(..., help="Account id or platform:handle."),
    yes: bool = YES_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Disconnect an account: revoke its token where the platform can, then forget it.

    Asks first in a terminal; elsewhere it needs --yes.

    \b
    Example:
      autopostr accounts disconnect x:acme --yes
    """
    from autopostr import accounts
    from autopostr.cli import output
    from autopostr.views import account_json

    with signed_in() as (session, actor):
        found = accounts.to_disconnect(session, actor, account)
        label = accounts.label(found)
        detail = (
            f"{label} ({found.status}): its tokens are revoked where the platform can and "
            "forgotten; posts to it fail until it is connected again"
        )
    confirm(f"disconnect {label}", yes, [detail])
    with signed_in() as (session, actor):
        disconnected, problem = accounts.disconnect(session, actor, account, settings())
        data = account_json(disconnected)
    if problem:
        output.warn(f"the platform did not confirm the revocation ({problem}); tokens forgotten")
    output.emit(
        data, as_json, lambda d: output.success(f"Disconnected {d['platform']}:{d['handle']}")
    )


@app.command("connect")
def connect(
    platform: str = typer.Argument(..., help="x, linkedin, facebook, instagram or mastodon."),
    no_browser: bool = typer.Option(
        False,
        "--no-browser",
        help="Print the authorization URL and read the address you are redirected to "
        "from stdin (for SSH sessions and servers).",
    ),
    port: int | None = typer.Option(
        None,
        "--port",
        help="Loopback port of the redirect (http://127.0.0.1:PORT/callback must be a "
        "redirect URI of your OAuth app); default AUTOPOSTR_OAUTH_PORT, else 8765.",
        show_default=False,
    ),
    page: list[str] = typer.Option(
        [],
        "--page",
        help="Facebook/Instagram: the page (id or name) to connect; LinkedIn: the "
        "organization to post as; repeatable.",
    ),
    instance: str = typer.Option(
        "", "--instance", help="Mastodon: the server, e.g. mastodon.social."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Connect accounts through the platform's OAuth page in your browser.

    \b
    Examples:
      autopostr accounts connect x
      autopostr accounts connect facebook --page "Acme Coffee"
      autopostr accounts connect mastodon --instance mastodon.social --no-browser
    """
    import sys

    from autopostr import accounts
    from autopostr.cli import output
    from autopostr.platforms import oauth
    from autopostr.platforms.registry import get_platform
    from autopostr.views import account_json

    s = settings()
    adapter = get_platform(platform.lower(), s)

    def show_url(url: str) -> None:
        if no_browser:
            output.info(f"Open this URL in a browser and authorize autopostr:\n\n  {url}\n")
            output.info("Then paste the address the browser was sent to (http://127.0.0.1…):")
        else:
            output.info(f"Opening your browser; if it does not open, visit:\n  {url}")

    def open_browser(url: str) -> bool:
        import webbrowser

        return webbrowser.open(url)

    def read_pasted_url() -> str:
        return sys.stdin.readline()

    def no_browser_found() -> None:
        output.warn(
            "no browser could be opened here: open the URL above on this machine, or "
            "press Ctrl-C and run the command again with --no-browser"
        )

    options = {"instance": instance, "page": ",".join(page)}
    options = {k: v for k, v in options.items() if v}
    prompter = oauth.Prompter(
        show_url, None if no_browser else open_browser, read_pasted_url, no_browser_found
    )
    if port is None:
        port = oauth.configured_port(s)
    granted = oauth.connect(s, adapter, options, prompter, port=port)
    with signed_in() as (session, actor):
        rows = [
            account_json(accounts.save_connected(session, actor, s, adapter.name, connected))
            for connected in granted
        ]
    output.emit(rows, as_json, _connected)


def _connected(rows: list[dict[str, str]]) -> None:
    from autopostr.cli import output

    for row in rows:
        output.success(f"Connected {row['platform']}:{row['handle']} (id {row['id']})")


@app.command("test")
def test(
    account: str = typer.Argument(..., help="Account id or platform:handle."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Ask the platform who the account is: proves its token works.

    \b
    Example:
      autopostr accounts test x:acme
    """
    from autopostr import accounts, tokens
    from autopostr.cli import output
    from autopostr.views import account_test_json

    s = settings()
    with signed_in() as (session, actor):
        found = accounts.to_test(session, actor, account)
        account_id, label = found.id, accounts.label(found)
    assert account_id is not None
    seen = tokens.whoami(database(s), s, account_id)
    output.emit(account_test_json(account_id, label, seen), as_json, _works)


def _works(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    seen = data["platform_says"]
    handle = seen.get("handle") or seen.get("name") or "?"
    output.success(f"{data['account']} works: the platform knows it as {handle}")


@app.command("refresh")
def refresh(
    account: str = typer.Argument(..., help="Account id or platform:handle."),
    quiet: bool = options.quiet_option(),
    as_json: bool = JSON_OPTION,
) -> None:
    """Renew the account's access token now (the daemon does this within 24 h of expiry).

    \b
    Example:
      autopostr accounts refresh linkedin:acme
    """
    from autopostr import accounts, tokens
    from autopostr.cli import output
    from autopostr.views import account_json

    s = settings()
    with signed_in() as (session, actor):
        account_id = accounts.to_refresh(session, actor, account).id
    assert account_id is not None
    tokens.refresh_now(database(s), s, account_id)
    with signed_in() as (session, actor):
        data = account_json(accounts.show(session, actor, account))
    output.emit(data, as_json, _refreshed)


def _refreshed(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    expiry = data["expires_at"] or "never"
    output.success(f"Refreshed {data['platform']}:{data['handle']}; expires {expiry}")
