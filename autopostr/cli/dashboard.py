"""`autopostr dashboard`: the team's posts, failures, accounts and engagement at a glance."""

from __future__ import annotations

from typing import Any

import typer

from autopostr.cli.common import JSON_OPTION, signed_in, zone_for


def dashboard(as_json: bool = JSON_OPTION) -> None:
    """Show posts by state, the next posts due, recent failures, accounts and engagement.

    With --json: {"counts", "next_due", "failures", "accounts", "engagement"}; engagement
    is what the last 30 days added, as `analytics overview` counts it.

    \b
    Example:
      autopostr dashboard --json | jq '.counts.failed'
    """
    from autopostr import dashboard as dashboard_mod
    from autopostr.cli import output
    from autopostr.models import utcnow
    from autopostr.views import summary_json

    with signed_in() as (session, actor):
        zone_name = zone_for(session, actor, "")
        data = summary_json(dashboard_mod.summary(session, actor, utcnow()))
    output.emit(data, as_json, lambda data: _render(data, zone_name))


def _render(data: dict[str, Any], zone_name: str) -> None:
    from autopostr.cli import output

    if not data["accounts"]:
        # Nothing can be posted yet: say how to begin rather than show empty tables.
        output.info("No accounts yet.")
        output.first_steps()
        return
    when = f"When ({output.zone_label(zone_name)})"

    counts = data["counts"]
    output.print_table(
        [counts], [(state, state.replace("_", " ")) for state in counts], title="Posts"
    )
    due = [
        {
            **item,
            "accounts": ", ".join(item["accounts"]),
            "scheduled_at": output.local_time(item["scheduled_at"], zone_name, compact=True),
            "overdue": "overdue" if item["overdue"] else "",
        }
        for item in data["next_due"]
    ]
    output.print_table(
        due,
        [
            ("id", "ID"),
            ("scheduled_at", when),
            ("overdue", ""),
            ("accounts", "To"),
            ("text", "Text"),
        ],
        title="Next due",
        empty="Nothing scheduled.",
        squeeze=("accounts", "text"),
    )
    output.print_table(
        [
            {**f, "at": output.local_time(f["at"], zone_name, compact=True)}
            for f in data["failures"]
        ],
        [
            ("post", "Post"),
            ("account", "Account"),
            ("status", "Status"),
            ("at", when),
            ("error", "Error"),
        ],
        title="Recent failures",
        empty="No failures.",
        squeeze=("error",),
    )
    accounts = [{**a, "account": f"{a['platform']}:{a['handle']}"} for a in data["accounts"]]
    output.print_table(
        accounts,
        [("account", "Account"), ("status", "Status"), ("expires_at", "Token expires")],
        title="Accounts",
        empty="No accounts. Add one with `autopostr accounts add sandbox --handle demo`.",
    )
    from autopostr.cli.analytics import freshness

    engagement = {k: "-" if v is None else f"{v:,}" for k, v in data["engagement"].items()}
    period = data["engagement_period"]
    output.print_table(
        [engagement],
        [(key, key) for key in engagement],
        title=f"Engagement {period['from']} – {period['to']}",
    )
    output.info(freshness(period["fetched_at"]))


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
