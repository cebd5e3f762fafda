"""`autopostr posts`: write, schedule and publish posts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

import typer

from autopostr.cli import options
from autopostr.cli.common import (
    JSON_OPTION,
    YES_OPTION,
    confirm,
    settings,
    signed_in,
    when_for,
    zone_for,
)
from autopostr.states import DestinationState, PostState

if TYPE_CHECKING:
    from autopostr.csvio import ImportResult
    from autopostr.unpublishing import Unpublished

app = typer.Typer(help="Create, schedule, edit and publish posts.", no_args_is_help=True)

TZ_OPTION = typer.Option("", "--tz", help="Zone for times without an offset (default: yours).")
TEXT_OPTION = typer.Option(
    None, "--text", help="The post's text; a line with only --- starts a thread part."
)
TEXT_FILE_OPTION = typer.Option(
    None, "--text-file", help="Read the text from a file (- for stdin)."
)


def _read_text(text: str | None, text_file: str | None, *, required: bool) -> str | None:
    import sys
    from pathlib import Path

    from autopostr.errors import InvalidInput, UsageError

    if text is not None and text_file is not None:
        raise UsageError("give --text or --text-file, not both")
    if text is not None:
        return text
    if text_file is not None:
        if text_file == "-":
            return sys.stdin.read()
        try:
            return Path(text_file).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InvalidInput(f"--text-file: {text_file} does not exist") from None
        except UnicodeDecodeError:
            raise InvalidInput(f"--text-file: {text_file} is not UTF-8 text") from None
        except OSError as exc:
            raise InvalidInput(f"--text-file: cannot read {text_file}: {exc.strerror}") from None
    if required:
        if sys.stdin.isatty():
            raise UsageError("give the text with --text, --text-file or on stdin")
        return sys.stdin.read()
    return None


def _parse_variants(values: list[str]) -> dict[str, str]:
    from autopostr.errors import InvalidInput

    variants: dict[str, str] = {}
    for value in values:
        account, sep, text = value.partition("=")
        if not sep or not account.strip():
            raise InvalidInput(
                f"--variant {value!r}: use ACCOUNT=TEXT, e.g. x:acme='Short version'"
            )
        variants[account.strip()] = text
    return variants


def post_zone(data: dict[str, Any], user_zone: str | None = None) -> str:
    """The zone a post's time is shown in: its own, else the user's."""
    from autopostr.timeparse import default_zone_name

    return data.get("timezone") or user_zone or default_zone_name(settings().get("timezone"), None)


def destinations_cell(destinations: list[dict[str, Any]]) -> str:
    """Accounts of a post; a destination's state only where it says something (not
    the `pending` every unsent destination has)."""
    unsent = {DestinationState.PENDING, DestinationState.CLAIMED}
    return ", ".join(
        d["account"] if d["status"] in unsent else f"{d['account']} ({d['status']})"
        for d in destinations
    )


def _emit_post(data: dict[str, Any], as_json: bool, verb: str) -> None:
    """A post a command changed: the post document, or one line saying what it is now."""
    from autopostr.cli import output

    def render(data: dict[str, Any]) -> None:
        from autopostr.states import PostState

        targets = ", ".join(d["account"] for d in data["destinations"])
        if data["status"] == PostState.SCHEDULED:
            when = output.local_time(data["scheduled_at"], post_zone(data))
            output.success(f"Post {data['id']} {verb}, scheduled for {when}, to {targets}")
        else:
            output.success(f"Post {data['id']} {verb} ({data['status']}) to {targets}")

    output.emit(data, as_json, render)


@app.command("create")
def create(
    to: list[str] = typer.Option(
        [], "--to", help="Account to post to (id or platform:handle); repeat for more."
    ),
    text: str | None = TEXT_OPTION,
    text_file: str | None = TEXT_FILE_OPTION,
    at: str = typer.Option(
        "", "--at", help="When: 2026-12-01T09:00, '2026-12-01 09:00', +2h. Omit for a draft."
    ),
    tz: str = TZ_OPTION,
    media: list[str] = typer.Option(
        [],
        "--media",
        help="Media id, or a file to upload now (./123 for a file named like an id); repeat.",
    ),
    variant: list[str] = typer.Option(
        [], "--variant", help="ACCOUNT=TEXT: this account gets its own text."
    ),
    first_comment: str = typer.Option(
        "", "--first-comment", help="Comment posted right after the post."
    ),
    draft: bool = typer.Option(False, "--draft", help="Keep it as a draft even with --at."),
    quiet: bool = options.quiet_option(),
    queue: bool = typer.Option(
        False, "--queue", help="Take the next slot free on every account's queue at once."
    ),
    queue_each: bool = typer.Option(
        False, "--queue-each", help="Take each account's own next free slot."
    ),
    every: str = typer.Option(
        "", "--every", help="Repeat: 1w, 2d, 12h, 1m (a month), 1y; from --at (default now)."
    ),
    rrule: str = typer.Option(
        "", "--rrule", help='Repeat by an RFC 5545 rule, e.g. "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=9".'
    ),
    cron: str = typer.Option("", "--cron", help='Repeat by a cron expression, e.g. "0 9 * * MON".'),
    until: str = typer.Option("", "--until", help="A repeat ends after this date or WHEN."),
    count: int | None = typer.Option(None, "--count", min=1, help="A repeat makes N posts."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a post for one or more accounts; with --at it is scheduled, with --queue
    it takes the next free slot, with --every/--rrule/--cron it repeats (each
    occurrence its own post in a series, made ahead by the daemon).

    \b
    Examples:
      autopostr posts create --to sandbox:demo --text "Hello" --at +1h
      autopostr posts create --to x:acme --to bluesky:acme --text-file post.md --at "2026-12-01 09:00" --tz Europe/Berlin
      echo "From a pipe" | autopostr posts create --to sandbox:demo --draft
      autopostr posts create --to sandbox:demo --text "New logo" --media logo.png --media 7
      autopostr posts create --to x:acme --text "Tip of the day" --queue
      autopostr posts create --to x:acme --text "Weekly digest" --every 1w --at "2026-12-07 09:00" --count 10
      autopostr posts create --to x:acme --text "Standup" --cron "0 9 * * MON-FRI" --tz Europe/Berlin
    """
    from autopostr import posts
    from autopostr.cli import output
    from autopostr.errors import UsageError
    from autopostr.views import post_json

    rules = [(k, v) for k, v in (("every", every), ("rrule", rrule), ("cron", cron)) if v]
    if len(rules) > 1 or (rules and (queue or queue_each)):
        raise UsageError("give one of --queue, --queue-each, --every, --rrule, --cron")
    if (queue or queue_each) and (at or draft):
        raise UsageError("--queue takes the next free slot: leave out --at and --draft")
    if (until or count) and not rules:
        raise UsageError("--until and --count end a repeat: add --every, --rrule or --cron")
    body = _read_text(text, text_file, required=True) or ""
    fields: dict[str, Any] = {
        "text": body,
        "to": to,
        "variants": _parse_variants(variant),
        "first_comment": first_comment,
        "media_ids": media,
    }
    with signed_in() as (session, actor):
        if queue or queue_each:
            from autopostr.schedule.queueing import create_queued

            post = create_queued(session, actor, settings(), each=queue_each, **fields)
        elif rules:
            post = _create_series(session, actor, rules[0], at, tz, until, count, draft, fields)
        else:
            when, zone_name = when_for(at, session, actor, tz, "--at") if at else (None, None)
            post = posts.create(
                session, actor, settings(), at=when, timezone=zone_name, draft=draft, **fields
            )
        data = post_json(posts.view(session, post))
        for warning in _pause_warnings(session, post):
            output.warn(warning)
    _emit_post(data, as_json, "created")


def _create_series(
    session: Any,
    actor: Any,
    rule: tuple[str, str],
    at: str,
    tz: str,
    until: str,
    count: int | None,
    draft: bool,
    fields: dict[str, Any],
) -> Any:
    from datetime import timedelta

    from autopostr.cli.common import zone_for
    from autopostr.cli.queue import when_or_date
    from autopostr.errors import UsageError
    from autopostr.models import utcnow
    from autopostr.schedule import series

    if draft:
        raise UsageError("a repeat makes scheduled posts: leave out --draft")
    zone_name = zone_for(session, actor, tz)
    # Without --at the repeat starts at the next whole minute.
    start = (
        when_for(at, session, actor, tz, "--at")[0]
        if at
        else utcnow().replace(second=0, microsecond=0) + timedelta(minutes=1)
    )
    end = when_or_date(until, session, actor, tz, zone_name, "--until", True) if until else None
    _series, post = series.create(
        session,
        actor,
        settings(),
        kind=rule[0],
        expr=rule[1],
        zone=zone_name,
        start=start,
        until=end,
        count=count,
        **fields,
    )
    return post


def _pause_warnings(session: Any, post: Any) -> list[str]:
    """A post scheduled by hand inside a pause goes out; say so at create time."""
    from autopostr import posts
    from autopostr.schedule.queueing import pauses_covering

    if post.scheduled_at is None:
        return []
    dests = posts.destinations_of(session, post.id)
    found = pauses_covering(
        session, post.team_id, [d.account_id for d, _a in dests], post.scheduled_at
    )
    return [
        f"post {post.id} is scheduled inside a pause ({w.reason or 'no reason given'}, "
        f"until {w.end.isoformat()}); it will still go out"
        for w in found
    ]


def _render_list(rows: list[dict[str, Any]], zone_name: str) -> None:
    from autopostr.cli import output

    table = [
        {
            "id": r["id"],
            "status": r["status"],
            "scheduled_at": output.local_time(r["scheduled_at"], zone_name, compact=True),
            "to": destinations_cell(r["destinations"]),
            "text": " ".join(r["text"].split()),
        }
        for r in rows
    ]
    output.print_table(
        table,
        [
            ("id", "ID"),
            ("status", "Status"),
            ("scheduled_at", f"When ({output.zone_label(zone_name)})"),
            ("to", "To"),
            ("text", "Text"),
        ],
        empty="No posts. Create one with `autopostr posts create --to ACCOUNT --text …`.",
        squeeze=("to", "text"),
    )


@app.command("list")
def list_(
    status: list[str] = typer.Option(
        [], "--status", help="Only posts in this state, e.g. scheduled or failed; repeat."
    ),
    to: str = typer.Option("", "--to", "--account", help="Only posts to this account."),
    start: str = typer.Option(
        "", "--from", help="Scheduled at or after this time or date (2026-12-01)."
    ),
    until: str = typer.Option("", "--until", help="Scheduled before this time or date."),
    limit: int = options.limit_option(100, "posts"),
    tz: str = TZ_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List posts, soonest first; says how many there are when -n/--limit cuts the list.

    Times are shown in your zone (--tz), the zone named in the header.

    \b
    Examples:
      autopostr posts list --status scheduled
      autopostr posts list --to x:acme --from 2026-12-01 --until 2026-12-08 --json
    """
    from autopostr import posts
    from autopostr.cli import output
    from autopostr.models import utcnow
    from autopostr.views import post_json

    with signed_in() as (session, actor):
        zone_name = zone_for(session, actor, tz)
        now = utcnow()
        if to and options.looks_like_time(to) and not until:
            # `--to TIME` was the upper bound before `--to` named an account everywhere.
            output.warn(f"--to {to}: --to names an account; read as --until {to}")
            to, until = "", to
        filters = posts.PostFilter(
            status=options.many_of(status, PostState, "--status") or None,
            account=to or None,
            start=options.moment(start, zone_name, now, "--from") if start else None,
            end=options.moment(until, zone_name, now, "--until") if until else None,
            limit=limit,
        )
        views = posts.list_posts(session, actor, filters)
        total = posts.count_posts(session, actor, filters) if len(views) >= limit else 0
        rows = [post_json(v) for v in views]
    output.emit(rows, as_json, lambda rows: _render_list(rows, zone_name))
    output.shown(options.shown(len(rows), total, "posts"))


@app.command("show")
def show(post_id: int = typer.Argument(..., help="Post id."), as_json: bool = JSON_OPTION) -> None:
    """Show a post with each destination's state, remote id and last error.

    \b
    Example:
      autopostr posts show 12 --json | jq '.destinations[].url'
    """
    from autopostr import posts
    from autopostr.cli import output
    from autopostr.views import post_json

    with signed_in() as (session, actor):
        data = post_json(posts.show(session, actor, post_id))
    output.emit(data, as_json, _show_post)


def _show_post(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    output.print_fields(
        [
            ("id", data["id"]),
            ("status", data["status"]),
            ("scheduled at", output.local_time(data["scheduled_at"], post_zone(data))),
            ("author", data["author"]),
            ("text", data["text"]),
            ("first comment", data["first_comment"]),
            ("media", ", ".join(m["filename"] for m in data["media"]) or None),
        ]
    )
    from autopostr.timeparse import describe_duration

    output.print_table(
        [
            {**d, "late": describe_duration(d["late_seconds"]) if d["late_seconds"] else None}
            for d in data["destinations"]
        ],
        [
            ("id", "Dest"),
            ("account", "Account"),
            ("status", "Status"),
            ("attempts", "Tries"),
            ("late", "Late"),
            ("url", "URL"),
            ("error", "Error"),
        ],
    )


@app.command("edit")
def edit(
    post_id: int = typer.Argument(..., help="Post id."),
    text: str | None = TEXT_OPTION,
    text_file: str | None = TEXT_FILE_OPTION,
    at: str = typer.Option("", "--at", help="New time."),
    tz: str = TZ_OPTION,
    first_comment: str | None = typer.Option(
        None, "--first-comment", help="New first comment ('' removes it)."
    ),
    variant: list[str] = typer.Option(
        [], "--variant", help="ACCOUNT=TEXT ('ACCOUNT=' removes it)."
    ),
    add_to: list[str] = typer.Option([], "--add-to", help="Also post to this account."),
    remove_from: list[str] = typer.Option(
        [], "--remove-from", help="No longer post to this account."
    ),
    add_media: list[str] = typer.Option(
        [], "--add-media", help="Attach a media id, or a file to upload now; repeat."
    ),
    remove_media: list[str] = typer.Option(
        [], "--remove-media", help="Detach this media id (it stays in the library)."
    ),
    quiet: bool = options.quiet_option(),
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a post that has not gone out yet; it is validated again.

    \b
    Examples:
      autopostr posts edit 12 --text "Fixed typo" --add-to bluesky:acme
      autopostr posts edit 12 --remove-media 7 --add-media clip.mp4
    """
    from autopostr import posts
    from autopostr.views import post_json

    body = _read_text(text, text_file, required=False)
    with signed_in() as (session, actor):
        when = when_for(at, session, actor, tz, "--at")[0] if at else None
        post = posts.edit(
            session,
            actor,
            settings(),
            post_id,
            text=body,
            at=when,
            first_comment=first_comment,
            variants=_parse_variants(variant),
            add_to=add_to,
            remove_from=remove_from,
            add_media=add_media,
            remove_media=remove_media,
        )
        data = post_json(posts.view(session, post))
    _emit_post(data, as_json, "updated")


@app.command("delete")
def delete(
    post_id: int = typer.Argument(..., help="Post id."),
    unpublish: bool = typer.Option(
        False,
        "--unpublish",
        help="First take it down from the platforms it went out to (as `posts unpublish`).",
    ),
    yes: bool = YES_OPTION,
) -> None:
    """Delete a post from autopostr; what went out stays on the platforms unless --unpublish.

    Asks first in a terminal (and, for a published post, whether to take it down
    first); elsewhere it needs --yes.

    \b
    Examples:
      autopostr posts delete 12 --yes
      autopostr posts delete 12 --unpublish --yes
    """
    from autopostr import posts
    from autopostr.cli import output
    from autopostr.cli.common import ask
    from autopostr.views import post_json, unpublished_json

    with signed_in() as (session, actor):
        found = post_json(posts.to_delete(session, actor, post_id))
    live = [
        d["account"] for d in found["destinations"] if d["status"] == DestinationState.PUBLISHED
    ]
    names = ", ".join(live)
    details = [_summary(found)]
    action = f"delete post {post_id}"
    if live and not unpublish:
        takedown = f"`autopostr posts unpublish {post_id}`"
        details.append(f"It is live on {names}: deleting it here leaves it there.")
        if not yes:
            unpublish = ask(f"Take it down from {names} first, as {takedown} does?")
        if not unpublish:
            action += f" (it stays live on {names}: add --unpublish, or run {takedown} first)"
    confirm(action, yes, details, question=f"Delete post {post_id}?")
    if unpublish and live:
        result = _unpublish(post_id, "")
        _show_takedowns(unpublished_json(result))
        if not result.gone:
            from autopostr.errors import Conflict

            raise Conflict(
                f"post {post_id} was kept, as it is still on a platform: take it down there, "
                f"or delete only the record with `autopostr posts delete {post_id} --yes`"
            )
    with signed_in() as (session, actor):
        posts.delete(session, actor, post_id)
    output.success(f"Post {post_id} deleted")
    if live and not unpublish:
        output.warn(
            f"what went out to {names} stays online: `posts delete --unpublish` (or "
            "`posts unpublish` first) takes a post down before deleting it"
        )


@app.command("unpublish")
def unpublish(
    post_id: int = typer.Argument(..., help="Post id."),
    account: str = typer.Option(
        "", "--account", help="Only from this account (id or platform:handle)."
    ),
    yes: bool = YES_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Take a published post down from the platforms; autopostr keeps its record and log.

    Each destination becomes `deleted` or says why not (exit 5: the platform has
    no delete; exit 6: the call failed). Asks first in a terminal; elsewhere it
    needs --yes.

    \b
    Examples:
      autopostr posts unpublish 12
      autopostr posts unpublish 12 --account x:acme --yes --json
    """
    from autopostr import posts, unpublishing
    from autopostr.cli import output
    from autopostr.platforms.base import raise_for_results
    from autopostr.views import post_json, unpublished_json

    with signed_in() as (session, actor):
        chosen = unpublishing.targets(session, actor, post_id, account or None)
        summary = _summary(post_json(posts.show(session, actor, post_id)))
    if chosen:
        details = [summary, *(f"  {t.account}: {t.url or t.remote_id}" for t in chosen)]
        where = ", ".join(t.account for t in chosen)
        confirm(f"take post {post_id} down from {where}", yes, details)
    result = _unpublish(post_id, account)

    def render(data: dict[str, Any]) -> None:
        _show_takedowns(data)
        if not chosen:
            output.info(f"Post {post_id} is already taken down everywhere it went out.")

    output.emit(unpublished_json(result), as_json, render)
    outcomes = {t.outcome for t in result.takedowns}
    raise_for_results(
        failed=unpublishing.FAILED in outcomes,
        unsupported=unpublishing.NOT_SUPPORTED in outcomes,
    )


def _unpublish(post_id: int, account: str) -> Unpublished:
    from autopostr import unpublishing
    from autopostr.cli.common import database

    s = settings()
    with signed_in() as (_session, actor):
        pass  # who is asking, checked again; the calls run outside any transaction
    return unpublishing.unpublish(database(s), s, actor, post_id, account or None)


def _show_takedowns(data: dict[str, Any]) -> None:
    from autopostr import unpublishing
    from autopostr.cli import output

    for dest in data["destinations"]:
        where = dest["url"] or dest["remote_id"]
        if dest["outcome"] == unpublishing.TAKEN_DOWN:
            output.success(f"{dest['account']}: taken down ({where})")
        elif dest["outcome"] == unpublishing.ALREADY_GONE:
            output.success(f"{dest['account']}: already gone from the platform; marked deleted")
        else:
            output.warn(f"{dest['account']}: still published: {dest['error']}")


def _summary(data: dict[str, Any]) -> str:
    """One line that tells a person which post this is, before it goes."""
    text = " ".join(data["text"].split())
    text = text[:60] + "…" if len(text) > 60 else text
    from autopostr.cli import output

    when = f" for {output.local_time(data['scheduled_at'], post_zone(data))}"
    when = when if data["scheduled_at"] else ""
    targets = destinations_cell(data["destinations"])
    return f"Post {data['id']} ({data['status']}{when}) to {targets}: {text!r}"


@app.command("schedule")
def schedule(
    post_id: int = typer.Argument(..., help="Post id."),
    when: str = typer.Argument(..., help="2026-12-01T09:00, '2026-12-01 09:00', +2h …"),
    tz: str = TZ_OPTION,
    quiet: bool = options.quiet_option(),
    as_json: bool = JSON_OPTION,
) -> None:
    """Schedule a draft (or move a scheduled post) to WHEN.

    \b
    Example:
      autopostr posts schedule 12 "2026-12-01 09:00" --tz Europe/Berlin
    """
    from autopostr import posts
    from autopostr.views import post_json

    with signed_in() as (session, actor):
        moment = when_for(when, session, actor, tz, "WHEN")[0]
        post = posts.schedule(session, actor, settings(), post_id, moment)
        data = post_json(posts.view(session, post))
    _emit_post(data, as_json, PostState.SCHEDULED)


@app.command("unschedule")
def unschedule(
    post_id: int = typer.Argument(..., help="Post id."), as_json: bool = JSON_OPTION
) -> None:
    """Turn a scheduled post back into a draft.

    \b
    Example:
      autopostr posts unschedule 12
    """
    from autopostr import posts
    from autopostr.views import post_json

    with signed_in() as (session, actor):
        post = posts.unschedule(session, actor, post_id)
        data = post_json(posts.view(session, post))
    _emit_post(data, as_json, "unscheduled")


def _publish_and_report(post_id: int, as_json: bool) -> None:
    from autopostr import posts
    from autopostr.cli import output
    from autopostr.cli.common import database
    from autopostr.platforms.base import raise_for_results
    from autopostr.publishing import publish_due
    from autopostr.states import UNSUCCESSFUL_POSTS, DestinationState
    from autopostr.views import outcome_json, post_json

    s = settings()
    outcomes = [outcome_json(o) for o in publish_due(database(s), s, post_id=post_id)]
    with signed_in() as (session, actor):
        data = post_json(posts.show(session, actor, post_id))

    def render(data: dict[str, Any]) -> None:
        for outcome in outcomes:
            if outcome["status"] == DestinationState.PUBLISHED:
                where = outcome["url"] or outcome["remote_id"]
                output.success(f"{outcome['account']}: published {where}")
            else:
                output.warn(
                    f"{outcome['account']}: {outcome['status']}: {outcome['error']}",
                    even_quiet=True,
                )
        if not outcomes and database(s).tokens_hidden():
            output.info(
                f"Post {data['id']} is due now: the daemons publish it (this connection's "
                "database role leaves publishing to them); `autopostr posts show "
                f"{data['id']}` tells the outcome"
            )
            return
        output.info(f"Post {data['id']} is {data['status']}")

    output.emit(data, as_json, render)
    raise_for_results(failed=data["status"] in UNSUCCESSFUL_POSTS)


@app.command("publish")
def publish(
    quiet: bool = options.quiet_option(),
    post_id: int = typer.Argument(..., help="Post id."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Publish a post now, through the same path the daemon uses.

    Exits 6 when a platform refused it.

    \b
    Example:
      autopostr posts publish 12
    """
    from autopostr import posts

    with signed_in() as (session, actor):
        posts.make_due_now(session, actor, settings(), post_id)
    _publish_and_report(post_id, as_json)


@app.command("retry")
def retry(
    post_id: int = typer.Argument(..., help="Post id."),
    quiet: bool = options.quiet_option(),
    as_json: bool = JSON_OPTION,
) -> None:
    """Send a post's failed or unconfirmed destinations again, now.

    \b
    Example:
      autopostr posts retry 12
    """
    from autopostr import posts

    with signed_in() as (session, actor):
        posts.retry(session, actor, post_id)
    _publish_and_report(post_id, as_json)


@app.command("import")
def import_(
    file: str = typer.Argument(..., help="CSV (or JSON) file; - reads stdin."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Validate and show what would be created; write nothing."
    ),
    tz: str = TZ_OPTION,
    include_deleted: bool = typer.Option(
        False,
        "--include-deleted",
        help="Also re-create rows whose posts were deleted since (restoring a backup).",
    ),
    date_format: str = typer.Option(
        "",
        "--date-format",
        help="How the at column writes times, e.g. '%m/%d/%Y %H:%M', '%d.%m.%Y %H:%M' "
        "or '%m/%d/%Y %I:%M %p' (default: ISO 8601).",
    ),
    quiet: bool = options.quiet_option(),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import posts from CSV: all rows or none; re-importing the same file adds nothing.

    Columns: text, accounts (;-separated), at, timezone, media, first_comment,
    status (draft|scheduled), external_id, variants ({"x:acme": "its own text"}).
    Only text and accounts are required. The separator may be , or ; (as German
    and French spreadsheets save) or a tab. Rows that went out (published, failed:
    an export's history) are skipped with the reason.
    A row imported before is skipped whatever happened since: its time passed, its
    post was edited, or deleted (deletions stick unless --include-deleted).

    \b
    Examples:
      autopostr posts import week.csv --dry-run
      autopostr posts import week.csv --tz Europe/Berlin --json
      autopostr posts import excel.csv --date-format '%d.%m.%Y %H:%M' --dry-run
    """
    from pathlib import Path

    from autopostr import csvio
    from autopostr.cli import output
    from autopostr.views import import_json, import_rejected_json

    raw, source = csvio.read_source(file)
    rows = csvio.read_rows(raw, source)
    with output.progress(
        f"Checking {source}", total=len(rows), enabled=len(rows) >= 1000
    ) as advance:
        try:
            with signed_in() as (session, actor):
                result = csvio.import_rows(
                    session,
                    actor,
                    settings(),
                    rows,
                    source=source,
                    default_tz=zone_for(session, actor, tz),
                    dry_run=dry_run,
                    progress=advance,
                    base_dir=None if file == "-" else Path(file).resolve().parent,
                    include_deleted=include_deleted,
                    date_format=date_format or None,
                )
        except csvio.ImportRejected as exc:
            for error in exc.errors:
                output.info(f"{source}: {error}")
            output.emit(import_rejected_json(exc.errors), as_json)  # people have read it above
            raise
    output.emit(
        import_json(result),
        as_json,
        lambda _data: _report_import(result, source),
        notes=result.warnings,
    )


def _report_import(result: ImportResult, source: str) -> None:
    from autopostr.cli import output

    for warning in result.warnings:
        output.warn(warning)
    if result.dry_run:
        for planned in result.planned:
            zone_name = planned.timezone or "UTC"
            when = output.local_time(planned.at.isoformat(), zone_name) if planned.at else "draft"
            accounts = ", ".join(planned.accounts)
            output.print_line(f"line {planned.line}: {planned.status} {when} → {accounts}")
        for row in result.skipped_rows:
            output.info(f"{source}: {row}")
    verb = "would create" if result.dry_run else "created"
    held = f" ({result.pending_approval} pending approval)" if result.pending_approval else ""
    reasons = ", ".join(f"{n} {why}" for why, n in result.skipped_by_reason().items())
    skipped = f", skipped {result.skipped}: {reasons}" if result.skipped else ""
    output.success(f"{source}: {verb} {result.created} post(s){held}{skipped}")


@app.command("export")
def export(
    fmt: str = typer.Option("csv", "--format", help="csv or json."),
    status: list[str] = typer.Option(
        [], "--status", help="Posts in this state (default: draft and scheduled); repeat."
    ),
    output_file: str = typer.Option("-", "--output", "-o", help="File to write (default: stdout)."),
    excel: bool = typer.Option(
        False,
        "--excel",
        help="Start the CSV with a byte-order mark, so Excel reads it as UTF-8 (☕, —).",
    ),
    quiet: bool = options.quiet_option(),
) -> None:
    """Export posts in the import format, so the file imports back unchanged.

    Written as it is read, a batch of posts at a time: memory stays flat however
    many posts there are. `at` is in each post's own zone (the timezone column),
    per-account texts are in the variants column; exported history (published,
    failed) is skipped with its reason when imported back.

    \b
    Examples:
      autopostr posts export > backup.csv
      autopostr posts export --format json --status published -o published.json
      autopostr posts export --excel -o posts.csv
    """
    from autopostr import csvio
    from autopostr.cli import output

    fmt = options.one_of(fmt, options.FORMATS, "--format")
    statuses = options.many_of(status, PostState, "--status")
    with signed_in() as (session, actor), _export_target(output_file) as out:
        if excel and fmt == "csv":
            out.write("\ufeff")
        rows = csvio.export_rows(session, actor, statuses or None)
        count = (csvio.write_json if fmt == "json" else csvio.write_csv)(rows, out)
    if output_file != "-":
        output.success(f"{count:,} post(s) exported to {output_file}")


@contextmanager
def _export_target(path: str) -> Iterator[IO[str]]:
    """Stdout, or a file written beside its final name and moved there when complete,
    so a failed export never leaves half a backup behind."""
    import sys

    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    from autopostr.access import streamed_output

    with streamed_output(path) as handle:
        yield handle


RECONCILED: dict[str, str] = {
    DestinationState.PUBLISHED: "published (the platform has it)",
    DestinationState.PENDING: "will be sent again (the platform never got it)",
    DestinationState.NEEDS_REVIEW: "still needs review (the platform cannot tell)",
}


@app.command("reconcile")
def reconcile(quiet: bool = options.quiet_option(), as_json: bool = JSON_OPTION) -> None:
    """Ask the platforms about destinations that need review, and resolve them.

    A destination needs review when its publisher died mid-call. Those the
    platform has are marked published; those it never got are sent again by
    the daemon; the rest stay for you to check (then `autopostr posts retry`).
    With --json: [{"destination", "post", "account", "status"}], status one of
    published, pending or needs_review.

    \b
    Example:
      autopostr posts reconcile --json
    """
    from autopostr.cli import output
    from autopostr.cli.common import database
    from autopostr.permissions import require
    from autopostr.publishing import reconcile as reconcile_team
    from autopostr.views import reconciled_json

    s = settings()
    with signed_in() as (_session, actor):
        team_id = require(actor, "posts.write")
    rows = [reconciled_json(r) for r in reconcile_team(database(s), s, team_id)]
    output.emit(rows, as_json, _show_reconciled)


def _show_reconciled(rows: list[dict[str, str]]) -> None:
    from autopostr.cli import output

    if not rows:
        output.info("Nothing needs review.")
    for row in rows:
        what = RECONCILED.get(row["status"], row["status"])
        line = f"post {row['post']} → {row['account']}: {what}"
        if row["status"] == DestinationState.NEEDS_REVIEW:
            output.warn(f"{line}; check it, then `autopostr posts retry {row['post']}`")
        else:
            output.success(line)


@app.command("submit")
def submit(
    post_id: int = typer.Argument(..., help="Post id."), as_json: bool = JSON_OPTION
) -> None:
    """Submit a draft for an owner's approval (teams that require approval).

    \b
    Example:
      autopostr posts submit 12
    """
    from autopostr import posts
    from autopostr.views import post_json

    with signed_in() as (session, actor):
        post = posts.submit(session, actor, post_id)
        data = post_json(posts.view(session, post))
    _emit_post(data, as_json, "submitted for approval")


@app.command("approve")
def approve(
    post_id: int = typer.Argument(..., help="Post id."),
    comment: str = typer.Option("", "--comment", help="A note for the author."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Approve a post (owners); with a time it is scheduled at once.

    \b
    Example:
      autopostr posts list --status pending_approval && autopostr posts approve 12 --comment "Nice"
    """
    from autopostr import posts
    from autopostr.views import post_json

    with signed_in() as (session, actor):
        post = posts.approve(session, actor, post_id, comment, settings())
        data = post_json(posts.view(session, post))
    _emit_post(data, as_json, PostState.APPROVED)


@app.command("reject")
def reject(
    post_id: int = typer.Argument(..., help="Post id."),
    comment: str = typer.Option(..., "--comment", help="What to change; shown to the author."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Send a post back to draft with a comment (owners).

    \b
    Example:
      autopostr posts reject 12 --comment "Link is broken"
    """
    from autopostr import posts
    from autopostr.views import post_json

    with signed_in() as (session, actor):
        post = posts.reject(session, actor, post_id, comment)
        data = post_json(posts.view(session, post))
    _emit_post(data, as_json, "sent back to draft")


series_app = typer.Typer(help="Recurring posts: list series, stop one.")
app.add_typer(series_app, name="series")


def _render_series(rows: list[dict[str, Any]]) -> None:
    from autopostr.cli import output

    output.print_table(
        [
            {
                **r,
                "rule": f"{r['kind']} {r['rule']}",
                "accounts": ", ".join(r["accounts"]),
                "state": "active" if r["active"] else "stopped",
                "made": len(r["posts"]),
            }
            for r in rows
        ],
        [
            ("id", "ID"),
            ("rule", "Rule"),
            ("timezone", "Zone"),
            ("accounts", "To"),
            ("state", "State"),
            ("made", "Posts"),
            ("next_at", "Next (UTC)"),
        ],
        empty="No series. Create one with `autopostr posts create … --every 1w`.",
    )


@series_app.callback(invoke_without_command=True)
def series_list(
    ctx: typer.Context,
    limit: int = typer.Option(100, "--limit", "-n", min=1, help="At most this many series."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List recurring series with the posts made so far and the next occurrence.

    \b
    Examples:
      autopostr posts series
      autopostr posts series stop 3
    """
    if ctx.invoked_subcommand is not None:
        return
    from autopostr.cli import output
    from autopostr.schedule import series
    from autopostr.views import series_json

    with signed_in() as (session, actor):
        rows = [series_json(v) for v in series.list_series(session, actor)]
    if len(rows) > limit:
        output.info(f"Showing the first {limit} of {len(rows)} series (--limit).")
        rows = rows[:limit]
    output.emit(rows, as_json, _render_series)


@series_app.command("stop")
def series_stop(
    series_id: int = typer.Argument(..., help="The series' id, from `posts series`."),
    yes: bool = YES_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """End a series: no further posts are made (those made already stay scheduled).

    \b
    Example:
      autopostr posts series stop 3 --yes
    """
    from autopostr.cli import output
    from autopostr.schedule import series
    from autopostr.views import series_json

    confirm(f"stop series {series_id}", yes)
    with signed_in() as (session, actor):
        data = series_json(series.stop(session, actor, series_id))
    output.emit(data, as_json, lambda d: output.success(f"Series {d['id']} stopped"))


evergreen_app = typer.Typer(
    help="The evergreen pool: posts re-queued into empty slots.", no_args_is_help=True
)
app.add_typer(evergreen_app, name="evergreen")


@evergreen_app.command("add")
def evergreen_add(
    post: int = typer.Argument(..., help="The post to recycle."),
    category: str = typer.Option("default", "--category", help="Its category."),
    min_interval: str = typer.Option(
        "30d", "--min-interval", help="Never again within this long, e.g. 30d, 2w."
    ),
    max_cycles: int | None = typer.Option(
        None, "--max-cycles", min=1, help="Re-queue it at most N times."
    ),
    until: str = typer.Option("", "--until", help="Not after this date or WHEN."),
    variant: list[str] = typer.Option(
        [], "--variant", help="Another text, rotated where a platform refuses repeats; repeat."
    ),
    tz: str = TZ_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a post to the evergreen pool: when an account's queue has an empty slot,
    the pool's post shared longest ago goes in.

    \b
    Examples:
      autopostr posts evergreen add 12 --category tips --min-interval 30d
      autopostr posts evergreen add 14 --max-cycles 5 --variant "Same tip, new words"
    """
    from autopostr.cli import output
    from autopostr.cli.queue import when_or_date
    from autopostr.errors import UsageError
    from autopostr.schedule import pool
    from autopostr.timeparse import parse_duration
    from autopostr.views import evergreen_json

    if until and max_cycles:
        raise UsageError("give --max-cycles or --until, not both")
    with signed_in() as (session, actor):
        end = when_or_date(until, session, actor, tz, None, "--until", True) if until else None
        item = pool.add(
            session,
            actor,
            post,
            category=category,
            min_interval=parse_duration(min_interval, "--min-interval"),
            max_cycles=max_cycles,
            until=end,
            variants=variant,
        )
        data = evergreen_json(item, posts_get(session, actor, post))
    output.emit(
        data,
        as_json,
        lambda d: output.success(f"Post {d['post']} is in the evergreen pool ({d['category']})"),
    )


def posts_get(session: Any, actor: Any, post_id: int) -> Any:
    from autopostr import posts
    from autopostr.permissions import require

    return posts.get(session, require(actor, "posts.read"), post_id)


@evergreen_app.command("list")
def evergreen_list(
    limit: int = typer.Option(100, "--limit", "-n", min=1, help="At most this many posts."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List the evergreen pool, with when each post was last shared.

    \b
    Example:
      autopostr posts evergreen list --json
    """
    from autopostr.cli import output
    from autopostr.schedule import pool
    from autopostr.views import evergreen_json

    with signed_in() as (session, actor):
        rows = [evergreen_json(i, p) for i, p in pool.list_items(session, actor)]
    if len(rows) > limit:
        output.info(f"Showing the first {limit} of {len(rows)} posts (--limit).")
        rows = rows[:limit]
    output.emit(
        rows,
        as_json,
        lambda rs: output.print_table(
            [{**r, "text": r["text"][:40]} for r in rs],
            [
                ("post", "Post"),
                ("category", "Category"),
                ("cycles", "Shared"),
                ("last_shared_at", "Last (UTC)"),
                ("text", "Text"),
            ],
            empty="The pool is empty. Add a post with `autopostr posts evergreen add ID`.",
        ),
    )


@evergreen_app.command("rm")
def evergreen_rm(
    post: int = typer.Argument(..., help="The post to take out of the pool."),
    yes: bool = YES_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Take a post out of the evergreen pool (the post itself stays).

    \b
    Example:
      autopostr posts evergreen rm 12 --yes
    """
    from autopostr.cli import output
    from autopostr.schedule import pool
    from autopostr.views import evergreen_json

    confirm(f"take post {post} out of the evergreen pool", yes)
    with signed_in() as (session, actor):
        item = pool.remove(session, actor, post)
        data = evergreen_json(item, posts_get(session, actor, post))
    output.emit(
        data, as_json, lambda d: output.success(f"Post {d['post']} left the evergreen pool")
    )
