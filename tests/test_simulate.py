"""`schedule simulate` against the daemon: over a simulated week (a fake clock driving
the daemon's schedule job and publisher) exactly what the simulator printed goes out —
queued posts, series, evergreen picks, around a pause; and it writes nothing."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from autopostr.models import utcnow
from tests.helpers import Cli, db_session, publish_at, schedule_tick

BERLIN = ZoneInfo("Europe/Berlin")


def counts() -> dict[str, int]:
    from sqlalchemy import func
    from sqlmodel import select

    from autopostr.models import EvergreenItem, Post, QueueSlot, SeriesPost

    with db_session() as session:
        return {
            model.__name__: int(session.exec(select(func.count()).select_from(model)).one())
            for model in (Post, QueueSlot, SeriesPost, EvergreenItem)
        }


def set_up_a_week(cli: Cli) -> datetime:
    """Two accounts in two zones, queued posts, a daily series, an evergreen post and a
    pause; returns the start of the simulated week."""
    now = utcnow()
    cli.ok("queue", "slots", "set", "sandbox:demo", "daily 09:00,15:00", "--tz", "Europe/Berlin")
    cli.ok(
        "queue",
        "slots",
        "set",
        "sandbox:other",
        "mon-fri 12:00; sat 10:30",
        "--tz",
        "America/New_York",
    )
    for i in range(3):
        cli.ok("posts", "create", "--to", "sandbox:demo", "--text", f"queued {i}", "--queue")
    cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--to",
        "sandbox:other",
        "--text",
        "both",
        "--queue-each",
    )
    tomorrow = (now.astimezone(BERLIN) + timedelta(days=1)).date()
    cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:other",
        "--text",
        "daily news",
        "--every",
        "1d",
        "--at",
        f"{tomorrow.isoformat()} 10:00",
        "--tz",
        "Europe/Berlin",
        "--count",
        "5",
    )
    tip = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", "Evergreen tip", "--draft", "--json"
    ).json()
    other_tip = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", "Another tip", "--draft", "--json"
    ).json()
    cli.ok("posts", "evergreen", "add", tip["id"], "--min-interval", "1d")
    cli.ok(
        "posts", "evergreen", "add", other_tip["id"], "--min-interval", "2d", "--max-cycles", "2"
    )
    day = tomorrow + timedelta(days=3)
    cli.ok(
        "queue",
        "pause",
        "sandbox:demo",
        "--from",
        day.isoformat(),
        "--until",
        day.isoformat(),
        "--reason",
        "holiday",
    )
    return now


def test_the_simulator_shows_what_the_daemon_publishes_over_a_week(
    accounts: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPOSTR_EVERGREEN_LEAD", "1h")
    start = set_up_a_week(cli)
    end = start + timedelta(days=7)
    before = counts()
    simulated = cli.ok(
        "schedule", "simulate", "--from", start.isoformat(), "--until", end.isoformat(), "--json"
    ).json()
    assert counts() == before  # written nowhere
    sources = {row["source"] for row in simulated}
    assert sources == {"slot", "series", "evergreen"}
    assert any(row["post"] is None for row in simulated)  # made later by the daemon
    paused_day = (start.astimezone(BERLIN) + timedelta(days=4)).date()
    assert not [
        r
        for r in simulated
        if r["account"] == "sandbox:demo"
        and datetime.fromisoformat(r["local"]).date() == paused_day
    ]

    # The fake clock: every hour of the week, the schedule job, then the publisher.
    published: list[Any] = []
    for hour in range(7 * 24 + 1):
        moment = start + timedelta(hours=hour)
        schedule_tick(moment)
        published += publish_at(moment)
    went_out = sorted(
        (o.account, o.due_at.isoformat(), o.text) for o in _published_rows() if o.due_at < end
    )
    expected = sorted((r["account"], r["at"], r["text"]) for r in simulated)
    assert went_out == expected
    # Posts the simulator knew by id went out under that id.
    ids = {(r["account"], r["at"]): r["post"] for r in simulated if r["post"]}
    for row in _published_rows():
        if (row.account, row.due_at.isoformat()) in ids:
            assert ids[(row.account, row.due_at.isoformat())] == str(row.post_id)
    assert published


class _Row:
    def __init__(self, account: str, due_at: datetime, text: str, post_id: int) -> None:
        self.account, self.due_at, self.text, self.post_id = account, due_at, text, post_id


def _published_rows() -> list[_Row]:
    from sqlmodel import col, select

    from autopostr.models import Post, PostDestination, SocialAccount
    from autopostr.states import DestinationState

    with db_session() as session:
        rows = session.exec(
            select(PostDestination, Post, SocialAccount)
            .join(Post, col(Post.id) == col(PostDestination.post_id))
            .join(SocialAccount, col(SocialAccount.id) == col(PostDestination.account_id))
            .where(PostDestination.status == DestinationState.PUBLISHED)
        ).all()
        return [
            _Row(f"{a.platform}:{a.handle}", d.due_at, d.text or p.text, p.id or 0)
            for d, p, a in rows
            if d.due_at is not None
        ]


def test_simulate_lists_local_times_across_dst_and_filters_by_account(
    accounts: str, cli: Cli
) -> None:
    cli.ok("queue", "slots", "set", "sandbox:demo", "daily 09:00", "--tz", "Europe/Berlin")
    cli.ok(
        "posts",
        "evergreen",
        "add",
        cli.ok(
            "posts", "create", "--to", "sandbox:demo", "--text", "tip", "--draft", "--json"
        ).json()["id"],
        "--min-interval",
        "1h",
    )
    cli.ok(
        "posts",
        "evergreen",
        "add",
        cli.ok(
            "posts", "create", "--to", "sandbox:demo", "--text", "tip 2", "--draft", "--json"
        ).json()["id"],
        "--min-interval",
        "1h",
    )
    year = utcnow().year + 1
    rows = cli.ok(
        "schedule",
        "simulate",
        "--from",
        f"{year}-03-25",
        "--until",
        f"{year}-03-31",
        "--account",
        "sandbox:demo",
        "--tz",
        "Europe/Berlin",
        "--json",
    ).json()
    # The last Sunday of March falls in these seven days: the offset changes, 09:00 stays.
    assert len(rows) == 7
    assert {r["local"][11:19] for r in rows} == {"09:00:00"}
    offsets = [r["local"][19:] for r in rows]
    assert offsets == sorted(offsets) and set(offsets) == {"+01:00", "+02:00"}
    assert {r["source"] for r in rows} == {"evergreen"}
    # The rotation runs from now, a slot a day: the window starts with the tip whose turn
    # it is after every 09:00 from now to its first day; within it the two alternate.
    berlin = ZoneInfo("Europe/Berlin")
    now, first_day = utcnow().astimezone(berlin), date(year, 3, 25)
    days = range((first_day - now.date()).days + 1)
    slots_before = (
        sum(now <= datetime.combine(now.date() + timedelta(days=n), time(9), berlin) for n in days)
        - 1
    )  # the window's own first slot
    first, second = ["tip", "tip 2"][slots_before % 2], ["tip 2", "tip"][slots_before % 2]
    assert [r["text"] for r in rows] == [first, second] * 3 + [first]
    assert (
        cli.ok(
            "schedule",
            "simulate",
            "--from",
            f"{year}-03-27",
            "--until",
            f"{year}-03-31",
            "--account",
            "sandbox:other",
            "--json",
        ).json()
        == []
    )
    human = cli.ok(
        "schedule",
        "simulate",
        "--from",
        f"{year}-03-27",
        "--until",
        f"{year}-03-28",
        "--tz",
        "Europe/Berlin",
    )
    assert "evergreen" in human.stdout and "(to be made)" in human.stdout
    assert (
        cli("schedule", "simulate", "--from", f"{year}-03-28", "--until", f"{year}-03-27").exit_code
        == 5
    )
