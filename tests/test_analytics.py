"""Analytics on SQLite and PostgreSQL: the sync against fake platforms (normalized and raw
values, same-day updates, unsupported is null, X's 30-day window, a 429 mid-sync, a
post deleted there, followers, an expired token, three daemons at once), and the
reports against numbers worked out by hand."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from autopostr.config import load_settings
from autopostr.db import Database
from autopostr.platforms import x as x_module
from tests.fakes.x_server import FakeX
from tests.helpers import Cli, db_session

ENGAGE = ("like_count", "reply_count", "retweet_count", "quote_count", "bookmark_count")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeX]:
    with FakeX() as server:
        monkeypatch.setenv("AUTOPOSTR_X_API_URL", server.url)
        monkeypatch.setenv("AUTOPOSTR_X_AUTH_URL", server.url)
        monkeypatch.setenv("AUTOPOSTR_X_CLIENT_ID", "x-client")
        monkeypatch.setenv("AUTOPOSTR_X_CLIENT_SECRET", "x-secret")
        monkeypatch.setattr(x_module, "_memory", x_module._Memory())
        yield server


@pytest.fixture
def x(initialized: str, cli: Cli, fake: FakeX) -> dict[str, Any]:
    """An X account, acme, on the fake."""
    token = fake.token()
    cli.ok("accounts", "add", "x", input=json.dumps({"handle": "acme", **token}))
    return token


def publish(cli: Cli, text: str, to: str = "x:acme") -> tuple[int, int]:
    """A post published now: (post id, destination id)."""
    post = cli.ok("posts", "create", "--to", to, "--text", text, "--json").json()
    cli.ok("posts", "publish", post["id"])
    return int(post["id"]), int(post["destinations"][0]["id"])


def remote_id(destination_id: int) -> str:
    from autopostr.models import PostDestination

    with db_session() as session:
        dest = session.get(PostDestination, destination_id)
        assert dest is not None and dest.remote_id
        return dest.remote_id


def backdate(destination_id: int, published_at: datetime) -> None:
    """What time passing does: the post went out then."""
    from autopostr.models import PostDestination

    with db_session() as session:
        dest = session.get(PostDestination, destination_id)
        assert dest is not None
        dest.published_at = published_at
        session.add(dest)


def run_sync(now: datetime | None = None, *, force: bool = False, worker: str | None = None) -> Any:
    from autopostr.analytics.sync import Scope, sync

    settings = load_settings()
    return sync(Database(settings), settings, scope=Scope(force=force), now=now, worker=worker)


def snapshots(destination_id: int | None = None, account: bool = False) -> list[Any]:
    from sqlmodel import col, select

    from autopostr.models import AnalyticsSnapshot as Snap

    with db_session() as session:
        query = select(Snap).order_by(col(Snap.day))
        if account:
            query = query.where(col(Snap.destination_id).is_(None))
        else:
            query = query.where(Snap.destination_id == destination_id)
        rows = list(session.exec(query))
        session.expunge_all()
        return rows


def noon(days_ago: int) -> datetime:
    today = datetime.now(UTC).date()
    day = today - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


# -- the sync --------------------------------------------------------------------------


def test_sync_writes_normalized_and_raw_values_and_null_for_the_unreported(
    x: dict[str, Any], cli: Cli, fake: FakeX
) -> None:
    _post, dest = publish(cli, "Counted")
    fake.metrics_growth = False
    fake.tweets[remote_id(dest)].metrics.update(
        like_count=12, reply_count=3, retweet_count=4, quote_count=1, bookmark_count=2,
        impression_count=900, private_impressions=950, url_link_clicks=7,
    )  # fmt: skip
    report = run_sync()
    assert (report.posts, report.accounts) == (1, 1)

    [row] = snapshots(dest)
    assert (row.likes, row.comments, row.shares, row.saves) == (12, 3, 5, 2)
    assert (row.impressions, row.clicks) == (950, 7)
    # X reports no reach or video views here: unknown, never 0.
    assert row.reach is None and row.video_views is None and row.followers is None
    raw = json.loads(row.raw)
    assert raw["public_metrics"]["like_count"] == 12
    assert raw["non_public_metrics"]["url_link_clicks"] == 7
    assert row.fetched_at is not None
    [followers] = snapshots(account=True)
    assert followers.followers == 1200 and followers.likes is None

    shown = cli.ok("analytics", "post", str(_post), "--json").json()
    [destination] = shown["destinations"]
    assert destination["metrics"]["likes"] == 12 and destination["metrics"]["reach"] is None
    assert destination["history"][0]["day"] == date.today().isoformat()
    assert shown["fetched_at"] and destination["gone"] is False


def test_a_second_sync_the_same_day_updates_that_days_row(
    x: dict[str, Any], cli: Cli, fake: FakeX
) -> None:
    _post, dest = publish(cli, "Twice")
    run_sync()
    [first] = snapshots(dest)
    run_sync(force=True)  # by hand, the same day: the fake's numbers grew meanwhile
    [second] = snapshots(dest)
    assert second.id == first.id and second.day == first.day
    assert second.likes == first.likes + 1 and second.impressions > first.impressions
    assert second.fetched_at > first.fetched_at
    # The day's sums take the rewrite's difference only: the post counts once.
    overview = cli.ok("analytics", "overview", "--json").json()
    assert overview["totals"]["likes"] == second.likes == second.likes_gain
    assert overview["totals"]["impressions"] == second.impressions
    # Nothing is due again in this period: the daemon's next look asks nothing.
    reads = dict(fake.metric_reads)
    assert run_sync().posts == 0 and dict(fake.metric_reads) == reads


def test_x_private_metrics_only_for_posts_up_to_30_days_old(
    x: dict[str, Any], cli: Cli, fake: FakeX
) -> None:
    _old_post, old = publish(cli, "Old news")
    _new_post, new = publish(cli, "Fresh news")
    backdate(old, datetime.now(UTC) - timedelta(days=40))
    fake.tweets[remote_id(old)].created_at -= timedelta(days=40)
    run_sync()
    asked = {r.query["ids"]: r.query["tweet.fields"] for r in fake.calls("GET", "/2/tweets")}
    assert asked == {
        remote_id(new): "public_metrics,non_public_metrics",
        remote_id(old): "public_metrics",
    }
    [old_row], [new_row] = snapshots(old), snapshots(new)
    assert old_row.clicks is None and new_row.clicks == 0
    assert old_row.impressions is not None


def test_a_rate_limit_pauses_that_account_and_the_others_go_on(
    x: dict[str, Any], cli: Cli, fake: FakeX
) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    _p, on_x = publish(cli, "On X")
    _q, on_sandbox = publish(cli, "On the sandbox", to="sandbox:demo")
    fake.rate_limit_after = 0  # X answers 429 from the first lookup, until its reset
    report = run_sync()

    assert set(report.paused) == {"x:acme"}
    assert abs(report.paused["x:acme"].timestamp() - fake.window_reset) < 5
    assert snapshots(on_x) == [] and len(snapshots(on_sandbox)) == 1
    # X's followers came before the limit: kept.
    assert {r.account_id for r in snapshots(account=True)} == {1, 2}

    lookups = fake.lookups
    assert run_sync(force=True).paused == {}  # by hand too, X waits for its reset
    assert fake.lookups == lookups
    fake.rate_limit_after = None
    after_reset = datetime.fromtimestamp(fake.window_reset + 60, UTC)
    assert run_sync(after_reset).posts >= 1
    assert [row.day for row in snapshots(on_x)] == [after_reset.date()]


def test_a_post_deleted_on_the_platform_is_marked_gone_and_not_asked_again(
    x: dict[str, Any], cli: Cli, fake: FakeX
) -> None:
    post, dest = publish(cli, "Soon gone")
    run_sync()
    fake.tweets[remote_id(dest)].deleted = True
    report = run_sync(force=True)
    assert report.gone == [f"post {post} on x:acme"]
    lookups = len(fake.calls("GET", "/2/tweets"))
    run_sync(force=True)
    run_sync(noon(-1))
    assert len(fake.calls("GET", "/2/tweets")) == lookups  # never asked again
    shown = cli.ok("analytics", "post", str(post), "--json").json()
    assert shown["destinations"][0]["gone"] is True
    assert len(shown["destinations"][0]["history"]) == 1  # the numbers it had are kept


def test_account_followers_over_days(x: dict[str, Any], cli: Cli, fake: FakeX) -> None:
    for days_ago, followers in ((2, 1000), (1, 1010), (0, 1035)):
        fake.followers = followers
        run_sync(noon(days_ago))
    rows = snapshots(account=True)
    assert [(r.followers, r.followers_gain) for r in rows] == [(1000, 0), (1010, 10), (1035, 25)]
    shown = cli.ok("analytics", "account", "x:acme", "--days", "3", "--json").json()
    assert shown["followers"] == 1035
    assert [h["followers"] for h in shown["followers_history"]] == [1000, 1010, 1035]
    assert shown["fetched_at"]


def test_an_expired_token_is_refreshed_once_and_a_refused_one_fails_alone(
    x: dict[str, Any], cli: Cli, fake: FakeX
) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    _p, dest = publish(cli, "Needs a fresh token")
    fake.oauth.expire(x["access_token"])
    assert run_sync().failed == {}
    assert len(snapshots(dest)) == 1
    assert [r["grant_type"] for r in fake.oauth.token_requests] == ["refresh_token"]

    # Now the refresh is refused too: X fails, the sandbox is still synced.
    _q, other = publish(cli, "Still counted", to="sandbox:demo")
    fake.oauth.access_tokens.clear()
    fake.oauth.refresh_tokens.clear()
    run = cli("analytics", "sync", "--json")
    assert run.exit_code == 6
    data = json.loads(run.stdout)
    assert [f["account"] for f in data["failed"]] == ["x:acme"]
    assert "re-authorisation" in data["failed"][0]["error"]
    assert len(snapshots(other)) == 1


def test_three_daemons_fetch_each_destination_once_per_period(
    x: dict[str, Any], cli: Cli, fake: FakeX
) -> None:
    from autopostr.analytics.sync import DEFAULT_INTERVAL

    ids = [remote_id(publish(cli, f"post {n}")[1]) for n in range(12)]
    now = datetime.now(UTC)
    start = threading.Barrier(3)
    failures: list[BaseException] = []

    def daemon(name: str, moment: datetime) -> None:
        try:
            start.wait()
            run_sync(moment, worker=name)
        except BaseException as exc:
            failures.append(exc)

    for period, moment in enumerate((now, now + timedelta(minutes=1), now + DEFAULT_INTERVAL)):
        threads = [threading.Thread(target=daemon, args=(f"daemon-{n}", moment)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not failures
        expected = 1 if period < 2 else 2  # the second look is in the same period
        assert {fake.metric_reads[i] for i in ids} == {expected}
    assert len(fake.calls("GET", "/2/users/me")) == 2  # followers too, once per period


def test_retention_deletes_old_snapshots(initialized: str, cli: Cli) -> None:
    from autopostr.models import AnalyticsSnapshot

    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    _p, dest = publish(cli, "Kept a while", to="sandbox:demo")
    old_day = date.today() - timedelta(days=800)
    with db_session() as session:
        session.add(AnalyticsSnapshot(account_id=1, destination_id=dest, day=old_day, likes=1))
        session.add(
            AnalyticsSnapshot(
                account_id=1, destination_id=dest, day=date.today() - timedelta(days=700), likes=2
            )
        )
    report = run_sync()
    assert report.deleted == 1
    assert snapshots(dest)[0].day == date.today() - timedelta(days=700)
    os.environ["AUTOPOSTR_ANALYTICS_RETENTION_DAYS"] = "30"
    try:
        assert run_sync(force=True).deleted == 1
    finally:
        del os.environ["AUTOPOSTR_ANALYTICS_RETENTION_DAYS"]


def test_sandbox_numbers_grow_with_the_posts_age(initialized: str, cli: Cli) -> None:
    from autopostr.platforms.base import AccountRef, Metrics, MetricsTarget
    from autopostr.platforms.sandbox import SandboxPlatform

    sandbox = SandboxPlatform(load_settings())
    account = AccountRef(1, "sandbox", "demo")
    now = datetime.now(UTC)
    ages = [timedelta(hours=1), timedelta(days=1), timedelta(days=20)]
    found = sandbox.post_metrics(
        account, [MetricsTarget(f"sbx_{n}", now - a) for n, a in enumerate(ages)]
    )
    young = sandbox.post_metrics(account, [MetricsTarget("sbx_2", now - timedelta(hours=1))])[
        "sbx_2"
    ]
    older = found["sbx_2"]
    assert isinstance(young, Metrics) and isinstance(older, Metrics)
    assert young.impressions is not None and older.impressions is not None
    assert young.impressions < older.impressions == sandbox.metrics(account, "sbx_2").impressions
    assert young.reach is None  # the sandbox has no reach
    assert sandbox.account_metrics(account).followers == sandbox.account_metrics(account).followers


# -- by hand, and who may -----------------------------------------------------------------


def test_sync_by_hand_reports_and_viewers_read_but_do_not_sync(
    initialized: str, cli: Cli, tmp_path: Any
) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    post, _dest = publish(cli, "Seen", to="sandbox:demo")
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    # Only posts published since tomorrow: none; the account is still asked.
    data = cli.ok("analytics", "sync", "--since", tomorrow, "--json").json()
    assert (data["posts"], data["accounts"]) == (0, 1)
    data = cli.ok("analytics", "sync", "--since", "1d", "--json").json()
    assert (data["posts"], data["accounts"]) == (1, 1) and data["fetched_at"]
    assert "Synced 1 post(s) and 1 account(s)" in cli.ok("analytics", "sync").stderr

    invite = cli.ok("team", "invite", "viewer@example.com", "--role", "viewer", "--json").json()
    cli.ok(
        "auth",
        "register",
        "--email",
        "viewer@example.com",
        "--name",
        "V",
        "--password-stdin",
        input="correct horse battery\n",
    )
    cli.ok("team", "join", "--token-stdin", input=invite["token"] + "\n")
    assert cli.ok("analytics", "overview", "--json").json()["totals"]["impressions"] is not None
    assert cli("analytics", "sync").exit_code == 4
    cli.ok("team", "create", "Elsewhere")
    assert cli("analytics", "post", str(post)).exit_code == 3  # another team's post


# -- reports against numbers worked out by hand ------------------------------------------


def set_numbers(fake: FakeX, tweet_id: str, likes: int, impressions: int) -> None:
    fake.tweets[tweet_id].metrics.update(
        dict.fromkeys(ENGAGE, 0),
        like_count=likes,
        impression_count=impressions,
        private_impressions=impressions,
        url_link_clicks=0,
    )


def test_overview_totals_and_change_against_the_previous_period(
    x: dict[str, Any], cli: Cli, fake: FakeX
) -> None:
    """A went out 20 days ago and was first seen 16 days ago (what it had then came
    before autopostr looked: not counted); B went out 12 days ago and was followed from
    the start. The period is the last 7 days, the previous one the 7 before.

        day      A likes/impr   B likes/impr   followers
        T-16       10 / 100         -             1200
        T-11       10 / 100       5 / 50          1203
        T-9        14 / 150       5 / 50          1206   <- previous period ends T-7
        T-3        20 / 260       5 / 50          1209
        T-2        20 / 260       9 / 90          1212
        T          21 / 300       9 / 90          1215

    This period: likes A 6+1 + B 4 = 11, impressions A 110+40 + B 40 = 190.
    Previous: likes A 4 + B 5 = 9, impressions A 50 + B 50 = 100.
    """
    fake.metrics_growth = False
    post_a, dest_a = publish(cli, "Post A")
    post_b, dest_b = publish(cli, "Post B")
    backdate(dest_a, noon(20))
    backdate(dest_b, noon(12))
    a, b = remote_id(dest_a), remote_id(dest_b)
    table = [
        (16, (10, 100), (0, 0), 1200),
        (11, (10, 100), (5, 50), 1203),
        (9, (14, 150), (5, 50), 1206),
        (3, (20, 260), (5, 50), 1209),
        (2, (20, 260), (9, 90), 1212),
        (0, (21, 300), (9, 90), 1215),
    ]
    for days_ago, (a_likes, a_impr), (b_likes, b_impr), followers in table:
        set_numbers(fake, a, a_likes, a_impr)
        set_numbers(fake, b, b_likes, b_impr)
        fake.followers = followers
        run_sync(noon(days_ago))

    data = cli.ok("analytics", "overview", "--days", "7", "--json").json()
    today = date.today()
    assert (data["from"], data["to"]) == (
        (today - timedelta(days=6)).isoformat(),
        today.isoformat(),
    )
    assert (data["totals"]["likes"], data["totals"]["impressions"]) == (11, 190)
    assert (data["previous"]["likes"], data["previous"]["impressions"]) == (9, 100)
    assert data["change"]["likes"] == round(2 / 9, 4)
    assert data["change"]["impressions"] == 0.9
    assert (data["totals"]["followers"], data["previous"]["followers"]) == (1215, 1206)
    assert data["change"]["followers"] == round(9 / 1206, 4)
    # Nothing reports reach: null, and so are its comparisons.
    assert data["totals"]["reach"] is None and data["change"]["reach"] is None
    assert data["by_platform"]["x"]["likes"] == 11
    assert [(t["post"], t["engagement"]) for t in data["top_posts"]] == [
        (str(post_a), 7),
        (str(post_b), 4),
    ]
    likes_by_day = {p["day"]: p["value"] for p in data["daily"]["likes"]}
    assert likes_by_day[(today - timedelta(days=3)).isoformat()] == 6
    assert likes_by_day[(today - timedelta(days=2)).isoformat()] == 4
    assert likes_by_day[today.isoformat()] == 1
    assert likes_by_day[(today - timedelta(days=1)).isoformat()] is None
    assert data["fetched_at"]

    # The previous 7 days of a 3-day period ago hold nothing: no invented change.
    older = cli.ok("analytics", "overview", "--days", "30", "--json").json()
    assert older["previous"]["likes"] is None and older["change"]["likes"] is None
    assert older["totals"]["likes"] == 20  # A 4+6+1 (first sight not counted) + B 5+4

    rows = cli.ok("analytics", "export", "--format", "json", "--by", "day").json()
    assert sum(r["likes"] or 0 for r in rows) == 20
    csv_text = cli.ok(
        "analytics", "export", "--from", (today - timedelta(days=3)).isoformat()
    ).stdout
    lines = csv_text.splitlines()
    assert lines[0].startswith("day,post,destination,account,platform,impressions")
    assert len(lines) == 1 + 2 * 3  # two posts, three days (T-3, T-2, T)

    dashboard = cli.ok("dashboard", "--json").json()
    assert dashboard["engagement"]["likes"] == 20
    assert dashboard["engagement_period"]["fetched_at"]


def test_best_times_rank_the_slots_by_engagement_per_impression(
    x: dict[str, Any], cli: Cli, fake: FakeX
) -> None:
    """Slot (UTC)     posts  likes        impressions   rate
    Mon 09:00       3   5, 5, 8      3 × 100       18/300 = 0.06
    Tue 14:00       3   2, 2, 2      3 × 200        6/600 = 0.01
    Wed 18:00       2   4, 6         2 × 50        10/100 = 0.10
    Thu 08:00       1   5            10             5/10  = 0.50 (one post: not named)
    Fri 20:00       3   3, 3, 3      3 × 100        9/300 = 0.03
    """
    fake.metrics_growth = False
    today = date.today()
    monday = today - timedelta(days=today.weekday() + 14)
    plan = [
        (0, 9, [(5, 100), (5, 100), (8, 100)]),
        (1, 14, [(2, 200), (2, 200), (2, 200)]),
        (2, 18, [(4, 50), (6, 50)]),
        (3, 8, [(5, 10)]),
        (4, 20, [(3, 100), (3, 100), (3, 100)]),
    ]
    n = 0
    for weekday, hour, posts in plan:
        for likes, impressions in posts:
            n += 1
            _post, dest = publish(cli, f"timed {n}")
            day = monday + timedelta(days=weekday)
            backdate(dest, datetime(day.year, day.month, day.day, hour, 10, tzinfo=UTC))
            set_numbers(fake, remote_id(dest), likes, impressions)
    run_sync()

    data = cli.ok("analytics", "best-times", "--tz", "UTC", "--json").json()
    assert data["posts"] == 12 and data["note"] is None
    assert [(t["slot"], t["rate"], t["posts"]) for t in data["top"]] == [
        ("Wed 18:00–19:00", 0.1, 2),
        ("Mon 09:00–10:00", 0.06, 3),
        ("Fri 20:00–21:00", 0.03, 3),
    ]
    assert data["heatmap"][3][8] == 0.5 and data["counts"][3][8] == 1
    assert data["heatmap"][1][14] == 0.01 and data["heatmap"][6][0] is None

    few = cli.ok("analytics", "best-times", "--days", "1", "--json")
    assert few.json()["note"].startswith("too little data")
    assert "too little data" in few.stderr


# -- charts ------------------------------------------------------------------------------


def test_charts_fit_80_columns_and_a_pipe_gets_plain_text(initialized: str, cli: Cli) -> None:
    from autopostr.cli.charts import daily_charts

    series = [
        {"day": (date.today() - timedelta(days=n)).isoformat(), "value": (n * 37) % 50}
        for n in range(30, 0, -1)
    ]
    [chart] = daily_charts({"likes": series}, width=80)
    lines = chart.splitlines()
    assert "likes per day" in lines[0] and any("█" in line for line in lines)
    assert max(len(line) for line in lines) <= 80
    assert "\x1b[" not in chart  # NO_COLOR

    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    publish(cli, "Charted", to="sandbox:demo")
    run_sync()
    piped = cli.ok("analytics", "overview").stdout
    assert "By day" in piped and "█" not in piped and "┤" not in piped


@pytest.mark.slow
def test_overview_draws_charts_in_an_80_column_terminal(initialized: str, cli: Cli) -> None:
    from tests.terminal import run_in_terminal

    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    publish(cli, "Charted", to="sandbox:demo")
    run_sync()
    screen = run_in_terminal("analytics", "overview", "--days", "7", env={"COLUMNS": "80"})
    assert screen.exit_code == 0, screen.output
    assert "impressions per day" in screen.output and "┤" in screen.output
    assert max(len(line) for line in screen.output.splitlines()) <= 80
    assert "Data as of" in screen.output


def test_the_daemon_runs_the_sync_on_a_beat_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    from autopostr.daemon.jobs import JOBS

    [job] = [j for j in JOBS if j.name == "analytics-sync"]
    assert job.interval(load_settings()) == timedelta(minutes=15)
    monkeypatch.setenv("AUTOPOSTR_ANALYTICS_INTERVAL", "5m")
    assert job.interval(load_settings()) == timedelta(minutes=5)
    from autopostr.analytics.sync import next_period

    moment = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)
    assert next_period(moment, timedelta(hours=6)) == datetime(2026, 12, 2, 12, tzinfo=UTC)
