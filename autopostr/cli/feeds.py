"""`autopostr feeds`: RSS and Atom feeds whose new entries become posts."""

from __future__ import annotations

from typing import Any

import typer

from autopostr.cli.common import JSON_OPTION, YES_OPTION, confirm, settings, signed_in

app = typer.Typer(help="RSS/Atom autopost: every new entry becomes a post.", no_args_is_help=True)


def _render_feed(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    output.print_fields(
        [
            ("ID", data["id"]),
            ("URL", data["url"]),
            ("To", ", ".join(data["accounts"])),
            ("Template", data["template"]),
            ("Mode", data["mode"]),
            ("Every", f"{data['every_seconds']} s"),
            ("Checked", data["checked_at"] or "not yet"),
            ("Next check", data["next_check_at"]),
            ("Entries seen", data["seen"]),
            ("Last error", data["error"] or "none"),
        ]
    )


@app.command("add")
def add(
    url: str = typer.Argument(..., help="The feed's address."),
    to: list[str] = typer.Option([], "--to", help="Account to post to; repeat for more."),
    template: str = typer.Option(
        "{title} {link}",
        "--template",
        help="Post text: {title} {link} {summary} {author} {published} {feed}.",
    ),
    queue: bool = typer.Option(
        False, "--queue", help="Each entry takes the next free slot (default)."
    ),
    now: bool = typer.Option(False, "--now", help="Each entry is published at once."),
    draft: bool = typer.Option(False, "--draft", help="Each entry becomes a draft."),
    every: str = typer.Option("30m", "--every", help="How often to check, e.g. 30m, 2h."),
    backfill: int = typer.Option(
        0, "--backfill", min=0, help="Post the newest N entries already there (default: none)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Watch a feed: every new entry becomes a post, once.

    The first check marks what the feed holds as seen, unless --backfill N.

    \b
    Examples:
      autopostr feeds add https://example.com/blog.xml --to x:acme --template "New: {title} {link}"
      autopostr feeds add https://example.com/atom --to sandbox:demo --now --every 15m --backfill 3
    """
    from autopostr.cli import output
    from autopostr.errors import UsageError
    from autopostr.schedule import feeds
    from autopostr.timeparse import parse_duration
    from autopostr.views import feed_json

    if queue + now + draft > 1:
        raise UsageError("give one of --queue, --now, --draft")
    mode = "now" if now else "draft" if draft else "queue"
    with signed_in() as (session, actor):
        feed = feeds.add(
            session,
            actor,
            url,
            to,
            template=template,
            mode=mode,
            every=parse_duration(every, "--every"),
            backfill=backfill,
        )
        data = feed_json(feed, feeds.account_labels(session, feed), 0)
    output.emit(data, as_json, lambda d: output.success(f"Feed {d['id']} added: {d['url']}"))


@app.command("list")
def list_(
    limit: int = typer.Option(100, "--limit", "-n", min=1, help="At most this many feeds."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List the team's feeds.

    \b
    Example:
      autopostr feeds list --json
    """
    from autopostr.cli import output
    from autopostr.schedule import feeds
    from autopostr.views import feed_json

    with signed_in() as (session, actor):
        rows = [
            feed_json(f, feeds.account_labels(session, f)) for f in feeds.list_feeds(session, actor)
        ]
    if len(rows) > limit:
        output.info(f"Showing the first {limit} of {len(rows)} feeds (--limit).")
        rows = rows[:limit]
    output.emit(
        rows,
        as_json,
        lambda rs: output.print_table(
            [{**r, "accounts": ", ".join(r["accounts"]), "error": r["error"] or ""} for r in rs],
            [
                ("id", "ID"),
                ("url", "URL"),
                ("accounts", "To"),
                ("mode", "Mode"),
                ("checked_at", "Checked"),
                ("error", "Error"),
            ],
            empty="No feeds. Add one with `autopostr feeds add URL --to ACCOUNT`.",
        ),
    )


@app.command("show")
def show(
    feed: str = typer.Argument(..., help="The feed's id or URL."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a feed: where it posts, when it was checked, its last error.

    \b
    Example:
      autopostr feeds show https://example.com/blog.xml
    """
    from autopostr.cli import output
    from autopostr.schedule import feeds
    from autopostr.views import feed_json

    with signed_in() as (session, actor):
        row = feeds.get(session, actor, feed)
        data = feed_json(row, feeds.account_labels(session, row), feeds.seen_count(session, row))
    output.emit(data, as_json, _render_feed)


@app.command("rm")
def rm(
    feed: str = typer.Argument(..., help="The feed's id or URL."),
    yes: bool = YES_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Stop watching a feed (the posts it made stay).

    \b
    Example:
      autopostr feeds rm https://example.com/blog.xml --yes
    """
    from autopostr.cli import output
    from autopostr.schedule import feeds
    from autopostr.views import feed_json

    confirm(f"remove feed {feed}", yes)
    with signed_in() as (session, actor):
        row = feeds.remove(session, actor, feed)
        data = feed_json(row, [])
    output.emit(data, as_json, lambda d: output.success(f"Removed feed {d['id']}"))


@app.command("check")
def check(
    feed: str = typer.Argument(..., help="The feed's id or URL."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Fetch a feed now and print what would be posted; posts nothing.

    \b
    Example:
      autopostr feeds check https://example.com/blog.xml
    """
    from autopostr.cli import output
    from autopostr.cli.common import database
    from autopostr.errors import ExternalServiceError
    from autopostr.schedule import feeds
    from autopostr.views import feed_check_json

    with signed_in() as (session, actor):
        feed_id = feeds.get(session, actor, feed).id
    assert feed_id is not None
    result = feeds.check(database(), settings(), feed_id, dry_run=True)
    data = feed_check_json(result)

    def render(d: dict[str, Any]) -> None:
        if not d["new"]:
            output.info("Nothing new would be posted.")
        for entry in d["new"]:
            output.print_line(entry["text"])
        if d["marked_seen"]:
            output.info(f"{d['marked_seen']} entries would be marked seen (the first check).")

    output.emit(data, as_json, render)
    if result.error:
        raise ExternalServiceError(result.error)
