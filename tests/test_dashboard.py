"""`dashboard`: counts by state, next due, failures, accounts and engagement, on both engines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from autopostr.states import PostState
from tests.helpers import Cli, db_session, make_due, new_post

POST_STATES = [state.value for state in PostState]

FAIL = {"AUTOPOSTR_SANDBOX_FAIL_RATE": "1", "AUTOPOSTR_MAX_ATTEMPTS": "1"}


def test_an_empty_team_has_zeros(sandbox: str, cli: Cli) -> None:
    data = cli.ok("dashboard", "--json").json()
    assert set(data) >= {"counts", "next_due", "failures", "accounts", "engagement"}
    assert data["counts"] == dict.fromkeys(POST_STATES, 0)
    assert data["next_due"] == [] and data["failures"] == []
    # No numbers yet: unknown, not zero.
    assert data["engagement"] == {
        "likes": None,
        "comments": None,
        "shares": None,
        "impressions": None,
    }
    assert data["engagement_period"]["fetched_at"] is None
    (account,) = data["accounts"]
    assert account["platform"] == "sandbox" and account["handle"] == "demo"
    assert account["status"] == "active"


def test_counts_failures_and_the_text_view(sandbox: str, cli: Cli) -> None:
    new_post(cli, "draft one")
    new_post(cli, "draft two")
    for hours in (1, 2, 3):
        new_post(cli, f"later {hours}", "--at", f"+{hours}h")
    published = new_post(cli, "goes out")
    cli.ok("posts", "publish", published)
    first_failure = new_post(cli, "fails first")
    assert cli("posts", "publish", first_failure, env=FAIL).exit_code == 6
    second_failure = new_post(cli, "fails second")
    assert cli("posts", "publish", second_failure, env=FAIL).exit_code == 6

    data = cli.ok("dashboard", "--json").json()
    assert data["counts"] == {
        **dict.fromkeys(POST_STATES, 0),
        "draft": 2,
        "scheduled": 3,
        "published": 1,
        "failed": 2,
    }
    assert [f["post"] for f in data["failures"]] == [second_failure, first_failure]
    failure = data["failures"][0]
    assert failure["account"] == "sandbox:demo" and failure["status"] == "failed"
    assert "simulated transient failure" in failure["error"]
    assert "gave up after 1 attempts" in failure["error"]
    assert failure["text"] == "fails second"

    run = cli.ok("dashboard")
    for needle in ("Posts", "Next due", "Recent failures", "later 1", "gave up after 1 attempts"):
        assert needle in run.stdout
    assert "sandbox:demo" in run.stdout


def test_next_due_is_soonest_first_and_capped_at_ten(sandbox: str, cli: Cli) -> None:
    offsets = [7, 3, 12, 1, 9, 5, 11, 2, 8, 4, 10, 6]  # hours from now, out of order
    ids = {hours: new_post(cli, f"in {hours}h", "--at", f"+{hours}h") for hours in offsets}
    new_post(cli, "a draft")
    overdue = new_post(cli, "left behind", "--at", "+30m")
    make_due(int(overdue))  # its time passed with no daemon running

    data = cli.ok("dashboard", "--json").json()
    due = data["next_due"]
    assert len(due) == 10
    assert [item["id"] for item in due] == [overdue] + [ids[h] for h in range(1, 10)]
    assert due[0]["overdue"] is True and not any(item["overdue"] for item in due[1:])
    times = [item["scheduled_at"] for item in due]
    assert times == sorted(times) and times[0].endswith("+00:00")
    assert due[1]["accounts"] == ["sandbox:demo"] and due[1]["text"] == "in 1h"
    assert data["counts"]["scheduled"] == 13


def test_accounts_show_their_status(sandbox: str, cli: Cli) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "gone")
    cli.ok("accounts", "disconnect", "--yes", "sandbox:gone")
    data = cli.ok("dashboard", "--json").json()
    assert {(a["handle"], a["status"]) for a in data["accounts"]} == {
        ("demo", "active"),
        ("gone", "disconnected"),
    }


def test_engagement_is_what_the_last_30_days_added_in_this_team(sandbox: str, cli: Cli) -> None:
    from autopostr.analytics.snapshots import Tracker, count_gains, row, write
    from autopostr.config import load_settings
    from autopostr.db import Database
    from autopostr.models import Post, PostDestination, SocialAccount, Team
    from autopostr.platforms.base import Metrics

    first = cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "a", "--json").json()
    second = cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "b", "--json").json()
    account_id = int(first["destinations"][0]["account_id"])
    dest_a = int(first["destinations"][0]["id"])
    dest_b = int(second["destinations"][0]["id"])
    today = date.today()

    def days(session: Any, account: int, dest: int, *seen: tuple[int, Metrics]) -> None:
        """What the sync writes for a post seen from the day it went out."""
        tracker = Tracker()
        published = today - timedelta(days=seen[0][0])
        for days_ago, metrics in seen:
            day = today - timedelta(days=days_ago)
            written = count_gains(metrics, day, tracker, published)
            tracker = written.tracker
            now = datetime.now(UTC)
            snapshot = row(account, dest, day, written, {}, now)
            write(session, Database(load_settings()), day, [snapshot], [], now)

    with db_session() as session:
        # Running totals: the 5 likes of 40 days ago are inside the 7 of yesterday, and
        # only the 2 added since count for the last 30 days.
        days(
            session,
            account_id,
            dest_a,
            (40, Metrics(likes=5, comments=1, shares=0, impressions=50)),
            (1, Metrics(likes=7, comments=2, shares=1, impressions=80)),
        )
        days(session, account_id, dest_b, (3, Metrics(likes=2, comments=0, shares=3)))
        # Another team's numbers stay theirs.
        other_team = Team(name="Other")
        session.add(other_team)
        session.flush()
        assert other_team.id is not None
        other = SocialAccount(team_id=other_team.id, platform="sandbox", handle="them")
        session.add(other)
        session.flush()
        assert other.id is not None
        theirs = Post(team_id=other_team.id, text="theirs")
        session.add(theirs)
        session.flush()
        assert theirs.id is not None
        their_destination = PostDestination(post_id=theirs.id, account_id=other.id)
        session.add(their_destination)
        session.flush()
        assert their_destination.id is not None
        days(session, other.id, their_destination.id, (2, Metrics(likes=500)))

    data = cli.ok("dashboard", "--json").json()
    assert data["engagement"] == {"likes": 2 + 2, "comments": 1, "shares": 1 + 3, "impressions": 30}
    assert "Engagement" in cli.ok("dashboard").stdout
