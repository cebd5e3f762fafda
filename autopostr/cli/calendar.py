"""`autopostr calendar`: the week or month of scheduled posts, and moving a post in it."""

from __future__ import annotations

from typing import Any

import typer

from autopostr.cli import options
from autopostr.cli.common import JSON_OPTION, settings, signed_in
from autopostr.cli.posts import TZ_OPTION
from autopostr.states import PostState

app = typer.Typer()  # the help is the callback's docstring

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@app.callback(invoke_without_command=True)
def show(
    ctx: typer.Context,
    week: bool = typer.Option(False, "--week", help="Show one week, Monday to Sunday (default)."),
    month: bool = typer.Option(False, "--month", help="Show the month, as whole weeks."),
    start: str = typer.Option(
        "", "--from", help="A day in the week or month to show: a date or time (default: today)."
    ),
    tz: str = TZ_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show scheduled (and sent) posts on a week or month grid, in your time zone.

    With --json: {"from", "to", "timezone", "days": [{"date", "posts": [...]}]},
    `to` being the last day shown.

    \b
    Examples:
      autopostr calendar
      autopostr calendar --month --from 2026-12-01 --tz Europe/Berlin
    """
    if ctx.invoked_subcommand is not None:
        return
    from autopostr import calendar
    from autopostr.cli import output
    from autopostr.cli.common import zone_for
    from autopostr.errors import UsageError
    from autopostr.models import utcnow
    from autopostr.views import calendar_json

    if week and month:
        raise UsageError("give --week or --month, not both")
    with signed_in() as (session, actor):
        zone_name = zone_for(session, actor, tz)
        now = utcnow()
        day = (
            options.day(start, zone_name, now, "--from")
            if start
            else calendar.today(zone_name, now)
        )
        cal = calendar.build(session, actor, day, "month" if month else "week", zone_name)
        data = calendar_json(cal)
    output.emit(data, as_json, _render)


def _cell_lines(post: dict[str, Any]) -> list[str]:
    """A post in a day's cell: `#12 09:00` (the id `calendar move` takes), its accounts,
    the start of its text; each line is cut to the cell's width, never broken."""
    accounts = post["accounts"]
    who = accounts[0] + (f" +{len(accounts) - 1}" if len(accounts) > 1 else "") if accounts else ""
    marker = f" {post['status']}" if post["status"] != PostState.SCHEDULED else ""
    return [f"#{post['id']} {post['time']}{marker}", who, post["text"]]


def _render(data: dict[str, Any]) -> None:
    from datetime import date

    from autopostr.cli import output

    days = data["days"]
    weeks = [days[n : n + 7] for n in range(0, len(days), 7)]
    if data["view"] == "month":
        month = date.fromisoformat(data["month"] + "-01")
        title = f"{month:%B %Y} ({data['timezone']})"
        headers = list(WEEKDAYS)
    else:
        title = f"Week of {data['from']} to {data['to']} ({data['timezone']})"
        headers = [f"{name} {d['date'][5:]}" for name, d in zip(WEEKDAYS, days, strict=True)]
    rows = []
    for days_of_week in weeks:
        row = []
        for d in days_of_week:
            lines = [line for post in d["posts"] for line in _cell_lines(post)]
            if data["view"] == "month":
                lines.insert(0, f"{date.fromisoformat(d['date']):%d %b}")
            row.append(lines)
        rows.append(row)
    output.print_grid(headers, rows, title=title, labelled=data["view"] == "month")
    if not any(d["posts"] for d in days):
        output.info(f"No posts from {data['from']} to {data['to']}.")


@app.command("move")
def move(
    post_id: int = typer.Argument(..., help="Post id."),
    when: str = typer.Argument(..., help="2026-12-01T09:00, '2026-12-01 09:00', +2h …"),
    tz: str = TZ_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Move a post to WHEN; it is checked again as when it was scheduled.

    \b
    Example:
      autopostr calendar move 12 "2026-12-02 09:00" --tz Europe/Berlin
    """
    from autopostr import calendar, posts
    from autopostr.cli import output
    from autopostr.cli.common import when_for
    from autopostr.timeparse import zone
    from autopostr.views import post_json

    with signed_in() as (session, actor):
        moment, zone_name = when_for(when, session, actor, tz, "WHEN")
        post = calendar.move(session, actor, settings(), post_id, moment)
        data = post_json(posts.view(session, post))
    local = moment.astimezone(zone(zone_name))
    output.emit(
        data,
        as_json,
        lambda d: output.success(
            f"Post {d['id']} moved to {local:%a %Y-%m-%d %H:%M} ({zone_name})"
        ),
    )
