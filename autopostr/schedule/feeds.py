"""RSS and Atom autopost: every new entry of a feed becomes a post, once.

Fetched with a conditional GET (ETag / Last-Modified, so an unchanged feed costs a
304), read with feedparser. An entry is known by its id/guid, else its link; an
entry seen before is never posted again, even when edited. The first check marks
what the feed holds as seen (`--backfill N` posts the newest N of it instead). A
feed that cannot be fetched or read is logged with the reason and checked again at
its next period; it never stops the job.
"""

from __future__ import annotations

import calendar as _calendar
import hashlib
import json
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from autopostr import accounts as accounts_mod
from autopostr import audit
from autopostr.config import Settings
from autopostr.errors import AutopostrError, InvalidInput, NotFound
from autopostr.identity import Actor, actor_in_team
from autopostr.models import Feed, FeedEntry, utcnow
from autopostr.permissions import require

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

    from autopostr.db import Database

log = logging.getLogger(__name__)

MODES = ("queue", "now", "draft")
DEFAULT_TEMPLATE = "{title} {link}"
FIELDS = ("title", "link", "summary", "author", "published", "id", "feed")
_FIELD = re.compile(r"\{(\w+)\}")
_TAGS = re.compile(r"<[^>]+>")


# ---------------------------------------------------------------- entries


@dataclass(frozen=True)
class Entry:
    key: str  # hash of the id/guid, else of the link
    link_key: str | None
    values: dict[str, str]
    published: datetime | None

    def text(self, template: str) -> str:
        return _FIELD.sub(lambda m: self.values.get(m.group(1), m.group(0)), template).strip()


def _digest(value: str) -> str:
    return hashlib.sha256(value.strip().encode("utf-8")).hexdigest()


def _plain(value: str) -> str:
    # Imported here: its table of entities is half a MB of a daemon that reads no feed.
    import html

    return " ".join(html.unescape(_TAGS.sub(" ", value)).split())


def parse(body: bytes) -> tuple[str, list[Entry]]:
    """The feed's title and its entries, oldest first. Raises InvalidInput when the
    body is no feed at all."""
    import feedparser

    parsed = feedparser.parse(body)
    if parsed.get("bozo") and not parsed.get("entries"):
        reason = parsed.get("bozo_exception")
        raise InvalidInput(f"the feed cannot be read: {reason or 'not RSS or Atom'}")
    if not parsed.get("version") and not parsed.get("entries"):
        raise InvalidInput("the answer is not an RSS or Atom feed")
    title = _plain(str(parsed.get("feed", {}).get("title", "")))
    entries: list[Entry] = []
    for raw in parsed.get("entries", []):
        link = str(raw.get("link") or "").strip()
        ident = str(raw.get("id") or "").strip()
        if not ident and not link:
            continue
        moment = raw.get("published_parsed") or raw.get("updated_parsed")
        published = (
            datetime.fromtimestamp(_calendar.timegm(moment), UTC) if moment is not None else None
        )
        values = {
            "title": _plain(str(raw.get("title", ""))),
            "link": link,
            "summary": _plain(str(raw.get("summary", ""))),
            "author": _plain(str(raw.get("author", ""))),
            "published": published.isoformat() if published else "",
            "id": ident or link,
            "feed": title,
        }
        entries.append(
            Entry(_digest(ident or link), _digest(link) if link else None, values, published)
        )
    # Oldest first: feeds list the newest first, so reverse their order, then order by
    # the entries' dates where every entry has one (a stable sort keeps ties as listed).
    entries.reverse()
    if entries and all(e.published for e in entries):
        entries.sort(key=lambda e: e.published or datetime.min.replace(tzinfo=UTC))
    return title, entries


# ---------------------------------------------------------------- fetching


@dataclass
class Fetched:
    status: int
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None


def fetch(url: str, etag: str | None, last_modified: str | None, timeout: float) -> Fetched:
    """A conditional GET; raises InvalidInput with the reason when it fails."""
    import httpx2

    headers = {
        "User-Agent": "autopostr (feeds)",
        "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with httpx2.Client(timeout=timeout, follow_redirects=True) as client:
            response = client.get(url, headers=headers)
    except httpx2.HTTPError as exc:
        raise InvalidInput(f"{url} cannot be fetched: {exc.__class__.__name__}: {exc}") from None
    if response.status_code == 304:
        return Fetched(304, etag=etag, last_modified=last_modified)
    if response.status_code >= 400:
        raise InvalidInput(f"{url} answered HTTP {response.status_code}")
    return Fetched(
        response.status_code,
        response.content,
        response.headers.get("ETag") or None,
        response.headers.get("Last-Modified") or None,
    )


def timeout(settings: Settings) -> float:
    return settings.seconds("feed_timeout", 20.0, above=0)


# ---------------------------------------------------------------- feeds


def add(
    db: DbSession,
    actor: Actor,
    url: str,
    to: Sequence[str],
    *,
    template: str = DEFAULT_TEMPLATE,
    mode: str = "queue",
    every: timedelta = timedelta(minutes=30),
    backfill: int = 0,
    now: datetime | None = None,
) -> Feed:
    from sqlmodel import select

    from autopostr.schedule.queueing import require_queue

    team_id = require(actor, "posts.write")
    url = url.strip()
    if not re.match(r"^https?://", url):
        raise InvalidInput(f"URL: {url!r} is not an http(s) address")
    if mode not in MODES:
        raise InvalidInput(f"mode: {mode!r} is not one of {', '.join(MODES)}")
    if not to:
        raise InvalidInput("--to: name at least one account, e.g. --to sandbox:demo")
    if backfill < 0:
        raise InvalidInput("--backfill: give 0 or more entries")
    unknown = sorted(set(_FIELD.findall(template)) - set(FIELDS))
    if unknown:
        raise InvalidInput(
            f"--template: unknown field {{{unknown[0]}}}; use {', '.join('{' + f + '}' for f in FIELDS)}"
        )
    accounts = [accounts_mod.resolve(db, team_id, name) for name in to]
    if mode == "queue":
        for account in accounts:
            require_queue(db, account)
    if db.exec(select(Feed).where(Feed.team_id == team_id, Feed.url == url)).first():
        raise InvalidInput(f"{url} is a feed already: see `autopostr feeds show {url}`")
    now = now or utcnow()
    feed = Feed(
        team_id=team_id,
        url=url,
        accounts=json.dumps(sorted({a.id for a in accounts})),
        template=template,
        mode=mode,
        every_seconds=int(every.total_seconds()),
        backfill=backfill,
        next_check_at=now,
        created_by=actor.user_id,
        created_at=now,
    )
    db.add(feed)
    db.flush()
    audit.record(db, actor, "feed.add", "feed", feed.id, url=url)
    return feed


def get(db: DbSession, actor: Actor, ref: str, action: str = "posts.read") -> Feed:
    from sqlmodel import select

    team_id = require(actor, action)
    query = select(Feed).where(Feed.team_id == team_id)
    feed = (
        db.exec(query.where(Feed.id == int(ref))).first()
        if ref.isdigit()
        else db.exec(query.where(Feed.url == ref.strip())).first()
    )
    if feed is None:
        raise NotFound(f"feed {ref} not found: see `autopostr feeds list`")
    return feed


def list_feeds(db: DbSession, actor: Actor) -> list[Feed]:
    from sqlmodel import col, select

    team_id = require(actor, "posts.read")
    return list(db.exec(select(Feed).where(Feed.team_id == team_id).order_by(col(Feed.id))))


def remove(db: DbSession, actor: Actor, ref: str) -> Feed:
    feed = get(db, actor, ref, "posts.write")
    db.delete(feed)
    audit.record(db, actor, "feed.remove", "feed", feed.id, url=feed.url)
    return feed


def account_labels(db: DbSession, feed: Feed) -> list[str]:
    from autopostr.models import SocialAccount

    found = []
    for account_id in json.loads(feed.accounts):
        account = db.get(SocialAccount, account_id)
        if account is not None:
            found.append(accounts_mod.label(account))
    return found


def seen_count(db: DbSession, feed: Feed) -> int:
    from sqlalchemy import func
    from sqlmodel import select

    return int(db.exec(select(func.count()).where(FeedEntry.feed_id == feed.id)).one())


# ---------------------------------------------------------------- checking


@dataclass
class CheckResult:
    feed: Feed
    not_modified: bool = False
    new: list[Entry] = field(default_factory=list)  # to post (or, dry run, would post)
    marked_seen: int = 0  # the first check's entries taken as already known
    posts: list[int] = field(default_factory=list)
    error: str | None = None
    texts: list[str] = field(default_factory=list)


def _new_entries(db: DbSession, feed: Feed, entries: list[Entry]) -> tuple[list[Entry], int]:
    """The entries to post, oldest first, and how many the first check marks seen."""
    from sqlmodel import col, select

    keys = set(db.exec(select(FeedEntry.key).where(FeedEntry.feed_id == feed.id)).all())
    links = set(
        db.exec(
            select(FeedEntry.link_key).where(
                FeedEntry.feed_id == feed.id, col(FeedEntry.link_key).is_not(None)
            )
        ).all()
    )
    fresh, batch_keys = [], set()
    for entry in entries:
        if entry.key in keys or entry.key in batch_keys:
            continue
        if entry.link_key is not None and entry.link_key in links:
            continue
        batch_keys.add(entry.key)
        fresh.append(entry)
    if feed.checked_at is None and not keys:
        keep = fresh[len(fresh) - feed.backfill :] if feed.backfill else []
        return keep, len(fresh) - len(keep)
    return fresh, 0


def _post_entry(
    db: DbSession, settings: Settings, feed: Feed, actor: Actor, entry: Entry, now: datetime
) -> int:
    from autopostr import posts
    from autopostr.schedule.queueing import create_queued

    fields: dict[str, Any] = {"text": entry.text(feed.template), "to": account_labels(db, feed)}
    if feed.mode == "queue":
        post = create_queued(db, actor, settings, now=now, **fields)
    elif feed.mode == "now":
        post = posts.create(db, actor, settings, at=now + timedelta(seconds=1), now=now, **fields)
    else:
        post = posts.create(db, actor, settings, draft=True, now=now, **fields)
    assert post.id is not None
    return post.id


def check(
    db: Database,
    settings: Settings,
    feed_id: int,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> CheckResult:
    """Fetch one feed and post its new entries (a dry run posts and stores nothing)."""
    from sqlalchemy.exc import IntegrityError

    now = now or utcnow()
    with db.session() as session:
        feed = session.get(Feed, feed_id)
        if feed is None:
            raise NotFound(f"feed {feed_id} not found")
        session.expunge(feed)
    result = CheckResult(feed)
    try:
        fetched = fetch(
            feed.url,
            None if dry_run else feed.etag,
            None if dry_run else feed.last_modified,
            timeout(settings),
        )
        if fetched.status == 304:
            result.not_modified = True
            entries: list[Entry] = []
        else:
            _title, entries = parse(fetched.body)
    except InvalidInput as exc:
        result.error = str(exc)
        log.warning("feed %s: %s; checked again in %ss", feed.url, exc, feed.every_seconds)
        if not dry_run:
            with db.session() as session:
                row = session.get(Feed, feed_id)
                if row is not None:  # checked_at stays the last good check
                    row.error = result.error
                    session.add(row)
        return result
    with db.session() as session:
        row = session.get(Feed, feed_id)
        assert row is not None
        fresh, marked = _new_entries(session, row, entries)
        result.new, result.marked_seen = fresh, marked
        result.texts = [e.text(row.template) for e in fresh]
        if dry_run:
            session.rollback()
            return result
        actor = actor_in_team(session, row.created_by, row.team_id, "feed")
        if actor is None and fresh:
            result.error = "the person who added the feed left the team; add it again"
        if marked:
            # The first check: what the feed holds now counts as seen, not as new.
            skip = {e.key for e in fresh}
            for entry in entries:
                if entry.key not in skip and not _known(session, row, entry):
                    skip.add(entry.key)
                    session.add(
                        FeedEntry(
                            feed_id=feed_id, key=entry.key, link_key=entry.link_key, seen_at=now
                        )
                    )
            session.flush()
        for entry in fresh:
            if actor is None:
                break
            try:
                with session.begin_nested():
                    session.add(
                        FeedEntry(
                            feed_id=feed_id, key=entry.key, link_key=entry.link_key, seen_at=now
                        )
                    )
                    session.flush()
                    post_id = _post_entry(session, settings, row, actor, entry, now)
                    stored = session.get(FeedEntry, (feed_id, entry.key))
                    assert stored is not None
                    stored.post_id = post_id
                    session.add(stored)
                    session.flush()
                result.posts.append(post_id)
            except IntegrityError:
                continue  # another daemon posted it
            except AutopostrError as exc:
                result.error = f"entry {entry.values['id']}: {exc}"
                log.warning("feed %s: %s", row.url, result.error)
        if fetched.status != 304:
            row.etag, row.last_modified = fetched.etag, fetched.last_modified
        row.checked_at = now
        row.error = result.error
        session.add(row)
    return result


def _known(db: DbSession, feed: Feed, entry: Entry) -> bool:
    return db.get(FeedEntry, (feed.id, entry.key)) is not None


def check_due(
    db: Database,
    settings: Settings,
    now: datetime | None = None,
    stopping: threading.Event | None = None,
) -> int:
    """The daemon's step: every feed whose period has come, each taken by one daemon
    (its next check time moves on in one conditional UPDATE before the fetch); once
    `stopping` is set, the feeds not taken yet are left to the next run."""
    from sqlalchemy import update
    from sqlmodel import col, select

    now = now or utcnow()
    with db.session() as session:
        due = session.exec(
            select(Feed.id, Feed.next_check_at, Feed.every_seconds).where(
                col(Feed.next_check_at) <= now
            )
        ).all()
    posted = 0
    for feed_id, when, every in due:
        if stopping is not None and stopping.is_set():
            break
        with db.session() as session:
            taken = session.execute(
                update(Feed)
                .where(col(Feed.id) == feed_id, col(Feed.next_check_at) == when)
                .values(next_check_at=now + timedelta(seconds=every))
            )
            mine = getattr(taken, "rowcount", 0) == 1
        if not mine or feed_id is None:
            continue
        try:
            posted += len(check(db, settings, feed_id, now=now).posts)
        except Exception as exc:  # a feed never stops the job
            log.warning("feed %s: %s", feed_id, exc)
    return posted
