"""`dashboard`: counts by state, next due, failures, accounts and engagement, on both engines."""

from __future__ import annotations

from datetime import date

from autopostr.states import PostState
from tests.helpers import Cli, db_session, make_due, new_post

POST_STATES = [state.value for state in PostState]

FAIL = {"AUTOPOSTR_SANDBOX_FAIL_RATE": "1", "AUTOPOSTR_MAX_ATTEMPTS": "1"}


def test_an_empty_team_has_zeros(sandbox: str, cli: Cli) -> None:
    data = cli.ok("dashboard", "--json").json()
    assert set(data) >= {"counts", "next_due", "failures", "accounts", "engagement"}
    assert data["counts"] == dict.fromkeys(POST_STATES, 0)
    assert data["next_due"] == [] and data["failures"] == []
    assert data["engagement"] == {"likes": 0, "comments": 0, "shares": 0, "impressions": 0}
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


def test_engagement_sums_each_posts_latest_snapshot(sandbox: str, cli: Cli) -> None:
    from autopostr.models import AnalyticsSnapshot, Post, PostDestination, SocialAccount, Team

    first = cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "a", "--json").json()
    second = cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "b", "--json").json()
    account_id = int(first["destinations"][0]["account_id"])
    dest_a = int(first["destinations"][0]["id"])
    dest_b = int(second["destinations"][0]["id"])

    def snap(account: int, dest: int | None, day: int, **metrics: int) -> AnalyticsSnapshot:
        return AnalyticsSnapshot.model_validate(
            {"account_id": account, "destination_id": dest, "day": date(2030, 1, day), **metrics}
        )

    with db_session() as session:
        # Running totals: yesterday's 5 likes are inside today's 7.
        session.add(snap(account_id, dest_a, 1, likes=5, comments=1, shares=0, impressions=50))
        session.add(snap(account_id, dest_a, 2, likes=7, comments=2, shares=1, impressions=80))
        session.add(snap(account_id, dest_b, 1, likes=2, comments=0, shares=3, impressions=20))
        # Account-level figures are not post engagement.
        session.add(snap(account_id, None, 2, likes=1000, impressions=9999, followers=42))
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
        session.add(snap(other.id, their_destination.id, 1, likes=500))

    data = cli.ok("dashboard", "--json").json()
    assert data["engagement"] == {"likes": 9, "comments": 2, "shares": 4, "impressions": 100}
    assert "Engagement" in cli.ok("dashboard").stdout
