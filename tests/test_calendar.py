"""`calendar`: posts by local day in a zone, weeks from Monday, months as whole weeks; `move`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from autopostr.calendar import span_bounds
from tests.helpers import Cli

BERLIN = ("--tz", "Europe/Berlin")


def create(cli: Cli, text: str, at: str, *extra: str) -> str:
    data = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", text, "--at", at, *extra, "--json"
    ).json()
    return str(data["id"])


def by_day(data: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """{date: [(time, text), …]} for the days that have posts."""
    return {
        day["date"]: [(p["time"], p["text"]) for p in day["posts"]]
        for day in data["days"]
        if day["posts"]
    }


@pytest.mark.parametrize(
    ("start", "span", "first", "last"),
    [
        (date(2030, 1, 7), "week", date(2030, 1, 7), date(2030, 1, 13)),  # a Monday
        (date(2030, 1, 13), "week", date(2030, 1, 7), date(2030, 1, 13)),  # a Sunday
        (date(2030, 1, 1), "week", date(2029, 12, 31), date(2030, 1, 6)),  # across a year
        (date(2030, 1, 15), "month", date(2029, 12, 31), date(2030, 2, 3)),
        (date(2030, 4, 30), "month", date(2030, 4, 1), date(2030, 5, 5)),  # April 1 is a Monday
        (date(2030, 2, 10), "month", date(2030, 1, 28), date(2030, 3, 3)),
    ],
)
def test_spans_are_whole_weeks_from_monday(start: date, span: str, first: date, last: date) -> None:
    got_first, got_last = span_bounds(start, span)
    assert (got_first, got_last) == (first, last)
    assert got_first.weekday() == 0 and got_last.weekday() == 6
    assert ((got_last - got_first).days + 1) % 7 == 0


def test_posts_land_on_their_local_day_and_time(sandbox: str, cli: Cli) -> None:
    create(cli, "Monday morning", "2030-01-07T08:00Z")  # 09:00 CET
    create(cli, "Late night", "2030-01-08T23:30Z")  # Wednesday 00:30 in Berlin
    create(cli, "First minute", "2030-01-06T23:00Z")  # Monday 00:00 in Berlin
    create(cli, "Last minute", "2030-01-13T22:59Z")  # Sunday 23:59 in Berlin
    create(cli, "Week before", "2030-01-06T22:59Z")  # Sunday 23:59 the week before
    create(cli, "Week after", "2030-01-13T23:00Z")  # Monday 00:00 the week after
    create(cli, "A draft", "2030-01-08T10:00Z", "--draft")
    cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "Undated draft")

    data = cli.ok("calendar", "--from", "2030-01-09", *BERLIN, "--json").json()
    assert {k: data[k] for k in ("from", "to", "timezone")} == {
        "from": "2030-01-07",
        "to": "2030-01-13",
        "timezone": "Europe/Berlin",
    }
    assert [d["date"] for d in data["days"]] == [f"2030-01-{n:02d}" for n in range(7, 14)]
    assert by_day(data) == {
        "2030-01-07": [("00:00", "First minute"), ("09:00", "Monday morning")],
        "2030-01-09": [("00:30", "Late night")],
        "2030-01-13": [("23:59", "Last minute")],
    }
    post = data["days"][0]["posts"][1]
    assert set(post) >= {"id", "time", "status", "accounts", "text"}
    assert post["status"] == "scheduled" and post["accounts"] == ["sandbox:demo"]
    assert isinstance(post["id"], str)

    # The same posts read in UTC: the late one is on Tuesday, the edges move weeks.
    utc = cli.ok("calendar", "--from", "2030-01-09", "--tz", "UTC", "--json").json()
    assert by_day(utc) == {
        "2030-01-07": [("08:00", "Monday morning")],
        "2030-01-08": [("23:30", "Late night")],
        "2030-01-13": [("22:59", "Last minute"), ("23:00", "Week after")],
    }


def test_the_zone_defaults_to_the_configured_one(sandbox: str, cli: Cli) -> None:
    create(cli, "Late night", "2030-01-08T23:30Z")
    data = cli.ok(
        "calendar", "--from", "2030-01-07", "--json", env={"AUTOPOSTR_TIMEZONE": "Asia/Tokyo"}
    ).json()
    assert data["timezone"] == "Asia/Tokyo"
    assert by_day(data) == {"2030-01-09": [("08:30", "Late night")]}


def test_local_days_follow_daylight_saving_time(sandbox: str, cli: Cli) -> None:
    create(cli, "Before the change", "2030-03-30T23:30Z")  # 00:30 CET on Sunday 31 March
    create(cli, "After the change", "2030-03-31T22:30Z")  # 00:30 CEST on Monday 1 April
    week = cli.ok("calendar", "--from", "2030-03-31", *BERLIN, "--json").json()
    assert by_day(week) == {"2030-03-31": [("00:30", "Before the change")]}
    after = cli.ok("calendar", "--from", "2030-04-01", *BERLIN, "--json").json()
    assert by_day(after) == {"2030-04-01": [("00:30", "After the change")]}


def test_month_view_covers_whole_weeks(sandbox: str, cli: Cli) -> None:
    create(cli, "Jan", "2030-01-15T12:00Z")
    create(cli, "Padding day", "2030-02-02T12:00Z")  # a Saturday in January's last week
    create(cli, "Later in February", "2030-02-04T12:00Z")
    data = cli.ok("calendar", "--month", "--from", "2030-01-20", *BERLIN, "--json").json()
    assert (data["from"], data["to"]) == ("2029-12-31", "2030-02-03")
    assert len(data["days"]) == 35
    assert date.fromisoformat(data["days"][0]["date"]).weekday() == 0
    assert by_day(data) == {
        "2030-01-15": [("13:00", "Jan")],
        "2030-02-02": [("13:00", "Padding day")],
    }
    grid = cli.ok("calendar", "--month", "--from", "2030-01-20", *BERLIN)
    assert "January 2030" in grid.stdout
    assert "#1 13:00" in grid.stdout and "Jan" in grid.stdout
    assert grid.stdout.count("\n") > 5 * 2  # one ruled row per week


def test_text_grid_shows_days_times_and_text(sandbox: str, cli: Cli) -> None:
    create(cli, "Hi all", "2030-01-08T23:30Z")
    create(cli, "Drafted", "2030-01-08T10:00Z", "--draft")
    run = cli.ok("calendar", "--from", "2030-01-07", *BERLIN)
    for needle in ("Mon 01-07", "Sun 01-13", "#1 00:30", "sandbox:demo", "Hi all", "Europe/Berlin"):
        assert needle in run.stdout
    assert "Drafted" not in run.stdout
    assert run.stderr == ""
    empty = cli.ok("calendar", "--from", "2031-06-01", *BERLIN)
    assert "Mon 05-26" in empty.stdout and "No posts" in empty.stderr


def test_without_from_it_shows_this_week_in_the_zone(sandbox: str, cli: Cli) -> None:
    def monday() -> str:
        today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
        return (today - timedelta(days=today.weekday())).isoformat()

    before = monday()
    data = cli.ok("calendar", "--tz", "Pacific/Kiritimati", "--json").json()
    assert data["from"] in {before, monday()}  # midnight may pass between the two
    post_id = create(cli, "Soon", "+1m")
    month = cli.ok("calendar", "--month", "--tz", "Pacific/Kiritimati", "--json").json()
    ids = [p["id"] for d in month["days"] for p in d["posts"]]
    assert post_id in ids


def test_a_time_names_its_day(sandbox: str, cli: Cli) -> None:
    data = cli.ok("calendar", "--from", "2030-01-09T23:30Z", *BERLIN, "--json").json()
    assert data["from"] == "2030-01-07"  # Thursday 00:30 in Berlin: the same week


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--from", "2030-13-01"], 5, "--from"),
        (["--from", "tomorrow"], 5, "YYYY-MM-DD"),
        (["--from", "2030/01/07"], 5, "--from"),
        (["--tz", "Mars/Olympus"], 5, "not a time zone"),
        (["--week", "--month"], 2, "--week or --month"),
    ],
)
def test_bad_options_are_refused(
    sandbox: str, cli: Cli, args: list[str], code: int, needle: str
) -> None:
    run = cli("calendar", *args)
    assert run.exit_code == code, run.stderr
    assert run.stderr.startswith("Error: ") and needle in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert run.stdout == ""


def test_move_reschedules_and_validates(sandbox: str, cli: Cli) -> None:
    post_id = create(cli, "Move me", "2030-01-07T08:00Z")
    moved = cli.ok("calendar", "move", post_id, "2030-01-09 10:00", *BERLIN, "--json").json()
    assert moved["id"] == post_id and moved["status"] == "scheduled"
    assert moved["scheduled_at"] == "2030-01-09T09:00:00+00:00"
    shown = cli.ok("posts", "show", post_id, "--json").json()
    assert shown["scheduled_at"] == "2030-01-09T09:00:00+00:00"
    assert by_day(cli.ok("calendar", "--from", "2030-01-07", *BERLIN, "--json").json()) == {
        "2030-01-09": [("10:00", "Move me")]
    }
    human = cli.ok("calendar", "move", post_id, "2030-01-10T12:00+01:00", *BERLIN)
    assert "Post " + post_id + " moved to Thu 2030-01-10 12:00 (Europe/Berlin)" in human.stderr

    past = cli("calendar", "move", post_id, "2020-01-01T09:00Z")
    assert past.exit_code == 5 and "in the past" in past.stderr
    bad = cli("calendar", "move", post_id, "next week")
    assert bad.exit_code == 5 and "is not a time" in bad.stderr
    missing = cli("calendar", "move", "9999", "+1h")
    assert missing.exit_code == 3 and "9999" in missing.stderr
    assert (
        cli.ok("posts", "show", post_id, "--json").json()["scheduled_at"]
        == "2030-01-10T11:00:00+00:00"
    )


def test_move_refuses_a_published_post(sandbox: str, cli: Cli) -> None:
    post = cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "Out", "--json").json()
    cli.ok("posts", "publish", post["id"])
    run = cli("calendar", "move", post["id"], "+1h")
    assert run.exit_code == 5 and "published" in run.stderr
