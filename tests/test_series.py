"""Recurring posts: --every/--rrule/--cron series, each occurrence its own post made
ahead by the daemon within the horizon; pauses skip, nothing catches up, stop ends."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from autopostr.models import utcnow
from tests.helpers import Cli, Team, one_error_line, schedule_tick

BERLIN = ZoneInfo("Europe/Berlin")


def start_at(days: int = 1, hour: int = 9) -> str:
    day = (utcnow().astimezone(BERLIN) + timedelta(days=days)).date()
    return f"{day.isoformat()} {hour:02d}:00"


def next_at(hour: int = 9) -> str:
    """The next `hour`:00 in Berlin, within a day: a series starting then has as many
    occurrences within a horizon whatever the time of day the test runs (Berlin's
    tomorrow starts at 23:00 UTC, when `start_at()` is a day and a half away)."""
    now = utcnow().astimezone(BERLIN)
    at = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if at <= now + timedelta(minutes=5):
        at += timedelta(days=1)
    return at.strftime("%Y-%m-%d %H:%M")


def series(cli: Cli) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = cli.ok("posts", "series", "--json").json()
    return rows


def scheduled(cli: Cli) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = cli.ok("posts", "list", "--status", "scheduled", "--json").json()
    return rows


def test_every_week_makes_posts_ahead_within_the_horizon(sandbox: str, cli: Cli) -> None:
    first = cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "Weekly digest",
        "--every",
        "1w",
        "--at",
        start_at(),
        "--tz",
        "Europe/Berlin",
        "--count",
        "6",
        "--json",
    ).json()
    posts = scheduled(cli)
    assert [p["text"] for p in posts] == ["Weekly digest"] * 2  # 14 days ahead: two
    assert posts[0]["id"] == first["id"]
    local = [datetime.fromisoformat(p["scheduled_at"]).astimezone(BERLIN) for p in posts]
    assert [t.strftime("%a %H:%M") for t in local] == [local[0].strftime("%a 09:00")] * 2
    [row] = series(cli)
    assert (row["kind"], row["rule"], row["count"], row["active"]) == ("every", "1w", 6, True)
    assert [p["post"] for p in row["posts"]] == [p["id"] for p in posts]
    # The daemon carries it forward as time passes; the count ends it.
    for week in range(1, 8):
        schedule_tick(utcnow() + timedelta(days=7 * week))
    made = series(cli)[0]["posts"]
    assert len(made) == 6
    assert len({p["at"] for p in made}) == 6
    # Every occurrence is a normal post in the series, linked both ways.
    assert all(p["post"] for p in made)


def test_running_the_job_again_or_twice_makes_nothing_twice(sandbox: str, cli: Cli) -> None:
    cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "Daily",
        "--every",
        "1d",
        "--at",
        next_at(),
        "--tz",
        "Europe/Berlin",
    )
    now = utcnow()
    schedule_tick(now)
    schedule_tick(now + timedelta(hours=1))
    made = scheduled(cli)
    # 14 days ahead of the later run: 15 occurrences when that run is past the first
    # one's hour (a test run within the hour before 09:00 in Berlin), else 14.
    assert len(made) in (14, 15)
    for _ in range(2):
        schedule_tick(now)
        schedule_tick(now + timedelta(hours=1))
    posts = scheduled(cli)
    assert len(posts) == len({p["scheduled_at"] for p in posts}) == len(made)


def test_a_paused_occurrence_is_not_made_and_nothing_catches_up(sandbox: str, cli: Cli) -> None:
    cli.ok(
        "queue",
        "pause",
        "sandbox:demo",
        "--from",
        start_at(3, 0),
        "--until",
        start_at(5, 0),
        "--tz",
        "Europe/Berlin",
    )
    cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "Daily",
        "--every",
        "1d",
        "--at",
        start_at(),
        "--tz",
        "Europe/Berlin",
        "--count",
        "10",
    )
    days = sorted(
        datetime.fromisoformat(p["scheduled_at"]).astimezone(BERLIN).date() for p in scheduled(cli)
    )
    today = utcnow().astimezone(BERLIN).date()
    assert [(d - today).days for d in days] == [1, 2, 5, 6, 7, 8, 9, 10]
    # Much later, the job does not make the missed days (nor the paused ones).
    schedule_tick(utcnow() + timedelta(days=30))
    assert len(scheduled(cli)) == 8


def test_a_late_job_never_fires_missed_occurrences(
    sandbox: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPOSTR_SERIES_HORIZON", "2d")
    cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "Daily",
        "--every",
        "1d",
        "--at",
        next_at(),
        "--tz",
        "Europe/Berlin",
    )
    assert len(scheduled(cli)) == 2
    later = utcnow() + timedelta(days=10)
    schedule_tick(later)
    times = sorted(datetime.fromisoformat(p["scheduled_at"]) for p in scheduled(cli))
    assert len(times) == 4
    assert all(t > later for t in times[2:])  # days 3–10 were never made


def test_rrule_and_cron_are_read_in_the_posts_zone(sandbox: str, cli: Cli) -> None:
    cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "Mo/Th",
        "--rrule",
        "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=9;BYMINUTE=0",
        "--tz",
        "America/New_York",
    )
    cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "cron",
        "--cron",
        "30 7 * * SAT",
        "--tz",
        "Asia/Kolkata",
    )
    ny, kolkata = ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")
    posts = scheduled(cli)
    mo_th = [
        datetime.fromisoformat(p["scheduled_at"]).astimezone(ny)
        for p in posts
        if p["text"] == "Mo/Th"
    ]
    sat = [
        datetime.fromisoformat(p["scheduled_at"]).astimezone(kolkata)
        for p in posts
        if p["text"] == "cron"
    ]
    assert len(mo_th) == 4 and {t.strftime("%a %H:%M") for t in mo_th} == {"Mon 09:00", "Thu 09:00"}
    assert len(sat) == 2 and {t.strftime("%a %H:%M") for t in sat} == {"Sat 07:30"}
    kinds = {r["kind"]: r for r in series(cli)}
    assert kinds["rrule"]["timezone"] == "America/New_York"
    assert kinds["cron"]["next_at"] is not None


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("--every", "3x"), 5, "not an interval"),
        (("--cron", "99 * * * *"), 5, "not a cron expression"),
        (("--rrule", "FREQ=DAILY;COUNT=2"), 5, "leave COUNT out"),
        (("--every", "1d", "--cron", "0 9 * * *"), 2, "give one of"),
        (("--count", "3"), 2, "add --every"),
        (("--every", "1d", "--queue"), 2, "give one of"),
        (("--every", "1d", "--until", "2020-01-01"), 5, "no occurrence after now"),
    ],
)
def test_bad_repeats_are_refused_and_change_nothing(
    sandbox: str, cli: Cli, args: tuple[str, ...], code: int, says: str
) -> None:
    run = cli("posts", "create", "--to", "sandbox:demo", "--text", "x", *args)
    assert run.exit_code == code
    assert says in one_error_line(run.stderr)
    assert cli.ok("posts", "list", "--json").json() == []
    assert series(cli) == []


def test_stop_ends_a_series_and_keeps_its_posts(sandbox: str, cli: Cli) -> None:
    cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "Daily",
        "--every",
        "1d",
        "--at",
        next_at(),
        "--tz",
        "Europe/Berlin",
    )
    [row] = series(cli)
    stopped = cli.ok("posts", "series", "stop", row["id"], "--yes", "--json").json()
    assert stopped["active"] is False and stopped["next_at"] is None
    schedule_tick(utcnow() + timedelta(days=20))
    assert len(scheduled(cli)) == 14
    assert cli("posts", "series", "stop", "999", "--yes").exit_code == 3


def test_an_editors_series_waits_for_approval_like_any_post(
    initialized: str, cli: Cli, tmp_path: Path
) -> None:
    team = Team(cli, tmp_path, "editor", approval=True)
    team.as_member(
        "posts",
        "create",
        "--to",
        "sandbox:acme",
        "--text",
        "Editor's weekly",
        "--every",
        "1w",
        "--at",
        start_at(),
        "--tz",
        "UTC",
    )
    schedule_tick(utcnow() + timedelta(days=7))
    posts = cli.ok("posts", "list", "--json").json()
    assert len(posts) == 3
    assert {p["status"] for p in posts} == {"pending_approval"}


def test_the_daemon_job_is_registered() -> None:
    from autopostr.daemon.jobs import JOBS

    job = next(j for j in JOBS if j.name == "schedule")
    assert job.every == timedelta(minutes=5)


def test_daemon_run_once_carries_series_forward(
    sandbox: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlmodel import select

    from autopostr.models import SeriesPost
    from tests.helpers import db_session

    monkeypatch.setenv("AUTOPOSTR_SERIES_HORIZON", "1d")
    cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "Hourly", "--every", "1h")
    with db_session() as session:
        made = len(session.exec(select(SeriesPost)).all())
    monkeypatch.setenv("AUTOPOSTR_SERIES_HORIZON", "2d")
    cli.ok("daemon", "run", "--once")
    with db_session() as session:
        assert len(session.exec(select(SeriesPost)).all()) > made
