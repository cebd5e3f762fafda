"""`autopostr logs`: the team's publish log, and `--follow` to watch it grow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from autopostr.cli import options
from autopostr.cli.common import database, signed_in, zone_for

if TYPE_CHECKING:
    from autopostr.publog import Follower

FOLLOW_POLL_SECONDS = 0.5


def logs(
    post: int | None = typer.Option(None, "--post", help="Only this post's entries."),
    account: str = typer.Option(
        "", "--account", help="Only this account's entries (id or platform:handle)."
    ),
    event: list[str] = typer.Option(
        [],
        "--event",
        help="Only this event (claimed, published, retrying, failed, needs_review, "
        "recovering, lease_lost); repeat for more.",
    ),
    since: str = typer.Option(
        "", "--since", help="Only the last 2h, 1d … or since a date or time (2026-12-01)."
    ),
    limit: int = options.limit_option(50, "entries (the most recent)"),
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing new entries as they arrive, until Ctrl-C."
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="A JSON array; with --follow, one JSON object per line (JSON Lines).",
    ),
) -> None:
    """Show the publish log of your team: claims, publishes, retries and failures, newest last.

    Each entry has id, at, event, post, destination, account, attempt, daemon
    and message. With --follow it keeps printing new entries (polling twice a
    second) until Ctrl-C; --follow --json prints JSON Lines, one object per
    entry, so `jq` can read the stream.

    \b
    Examples:
      autopostr logs --post 12
      autopostr logs --event failed --event needs_review --since 1d
      autopostr logs --follow --json | jq -c 'select(.event == "failed")'
    """
    from autopostr import publog
    from autopostr.cli import output
    from autopostr.models import utcnow
    from autopostr.views import log_entry_json

    events = options.many_of(event, publog.KNOWN_EVENTS, "--event")
    with signed_in() as (session, actor):
        zone_name = zone_for(session, actor, "")
        cutoff = options.since(since, zone_name, utcnow()) if since else None
        view = publog.read(
            session,
            actor,
            post_id=post,
            account=account or None,
            events=events,
            since=cutoff,
            limit=limit,
        )
        cut = len(view.entries) >= limit and not follow
        total = publog.count(session, view.team_id, view.filters) if cut else 0
    entries = [log_entry_json(e) for e in view.entries]
    _ZONE[0] = zone_name
    try:
        if not follow:
            output.emit(entries, as_json, _show)
            output.shown(options.shown(len(entries), total, "entries"))
            return
        # A follow is a stream: JSON Lines for scripts, one line per entry for people.
        output.emit_lines(entries, as_json, _line)
        _follow(publog.Follower(database(), view.team_id, view.filters, view.entries), as_json)
    except BrokenPipeError:
        _reader_went_away()


def _show(entries: list[dict[str, Any]]) -> None:
    from autopostr.cli import output

    for entry in entries:
        output.print_line(_line(entry))
    if not entries:
        output.info("No log entries. Publishing writes them: `autopostr daemon run`.")


_ZONE = ["UTC"]  # the zone lines are told in: the user's, set by the command


def _line(entry: dict[str, Any]) -> str:
    at = _local(entry["at"])
    where = f"post {entry['post']}" if entry["post"] is not None else "post -"
    parts = [at, f"{entry['event']:<12}", f"{where:<9}", entry["account"] or "-"]
    parts.append(f"#{entry['attempt']}")
    message = " ".join(entry["message"].split())
    if message:
        parts.append(message)
    if entry["daemon"]:
        parts.append(f"[{entry['daemon']}]")
    return "  ".join(parts)


def _local(value: str | None) -> str:
    """A log time in the user's zone, to the second, with its offset."""
    if not value:
        return "-"
    from datetime import datetime
    from zoneinfo import ZoneInfo

    moment = datetime.fromisoformat(value).astimezone(ZoneInfo(_ZONE[0]))
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M:%S}{offset[:3]}:{offset[3:]}"


def _follow(follower: Follower, as_json: bool) -> None:
    import time

    from autopostr.cli import output
    from autopostr.errors import DatabaseUnreachable
    from autopostr.views import log_entry_json

    lost = False
    try:
        while True:
            time.sleep(FOLLOW_POLL_SECONDS)
            try:
                entries = follower.poll()
            except DatabaseUnreachable as exc:
                # A database restart should not end a follow: say so once, keep trying.
                if not lost:
                    output.warn(f"{exc.message}; still trying")
                lost = True
                continue
            if lost:
                output.info("The database is back.")
                lost = False
            output.emit_lines([log_entry_json(e) for e in entries], as_json, _line)
    except KeyboardInterrupt:
        # Ctrl-C is how a follow ends: no traceback, no "Aborted!".
        raise typer.Exit() from None


def _reader_went_away() -> None:
    """`autopostr logs -f | head -3`: the reader has enough, which is not an error."""
    import os
    import sys

    # Python flushes stdout again at exit; point it at /dev/null so that flush is quiet.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    raise typer.Exit()


def register(app: typer.Typer) -> None:
    app.command("logs")(logs)
