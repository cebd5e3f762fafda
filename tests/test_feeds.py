"""RSS/Atom autopost against a local feed server: every new entry once (not only the
newest), de-duplicated by id/guid then link, conditional GET (ETag, Last-Modified,
304), the first check marks seen unless --backfill, a broken feed is logged and
retried, an entry edited after posting is not posted again."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from autopostr.models import utcnow
from tests.fakes.feed_server import FeedServer, Item, atom, rss, serving
from tests.helpers import Cli, one_error_line, schedule_tick


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    with serving(FeedServer()) as server:
        yield server


def items(n: int, start: int = 1) -> list[Item]:
    """n entries, newest first, as a feed lists them."""
    return [
        Item(
            f"urn:post:{i}",
            f"Post {i}",
            f"https://acme.example/{i}",
            f"Mon, {i:02d} Nov 2026 09:00:00 GMT",
        )
        for i in reversed(range(start, start + n))
    ]


def posts(cli: Cli) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = cli.ok("posts", "list", "--json").json()
    return rows


def check_due(later: timedelta = timedelta(hours=1)) -> None:
    schedule_tick(utcnow() + later)


def test_every_new_entry_is_posted_once_oldest_first(
    sandbox: str, cli: Cli, feed: FeedServer
) -> None:
    feed.publish(rss(items(3)))
    added = cli.ok(
        "feeds",
        "add",
        feed.url,
        "--to",
        "sandbox:demo",
        "--now",
        "--template",
        "New: {title} {link}",
        "--json",
    ).json()
    assert (added["mode"], added["template"], added["accounts"]) == (
        "now",
        "New: {title} {link}",
        ["sandbox:demo"],
    )
    schedule_tick(utcnow())  # the first check: what is there counts as seen
    assert posts(cli) == []
    assert cli.ok("feeds", "show", feed.url, "--json").json()["seen"] == 3
    feed.publish(rss(items(5)))  # two new entries at once: both are posted
    check_due()
    assert [p["text"] for p in posts(cli)] == [
        "New: Post 4 https://acme.example/4",
        "New: Post 5 https://acme.example/5",
    ]
    assert all(p["status"] == "scheduled" for p in posts(cli))
    check_due(timedelta(hours=2))  # unchanged: 304, nothing new
    assert len(posts(cli)) == 2
    assert feed.requests[-1].get("if-none-match") == feed.etag
    assert feed.requests[-1].get("if-modified-since") == feed.last_modified


def test_backfill_posts_the_newest_n_of_the_first_check(
    sandbox: str, cli: Cli, feed: FeedServer
) -> None:
    feed.publish(atom(items(4)))
    feed.content_type = "application/atom+xml"
    cli.ok(
        "feeds",
        "add",
        feed.url,
        "--to",
        "sandbox:demo",
        "--draft",
        "--backfill",
        "2",
        "--template",
        "{title} by {author}",
    )
    schedule_tick(utcnow())
    assert sorted(p["text"] for p in posts(cli)) == ["Post 3 by Ada", "Post 4 by Ada"]
    assert {p["status"] for p in posts(cli)} == {"draft"}


def test_queue_mode_takes_free_slots(sandbox: str, cli: Cli, feed: FeedServer) -> None:
    cli.ok("queue", "slots", "set", "sandbox:demo", "daily 09:00,17:00", "--tz", "UTC")
    feed.publish(rss(items(1)))
    cli.ok("feeds", "add", feed.url, "--to", "sandbox:demo")
    schedule_tick(utcnow())
    feed.publish(rss(items(3)))
    check_due()
    shown = [r for r in cli.ok("queue", "show", "--json").json() if r["post"]]
    assert [r["text"] for r in shown] == [
        "Post 2 https://acme.example/2",
        "Post 3 https://acme.example/3",
    ]
    year = utcnow().year
    simulated = cli.ok(
        "schedule",
        "simulate",
        "--from",
        f"{year - 1}-01-01",
        "--until",
        f"{year + 1}-12-31",
        "--json",
    ).json()
    assert {r["source"] for r in simulated} == {"feed"}


def test_an_edited_entry_or_a_new_guid_for_a_known_link_is_not_posted_again(
    sandbox: str, cli: Cli, feed: FeedServer
) -> None:
    feed.publish(rss(items(1)))
    cli.ok("feeds", "add", feed.url, "--to", "sandbox:demo", "--draft")
    schedule_tick(utcnow())
    feed.publish(rss(items(2)))
    check_due()
    assert [p["text"] for p in posts(cli)] == ["Post 2 https://acme.example/2"]
    edited = items(2)
    edited[0].title = "Post 2 (corrected)"  # same guid, new title
    moved = Item("urn:other:1", "Post 1 again", "https://acme.example/1")  # same link
    feed.publish(rss([edited[0], moved, edited[1]]))
    check_due(timedelta(hours=2))
    assert len(posts(cli)) == 1
    # Entries without a guid are known by their link.
    feed.publish(rss([Item(None, "No guid", "https://acme.example/x"), *edited]))
    check_due(timedelta(hours=3))
    feed.publish(rss([Item(None, "No guid, edited", "https://acme.example/x"), *edited]))
    check_due(timedelta(hours=4))
    assert [p["text"] for p in posts(cli)][1:] == ["No guid https://acme.example/x"]


def test_a_broken_feed_is_logged_and_retried(
    sandbox: str, cli: Cli, feed: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    feed.publish(rss(items(1)))
    cli.ok("feeds", "add", feed.url, "--to", "sandbox:demo", "--draft", "--every", "30m")
    feed.publish("<html><body>not a feed <<<")
    feed.content_type = "text/html"
    with caplog.at_level(logging.WARNING):
        schedule_tick(utcnow())  # never raises
    shown = cli.ok("feeds", "show", feed.url, "--json").json()
    assert shown["error"] and "feed" in shown["error"]
    assert any(feed.url in r.getMessage() for r in caplog.records)
    feed.status = 503
    check_due(timedelta(minutes=31))
    assert "HTTP 503" in cli.ok("feeds", "show", feed.url, "--json").json()["error"]
    feed.status = 200
    feed.content_type = "application/rss+xml"
    feed.publish(rss(items(2)))
    check_due(timedelta(minutes=62))  # retried at its next period: the first good check
    assert cli.ok("feeds", "show", feed.url, "--json").json()["error"] is None
    feed.publish(rss(items(3)))
    check_due(timedelta(minutes=93))
    assert [p["text"] for p in posts(cli)] == ["Post 3 https://acme.example/3"]
    checks = len(feed.requests)
    check_due(timedelta(minutes=100))  # not due yet: not fetched
    assert len(feed.requests) == checks


def test_check_prints_what_would_be_posted_and_changes_nothing(
    sandbox: str, cli: Cli, feed: FeedServer
) -> None:
    feed.publish(rss(items(2)))
    cli.ok("feeds", "add", feed.url, "--to", "sandbox:demo", "--draft", "--backfill", "5")
    data = cli.ok("feeds", "check", feed.url, "--json").json()
    assert [e["text"] for e in data["new"]] == [
        "Post 1 https://acme.example/1",
        "Post 2 https://acme.example/2",
    ]
    assert data["posts"] == [] and data["error"] is None
    assert posts(cli) == []
    assert cli.ok("feeds", "show", feed.url, "--json").json()["checked_at"] is None
    listed = cli.ok("feeds", "list", "--json").json()
    assert [f["url"] for f in listed] == [feed.url]
    cli.ok("feeds", "rm", feed.url, "--yes")
    assert cli.ok("feeds", "list", "--json").json() == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("ftp://x/feed", "--to", "sandbox:demo"), "not an http(s) address"),
        (("http://x/feed", "--to", "sandbox:demo", "--template", "{nope}"), "unknown field {nope}"),
        (("http://x/feed", "--to", "sandbox:demo", "--queue"), "has no posting slots"),
    ],
)
def test_bad_feeds_are_refused(sandbox: str, cli: Cli, args: tuple[str, ...], says: str) -> None:
    run = cli("feeds", "add", *args)
    assert run.exit_code == 5
    assert says in one_error_line(run.stderr)
    assert cli.ok("feeds", "list", "--json").json() == []


def test_an_unreachable_feed_check_exits_6(sandbox: str, cli: Cli) -> None:
    cli.ok("feeds", "add", "http://127.0.0.1:9/feed.xml", "--to", "sandbox:demo", "--draft")
    run = cli("feeds", "check", "http://127.0.0.1:9/feed.xml")
    assert run.exit_code == 6
    assert "cannot be fetched" in run.stderr
