"""`autopostr analytics`: overview, one post, one account, best times, sync, export."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from typing import Any

import typer

from autopostr.cli import options
from autopostr.cli.common import JSON_OPTION, database, settings, signed_in, zone_for

app = typer.Typer(
    help="Metrics synced from the platforms: trends, best times, export.\n\n"
    "Example: autopostr analytics overview --days 7",
    no_args_is_help=True,
)

DAYS_OPTION = typer.Option(30, "--days", min=1, max=3650, help="Days the report covers.")
ACCOUNT_OPTION = typer.Option("", "--account", help="Only this account (id or platform:handle).")
PLATFORM_OPTION = typer.Option("", "--platform", help="Only this platform's accounts (x, …).")
METRIC_LABELS = {
    "impressions": "impressions",
    "reach": "reach",
    "likes": "likes",
    "comments": "comments",
    "shares": "shares",
    "clicks": "clicks",
    "saves": "saves",
    "video_views": "video views",
    "followers": "followers",
}


def freshness(fetched_at: str | None) -> str:
    """Every report says how old its numbers are."""
    if not fetched_at:
        return "No analytics yet: run `autopostr analytics sync` (the daemon syncs every 6 h)."
    moment = datetime.fromisoformat(fetched_at)
    minutes = int((datetime.now(UTC) - moment).total_seconds() // 60)
    if minutes < 1:
        age = "just now"
    elif minutes < 120:
        age = f"{minutes} min ago"
    elif minutes < 48 * 60:
        age = f"{minutes // 60} h ago"
    else:
        age = f"{minutes // (24 * 60)} days ago"
    return f"Data as of {moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({age})."


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:,}"


def _change(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.1f} %"


def overview(
    days: int = DAYS_OPTION,
    account: str = ACCOUNT_OPTION,
    platform: str = PLATFORM_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Totals of the last N days against the N before, per platform, top posts, and a
    chart per metric ("-" is a metric no platform in scope reports).

    Counters are what the period added; followers, how many at its end.
    With --json: {"from", "to", "fetched_at", "totals", "previous", "change",
    "by_platform", "top_posts", "daily"}.

    \b
    Example:
      autopostr analytics overview --days 7 --platform x
    """
    from autopostr.analytics import reports
    from autopostr.cli import output
    from autopostr.views import analytics_overview_json

    with signed_in() as (session, actor):
        scope = reports.scope_for(session, actor, account or None, platform or None)
        document = analytics_overview_json(reports.overview(session, scope, days=days))
    output.emit(document, as_json, _render_overview)


def _render_overview(data: dict[str, Any]) -> None:
    from autopostr.cli import charts, output

    output.info(f"Analytics {data['from']} – {data['to']}. {freshness(data['fetched_at'])}")
    rows = [
        {
            "metric": label,
            "now": _number(data["totals"][name]),
            "before": _number(data["previous"][name]),
            "change": _change(data["change"][name]),
        }
        for name, label in METRIC_LABELS.items()
    ]
    output.print_table(
        rows,
        [
            ("metric", "Metric"),
            ("now", "This period"),
            ("before", "Previous"),
            ("change", "Change"),
        ],
        title="Totals",
    )
    platforms = [
        {"platform": platform, **{k: _number(v) for k, v in values.items()}}
        for platform, values in data["by_platform"].items()
    ]
    output.print_table(
        platforms,
        [("platform", "Platform"), *((m, label) for m, label in METRIC_LABELS.items())],
        title="By platform",
        empty="No numbers in this period.",
    )
    top = [
        {**post, **{m: _number(post[m]) for m in METRIC_LABELS if m != "followers"}}
        for post in data["top_posts"]
    ]
    output.print_table(
        top,
        [
            ("post", "Post"),
            ("account", "Account"),
            ("engagement", "Engagement"),
            ("impressions", "Impressions"),
            ("likes", "Likes"),
            ("url", "URL"),
        ],
        title="Top posts",
        empty="No post gained anything in this period.",
    )
    if not data["daily"]:
        return
    if charts.charts_wanted():
        for chart in charts.daily_charts(data["daily"]):
            output.print_line(chart)
        return
    metrics = list(data["daily"])
    days = [point["day"] for point in next(iter(data["daily"].values()))]
    by_day = [
        {"day": day, **{m: _number(data["daily"][m][i]["value"]) for m in metrics}}
        for i, day in enumerate(days)
    ]
    output.print_table(
        by_day, [("day", "Day"), *((m, METRIC_LABELS[m]) for m in metrics)], title="By day"
    )


def post(
    post_id: int = typer.Argument(..., help="The post's id."),
    days: int = typer.Option(0, "--days", min=0, help="Only the last N days of history."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Each destination's latest numbers and their daily history.

    With --json: {"post", "fetched_at", "destinations": [{"id", "account", "metrics",
    "history": [{"day", metric…}], "fetched_at", "gone"}]}.

    \b
    Example:
      autopostr analytics post 12 --json | jq '.destinations[0].metrics.likes'
    """
    from autopostr.analytics import reports
    from autopostr.cli import output
    from autopostr.views import analytics_post_json

    with signed_in() as (session, actor):
        report = reports.post_report(session, actor, post_id, days or None)
        document = analytics_post_json(report)
    output.emit(document, as_json, _render_post)


def _render_post(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    output.info(f"Post {data['post']}. {freshness(data['fetched_at'])}")
    for dest in data["destinations"]:
        state = " (deleted on the platform: no longer asked)" if dest["gone"] else ""
        output.info(f"{dest['account']}{state} {dest['url'] or ''}".rstrip())
        metrics = [m for m in METRIC_LABELS if m != "followers"]
        output.print_table(
            [{"day": "latest", **{m: _number(dest["metrics"][m]) for m in metrics}}]
            + [
                {"day": h["day"], **{m: _number(h[m]) for m in metrics}}
                for h in reversed(dest["history"])
            ],
            [("day", "Day"), *((m, METRIC_LABELS[m]) for m in metrics)],
            empty="No numbers yet.",
        )


def account_report(
    name: str = typer.Argument(..., help="The account (id or platform:handle)."),
    days: int = DAYS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """An account's followers over time and the totals of its posts.

    With --json: {"account", "from", "to", "fetched_at", "followers",
    "followers_history", "posts", "totals", "gained"}.

    \b
    Example:
      autopostr analytics account x:acme --days 90
    """
    from autopostr.analytics import reports
    from autopostr.cli import output
    from autopostr.views import analytics_account_json

    with signed_in() as (session, actor):
        document = analytics_account_json(reports.account_report(session, actor, name, days))
    output.emit(document, as_json, _render_account)


def _render_account(data: dict[str, Any]) -> None:
    from autopostr.cli import charts, output

    output.info(
        f"{data['account']}, {data['from']} – {data['to']}. {freshness(data['fetched_at'])}"
    )
    output.print_fields(
        [
            ("Followers", _number(data["followers"])),
            ("Posts with numbers", data["posts"]),
            *(
                (
                    f"{METRIC_LABELS[m]} (all time / this period)",
                    f"{_number(v)} / {_number(data['gained'][m])}",
                )
                for m, v in data["totals"].items()
                if m != "followers"
            ),
        ]
    )
    history = [{"day": h["day"], "value": h["followers"]} for h in data["followers_history"]]
    if history and charts.charts_wanted():
        output.print_line(charts.daily_charts({"followers": history})[0])
    elif history:
        output.print_table(
            [{"day": h["day"], "followers": _number(h["value"])} for h in history],
            [("day", "Day"), ("followers", "Followers")],
        )


def best_times(
    account: str = ACCOUNT_OPTION,
    days: int = typer.Option(90, "--days", min=1, max=3650, help="Posts of the last N days."),
    tz: str = typer.Option("", "--tz", help="Hours in this zone (default: yours)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """When your own posts got the most engagement per impression: an hour × weekday
    heatmap and the best slots named (with a note when there is too little data).

    With --json: {"timezone", "posts", "heatmap": [[rate|null × 24] × 7], "counts",
    "top": [{"slot", "weekday", "hour", "rate", "posts"}], "note", "fetched_at"}.

    \b
    Example:
      autopostr analytics best-times --days 180 --tz Europe/Paris
    """
    from autopostr.analytics import reports
    from autopostr.cli import output
    from autopostr.views import best_times_json

    with signed_in() as (session, actor):
        scope = reports.scope_for(session, actor, account or None)
        zone_name = zone_for(session, actor, tz)
        document = best_times_json(reports.best_times(session, scope, zone_name, days=days))
    output.emit(
        document, as_json, _render_best_times, notes=[document["note"]] if document["note"] else []
    )


def _render_best_times(data: dict[str, Any]) -> None:
    from autopostr.cli import charts, output

    output.info(
        f"Engagement per impression of {data['posts']} post(s), {data['from']} – {data['to']}, "
        f"hours in {data['timezone']}. {freshness(data['fetched_at'])}"
    )
    for line in charts.heatmap_text(data["weekdays"], data["heatmap"], colour=False):
        output.print_line(line)
    output.print_table(
        [{**slot, "rate": f"{slot['rate'] * 100:.2f} %"} for slot in data["top"]],
        [("slot", "Best slots"), ("rate", "Engagement / impression"), ("posts", "Posts")],
        empty="No slot has enough posts to name yet.",
    )
    if data["note"]:
        output.warn(data["note"])


def sync(
    account: str = ACCOUNT_OPTION,
    since: str = typer.Option(
        "", "--since", help="Only posts published since a date (2026-12-01), a time or 7d."
    ),
    quiet: bool = options.quiet_option(),
    as_json: bool = JSON_OPTION,
) -> None:
    """Fetch the team's post and account numbers now (the daemon does it every 6 h).

    A rate-limited account waits for its reset while the others go on; an account
    that fails is named and the command exits 6 after the others are done.
    With --json: {"posts", "accounts", "gone", "paused", "failed", "errors", …}.

    \b
    Example:
      autopostr analytics sync --account x:acme --since 2026-11-01
    """
    from autopostr.analytics.sync import by_hand
    from autopostr.cli import output
    from autopostr.errors import PlatformsFailed
    from autopostr.views import analytics_sync_json

    s = settings()
    db = database(s)
    with signed_in() as (session, actor):
        zone_name = zone_for(session, actor, "")
    with output.open_progress("Syncing analytics", enabled=not quiet and not as_json) as bar:
        report = by_hand(
            db,
            s,
            actor,
            account=account or None,
            since=since or None,
            zone_name=zone_name,
            on_total=bar.total,
            on_progress=bar.advance,
        )
    document = analytics_sync_json(report)
    output.emit(document, as_json, None if quiet else _render_sync)
    if report.failed:
        raise PlatformsFailed()


def _render_sync(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    output.success(f"Synced {data['posts']} post(s) and {data['accounts']} account(s).")
    for gone in data["gone"]:
        output.info(f"Deleted on the platform, no longer asked: {gone}")
    for paused in data["paused"]:
        until = datetime.fromisoformat(paused["until"]).astimezone(UTC)
        output.warn(
            f"{paused['account']} is rate-limited until {until:%H:%M} UTC; asked again then"
        )
    for failed in data["failed"]:
        output.error(f"{failed['account']}: {failed['error']}")
    for error in data["errors"]:
        output.warn(error)


def export(
    fmt: str = typer.Option("csv", "--format", help="csv or json."),
    first: str = typer.Option("", "--from", help="First day (YYYY-MM-DD)."),
    last: str = typer.Option("", "--to", help="Last day (YYYY-MM-DD)."),
    by: str = typer.Option(
        "post",
        "--by",
        help="post: a row per post and day (running totals); account or day: what was "
        "gained that day, added up, with followers.",
    ),
    account: str = ACCOUNT_OPTION,
    platform: str = PLATFORM_OPTION,
) -> None:
    """Write the snapshots to stdout, streamed, oldest day first.

    Rows: day, post, destination, account, platform, <metrics>, fetched_at.

    \b
    Example:
      autopostr analytics export --format csv --from 2026-11-01 > analytics.csv
    """
    from autopostr.analytics import reports
    from autopostr.cli import output
    from autopostr.errors import UsageError

    if fmt not in ("csv", "json"):
        raise UsageError(f"--format: {fmt!r} is not csv or json")
    if by not in reports.EXPORT_BY:
        raise UsageError(f"--by: {by!r} is not one of {', '.join(reports.EXPORT_BY)}")
    bounds = [_date(first, "--from"), _date(last, "--to")]
    with signed_in() as (session, actor):
        scope = reports.scope_for(session, actor, account or None, platform or None)
        rows = reports.export_rows(session, scope, by, bounds[0], bounds[1])
        try:
            count, newest = _write(rows, fmt, reports.export_columns(by))
        except BrokenPipeError:  # `| head` has what it wanted
            _quiet_stdout()
            return
    output.info(f"{count} row(s). {freshness(newest)}")


def _write(rows: Any, fmt: str, columns: list[str]) -> tuple[int, str | None]:
    """Each row as it comes from the database: CSV, or a JSON array written piece by piece."""
    import csv
    import json

    count = 0
    newest: str | None = None
    writer = csv.DictWriter(sys.stdout, fieldnames=columns) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    else:
        sys.stdout.write("[")
    for row in rows:
        if writer is not None:
            writer.writerow(row)
        else:
            sys.stdout.write(("," if count else "") + "\n  " + json.dumps(row, ensure_ascii=False))
        count += 1
        newest = max(newest or "", row["fetched_at"] or "") or None
    if writer is None:
        sys.stdout.write("\n]\n" if count else "]\n")
    sys.stdout.flush()
    return count, newest


def _quiet_stdout() -> None:
    """After a closed pipe, nothing more may go to stdout (not even Python's flush at exit)."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _date(text: str, field: str) -> date | None:
    from autopostr.errors import UsageError

    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{field}: {text!r} is not a date (YYYY-MM-DD)") from None


app.command("overview")(overview)
app.command("post")(post)
app.command("account")(account_report)
app.command("best-times")(best_times)
app.command("sync")(sync)
app.command("export")(export)
