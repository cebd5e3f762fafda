"""`autopostr queue`: each account's weekly posting slots, what fills them, and pauses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from autopostr.cli.common import JSON_OPTION, YES_OPTION, confirm, signed_in, zone_for

if TYPE_CHECKING:
    from datetime import datetime

    from sqlmodel import Session as DbSession

    from autopostr.identity import Actor

app = typer.Typer(help="Posting queues: weekly slots per account, pauses.", no_args_is_help=True)
slots_app = typer.Typer(help="An account's weekly posting slots.", no_args_is_help=True)
app.add_typer(slots_app, name="slots")


def _render_slots(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    output.print_fields(
        [
            ("Account", data["account"]),
            ("Zone", data["timezone"]),
            ("Slots", data["slots"]),
            ("Per week", data["per_week"]),
            ("Evergreen", ", ".join(data["evergreen"]) or "any category"),
        ]
    )


@slots_app.command("set")
def slots_set(
    account: str = typer.Argument(..., help="The account, e.g. x:acme."),
    spec: str = typer.Argument(..., help='Days and times, e.g. "mon-fri 09:00,13:00; sat 10:30".'),
    tz: str = typer.Option("", "--tz", help="The account's zone (default: yours)."),
    evergreen: list[str] = typer.Option(
        [], "--evergreen", help="Only this evergreen category fills empty slots; repeat."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Set an account's weekly slots, as wall-clock times in its zone.

    A slot stays at its local time across DST changes; one the clocks skip moves to
    the first instant after the gap, one they repeat takes its first occurrence.

    \b
    Examples:
      autopostr queue slots set x:acme "mon-fri 09:00,13:00; sat 10:30" --tz Europe/Berlin
      autopostr queue slots set sandbox:demo "daily 08:00,18:00"
    """
    from autopostr.cli import output
    from autopostr.schedule import queueing
    from autopostr.views import queue_slots_json

    with signed_in() as (session, actor):
        queue = queueing.set_slots(
            session, actor, account, spec, zone_for(session, actor, tz), evergreen
        )
        data = queue_slots_json(queue)
    output.emit(data, as_json, _render_slots)


@slots_app.command("show")
def slots_show(
    account: str = typer.Argument(..., help="The account, e.g. x:acme."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show an account's weekly slots and zone.

    \b
    Example:
      autopostr queue slots show x:acme --json
    """
    from autopostr.cli import output
    from autopostr.schedule import queueing
    from autopostr.views import queue_slots_json

    with signed_in() as (session, actor):
        data = queue_slots_json(queueing.show_slots(session, actor, account))
    output.emit(data, as_json, _render_slots)


def _render_upcoming(rows: list[dict[str, Any]]) -> None:
    from autopostr.cli import output

    table = [
        {
            "slot": r["slot"] or "",
            "local": r["local"][:16].replace("T", " "),
            "account": r["account"],
            "post": (
                "paused" + (f" ({r['pause_reason']})" if r["pause_reason"] else "")
                if r["paused"]
                else (r["post"] or "—")
            ),
            "text": ((r["text"] or "")[:40] + ("…" if len(r["text"] or "") > 40 else "")),
        }
        for r in rows
    ]
    output.print_table(
        table,
        [
            ("slot", "#"),
            ("local", "When (local)"),
            ("account", "Account"),
            ("post", "Post"),
            ("text", "Text"),
        ],
        empty="No slots in this period. Set some with `autopostr queue slots set ACCOUNT …`.",
    )


@app.command("show")
def show(
    account: str = typer.Argument("", help="Only this account (default: every queue)."),
    days: int = typer.Option(14, "--days", min=1, max=366, help="How many days ahead."),
    limit: int = typer.Option(500, "--limit", "-n", min=1, help="At most this many slots."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List the coming slots and what fills them.

    \b
    Examples:
      autopostr queue show x:acme
      autopostr queue show --days 7 --json
    """
    from autopostr.cli import output
    from autopostr.schedule import queueing
    from autopostr.views import slot_json

    with signed_in() as (session, actor):
        rows = [slot_json(r) for r in queueing.upcoming(session, actor, account or None, days)]
    if len(rows) > limit:
        output.info(f"Showing the first {limit} of {len(rows)} slots (--limit).")
        rows = rows[:limit]
    output.emit(rows, as_json, _render_upcoming)


@app.command("shuffle")
def shuffle(
    account: str = typer.Argument(..., help="The account whose queued posts to shuffle."),
    yes: bool = YES_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Shuffle the posts queued for an account among its taken slots.

    \b
    Example:
      autopostr queue shuffle x:acme --yes
    """
    from autopostr.cli import output
    from autopostr.schedule import queueing
    from autopostr.views import slot_json

    confirm(f"shuffle the queue of {account}", yes)
    with signed_in() as (session, actor):
        rows = [slot_json(r) for r in queueing.shuffle(session, actor, account)]
    output.emit(rows, as_json, _render_upcoming)


@app.command("move")
def move(
    post: int = typer.Argument(..., help="The queued post."),
    to_slot: int = typer.Option(..., "--to-slot", help="Slot number, as `queue show` lists it."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Move a queued post to another slot; a post already there takes its place.

    \b
    Example:
      autopostr queue move 42 --to-slot 1
    """
    from autopostr.cli import output
    from autopostr.schedule import queueing
    from autopostr.views import slot_json

    with signed_in() as (session, actor):
        data = slot_json(queueing.move(session, actor, post, to_slot))
    output.emit(
        data, as_json, lambda d: output.success(f"Post {post} is in slot {to_slot}: {d['local']}")
    )


def when_or_date(
    text: str,
    session: DbSession,
    actor: Actor,
    tz: str,
    zone_name: str | None,
    field: str,
    end: bool,
) -> datetime:
    """A WHEN, or a bare date (a whole day: --until DATE includes that day)."""
    import re
    from datetime import date, datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from autopostr.models import utcnow
    from autopostr.schedule.slots import to_instant
    from autopostr.timeparse import parse_when

    name = zone_for(session, actor, tz) if tz or not zone_name else zone_name
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        day = date.fromisoformat(text.strip()) + timedelta(days=1 if end else 0)
        return to_instant(datetime.combine(day, time()), ZoneInfo(name))
    return parse_when(text, name, utcnow(), field)


@app.command("pause")
def pause(
    account: str = typer.Argument("", help="The account to pause (or --all)."),
    every_account: bool = typer.Option(False, "--all", help="Pause every account of the team."),
    start: str = typer.Option(..., "--from", help="WHEN, or a date (from its start)."),
    end: str = typer.Option(..., "--until", help="WHEN, or a date (to its end)."),
    reason: str = typer.Option("", "--reason", help="Why, shown in `queue show`."),
    tz: str = typer.Option("", "--tz", help="Zone for times and dates (default: the account's)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Pause queues for a blackout window or holidays: no slot is filled and no
    recurring or evergreen post is placed inside, and nothing catches up afterwards.

    \b
    Examples:
      autopostr queue pause x:acme --from 2026-12-24 --until 2026-12-26 --reason holidays
      autopostr queue pause --all --from "2026-12-01 12:00" --until +2h
    """
    from autopostr import accounts as accounts_mod
    from autopostr.cli import output
    from autopostr.errors import UsageError
    from autopostr.permissions import require
    from autopostr.schedule import queueing
    from autopostr.views import pause_json

    if bool(account) == every_account:
        raise UsageError("name one ACCOUNT or give --all")
    with signed_in() as (session, actor):
        zone_name = None
        if account:
            found = accounts_mod.resolve(session, require(actor, "posts.write"), account)
            queue = queueing.queue_of(session, found)
            zone_name = queue.schedule.timezone if queue else None
        starts = when_or_date(start, session, actor, tz, zone_name, "--from", False)
        ends = when_or_date(end, session, actor, tz, zone_name, "--until", True)
        row, inside = queueing.add_pause(session, actor, account or None, starts, ends, reason)
        data = pause_json(row, account or None)
    for post_id in inside:
        output.warn(f"post {post_id} is scheduled inside this pause and will still go out")
    output.emit(
        data,
        as_json,
        lambda d: output.success(
            f"Paused {d['account'] or 'every account'} from {d['from']} until {d['until']} (pause {d['id']})"
        ),
    )


@app.command("pauses")
def pauses(
    limit: int = typer.Option(100, "--limit", "-n", min=1, help="At most this many pauses."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List the pauses that have not ended.

    \b
    Example:
      autopostr queue pauses --json
    """
    from autopostr.cli import output
    from autopostr.schedule import queueing
    from autopostr.views import pause_json

    with signed_in() as (session, actor):
        rows = [pause_json(p, label) for p, label in queueing.list_pauses(session, actor)]
    if len(rows) > limit:
        output.info(f"Showing the first {limit} of {len(rows)} pauses (--limit).")
        rows = rows[:limit]
    output.emit(
        rows,
        as_json,
        lambda rs: output.print_table(
            [{**r, "account": r["account"] or "all"} for r in rs],
            [
                ("id", "ID"),
                ("account", "Account"),
                ("from", "From"),
                ("until", "Until"),
                ("reason", "Reason"),
            ],
            empty="No pauses.",
        ),
    )


@app.command("unpause")
def unpause(
    pause_id: int = typer.Argument(..., help="The pause's id, from `queue pauses`."),
    yes: bool = YES_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """End a pause now (remove it). Slots it covered in the past stay empty.

    \b
    Example:
      autopostr queue unpause 3 --yes
    """
    from autopostr.cli import output
    from autopostr.schedule import queueing
    from autopostr.views import pause_json

    confirm(f"remove pause {pause_id}", yes)
    with signed_in() as (session, actor):
        data = pause_json(queueing.remove_pause(session, actor, pause_id), None)
    output.emit(data, as_json, lambda d: output.success(f"Removed pause {d['id']}"))
