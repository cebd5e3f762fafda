"""`autopostr billing …`: plans, where the team stands, Checkout, the portal, sync, webhooks."""

from __future__ import annotations

from typing import Any

import typer

from autopostr.cli.common import JSON_OPTION

app = typer.Typer(
    help="Plans and the team's Stripe subscription (team owners; off without STRIPE_SECRET_KEY).",
    no_args_is_help=True,
)

NO_BROWSER = typer.Option(False, "--no-browser", help="Print the URL only; open no browser.")


@app.command("plans")
def plans(as_json: bool = JSON_OPTION) -> None:
    """The plans and their limits (unlimited: -).

    \b
    Example:
      autopostr billing plans --json
    """
    from autopostr.billing import manage
    from autopostr.cli import output
    from autopostr.cli.common import settings, signed_in
    from autopostr.views import billing_plan_json

    with signed_in() as (_session, actor):
        data = [billing_plan_json(plan) for plan in manage.list_plans(actor, settings())]
    output.emit(data, as_json, _show_plans)


def _show_plans(data: list[dict[str, Any]]) -> None:
    from autopostr.billing.plans import LIMITS
    from autopostr.cli import output

    rows = [
        {"name": plan["name"], **plan["limits"], "monthly": plan["stripe_price_monthly"]}
        for plan in data
    ]
    columns = [("name", "plan"), *((name, name) for name in LIMITS), ("monthly", "monthly price")]
    output.print_table(rows, columns)


@app.command("status")
def status(as_json: bool = JSON_OPTION) -> None:
    """The team's plan, subscription state and usage against each limit.

    \b
    Example:
      autopostr billing status
    """
    from autopostr.billing import manage
    from autopostr.cli import output
    from autopostr.cli.common import settings, signed_in
    from autopostr.views import billing_status_json

    with signed_in() as (session, actor):
        data = billing_status_json(manage.status(session, actor, settings()))
    output.emit(data, as_json, _show_status)


def _bar(used: int, limit: int | None, width: int = 20) -> str:
    if limit is None:
        return f"{used} (unlimited)"
    filled = width if limit == 0 else min(width, round(width * used / limit))
    return f"{'█' * filled}{'░' * (width - filled)} {used}/{limit}"


def _show_status(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    if not data["enabled"]:
        output.info("Billing is off (no STRIPE_SECRET_KEY): nothing is limited.")
        return
    plan = data["plan"]
    if data["subscribed_plan"] and data["subscribed_plan"] != plan:
        plan = f"{plan} (subscribed: {data['subscribed_plan']}, {data['status']})"
    fields: list[tuple[str, Any]] = [
        ("team", data["team"]),
        ("plan", plan),
        ("status", data["status"] or "no subscription"),
        ("period end", data["period_end"] or "-"),
    ]
    if data["grace_until"]:
        fields.append(("grace until", data["grace_until"]))
    month = data["billing_month"]
    fields.append(("billing month", f"{month['from'][:10]} to {month['to'][:10]}"))
    fields += [(name, _bar(data["usage"][name], limit)) for name, limit in data["limits"].items()]
    fields.append(("last sync", data["last_sync"] or "never"))
    output.print_fields(fields)


def _open(url: str, no_browser: bool) -> None:
    from autopostr.cli import output

    output.print_line(url)
    if not no_browser:
        import webbrowser

        if not webbrowser.open(url):
            output.warn("no browser could be opened: visit the URL above")


@app.command("checkout")
def checkout(
    plan: str = typer.Argument(..., help="The plan to subscribe to (see `billing plans`)."),
    yearly: bool = typer.Option(False, "--yearly", help="Pay yearly instead of monthly."),
    no_browser: bool = NO_BROWSER,
    as_json: bool = JSON_OPTION,
) -> None:
    """Subscribe the team to PLAN: prints (and opens) a Stripe Checkout URL.

    \b
    Example:
      autopostr billing checkout pro --yearly --no-browser
    """
    from autopostr.billing import manage
    from autopostr.cli import output
    from autopostr.cli.common import settings, signed_in
    from autopostr.views import billing_session_json

    with signed_in() as (session, actor):
        result = manage.checkout(session, actor, settings(), plan, yearly=yearly)
    if as_json:
        output.print_json(billing_session_json(result))
        return
    output.info(
        f"Pay for the {result.plan} plan in Stripe Checkout; then run `autopostr billing sync`."
    )
    _open(result.url, no_browser)


@app.command("portal")
def portal(no_browser: bool = NO_BROWSER, as_json: bool = JSON_OPTION) -> None:
    """Open Stripe's billing portal: payment methods, invoices, cancelling.

    \b
    Example:
      autopostr billing portal --no-browser
    """
    from autopostr.billing import manage
    from autopostr.cli import output
    from autopostr.cli.common import settings, signed_in
    from autopostr.views import billing_session_json

    with signed_in() as (session, actor):
        result = manage.portal(session, actor, settings())
    if as_json:
        output.print_json(billing_session_json(result))
        return
    _open(result.url, no_browser)


@app.command("sync")
def sync(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Apply every Stripe event since the last one seen (the daemon does this too).

    \b
    Example:
      autopostr billing sync
    """
    from autopostr.billing import events, manage
    from autopostr.billing.plans import enabled
    from autopostr.billing.stripe_api import NO_KEY
    from autopostr.cli import output
    from autopostr.cli.common import database, settings, signed_in
    from autopostr.errors import ConfigError
    from autopostr.views import billing_sync_json

    s = settings()
    with signed_in() as (_session, actor):
        manage.require_owner(actor)
    if not enabled(s):
        raise ConfigError(NO_KEY)
    data = billing_sync_json(events.sync(database(s), s))
    output.emit(data, as_json, None if quiet else _show_sync)


def _show_sync(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    output.success(
        f"{data['events']} events: {data['applied']} applied, {data['duplicates']} seen before, "
        f"{data['ignored']} about other customers, {data['unknown']} of types not handled"
    )


@app.command("webhook")
def webhook(
    listen: str = typer.Option(
        ..., "--listen", help="HOST:PORT to receive Stripe's webhooks on, e.g. 127.0.0.1:8787."
    ),
) -> None:
    """Receive Stripe's signed webhooks (checked with STRIPE_WEBHOOK_SECRET) until stopped.

    \b
    Example:
      STRIPE_WEBHOOK_SECRET=whsec_… autopostr billing webhook --listen 127.0.0.1:8787
    """
    import signal

    from autopostr.billing import manage
    from autopostr.billing.webhook import Listener, parse_listen
    from autopostr.cli import output
    from autopostr.cli.common import database, settings, signed_in

    host, port = parse_listen(listen)
    s = settings()
    with signed_in() as (_session, actor):
        manage.require_owner(actor)
    listener = Listener(database(s), s, host, port)
    bound_host, bound_port = listener.address
    output.info(f"Receiving Stripe webhooks on http://{bound_host}:{bound_port}/ (Ctrl-C stops)")

    def stop(_signum: int, _frame: Any) -> None:
        import threading

        threading.Thread(target=listener.server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    try:
        listener.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        listener.inbox.put(None)
        listener.worker.join(timeout=30)
        listener.server.server_close()
