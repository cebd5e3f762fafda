"""Billing: off means nothing is limited and Stripe is never called; on, each limit holds
at its boundary on both engines (also for two processes racing for the last slot and
for an import), a downgrade lets scheduled posts publish, and Checkout, the portal,
sync and status go through the real `stripe` client to localstripe and our front."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from autopostr.config import load_settings
from tests.fakes.http_server import ScriptedServer
from tests.fakes.stripe_server import KEY, FakeStripe
from tests.helpers import (
    Cli,
    Team,
    billing_config,
    billing_event,
    database,
    db_session,
    make_due,
    one_error_line,
    own_team,
    run_once,
    write_csv,
)


def _count_posts() -> int:
    from sqlalchemy import func
    from sqlmodel import select

    from autopostr.models import Post

    with db_session() as session:
        return int(session.exec(select(func.count()).select_from(Post)).one())


def _scheduled(cli: Cli, text: str, at: str = "+1h") -> Any:
    return cli("posts", "create", "--text", text, "--to", "sandbox:demo", "--at", at)


@pytest.fixture
def no_stripe(hook: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> ScriptedServer:
    """A server that records anything sent to "Stripe": limit checks must send nothing."""
    monkeypatch.setenv("AUTOPOSTR_STRIPE_API_URL", hook.url)
    return hook


# -- billing off -------------------------------------------------------------------------


def test_billing_off_limits_nothing_and_calls_no_stripe(
    sandbox: str, cli: Cli, tmp_path: Path, no_stripe: ScriptedServer
) -> None:
    billing_config(tmp_path)  # tiny plans, but no STRIPE_SECRET_KEY
    for handle in ("a", "b", "c"):
        cli.ok("accounts", "add", "sandbox", "--handle", handle)
    for n in range(4):
        assert _scheduled(cli, f"off {n}").exit_code == 0
    for n in range(3):
        cli.ok("team", "invite", f"x{n}@example.com", "--role", "editor")
    status = cli.ok("billing", "status", "--json").json()
    assert status["enabled"] is False
    assert status["limits"] == dict.fromkeys(status["limits"])  # all null
    assert status["usage"]["accounts"] == 4 and status["usage"]["posts_per_month"] == 4

    from autopostr.billing.events import run_job

    assert run_job(database(), load_settings()) is None  # the daemon's job does nothing
    refused = cli("billing", "checkout", "pro")
    assert refused.exit_code == 5 and "STRIPE_SECRET_KEY" in one_error_line(refused.stderr)
    assert cli("billing", "sync").exit_code == 5
    assert no_stripe.received == []


# -- each limit at its boundary -------------------------------------------------------------


def test_accounts_posts_and_seats_at_their_boundaries(
    initialized: str,
    cli: Cli,
    tmp_path: Path,
    no_stripe: ScriptedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    billing_config(tmp_path)
    monkeypatch.setenv("STRIPE_SECRET_KEY", KEY)
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    cli.ok("accounts", "add", "sandbox", "--handle", "two")
    third = cli("accounts", "add", "sandbox", "--handle", "three")
    assert third.exit_code == 5
    line = one_error_line(third.stderr)
    for words in (
        "free plan",
        "accounts",
        "allows 2",
        "2 are used",
        "autopostr billing checkout pro",
    ):
        assert words in line, line
    # A disconnected account frees its slot; connecting it again takes one.
    cli.ok("accounts", "disconnect", "sandbox:two", "--yes")
    cli.ok("accounts", "add", "sandbox", "--handle", "three")
    assert cli("accounts", "add", "sandbox", "--handle", "two").exit_code == 5

    assert _scheduled(cli, "one").exit_code == 0
    assert _scheduled(cli, "two").exit_code == 0
    draft = cli.ok("posts", "create", "--text", "draft", "--to", "sandbox:demo", "--json")
    over = _scheduled(cli, "three")
    assert over.exit_code == 5
    line = one_error_line(over.stderr)
    for words in ("posts_per_month", "free plan", "allows 2", "2 are used", "billing month"):
        assert words in line, line
    draft_id = draft.json()["id"]
    assert cli("posts", "schedule", draft_id, "+2h").exit_code == 5
    assert cli("posts", "publish", draft_id).exit_code == 5
    # Rescheduling a counted post within the month is no new post.
    first = cli.ok("posts", "list", "--status", "scheduled", "--json").json()[0]["id"]
    cli.ok("posts", "schedule", first, "+3h")
    cli.ok("posts", "unschedule", first)
    cli.ok("posts", "schedule", draft_id, "+2h")  # the freed slot

    cli.ok("team", "invite", "a@example.com", "--role", "editor")  # owner + 1 = 2 seats
    seat = cli("team", "invite", "b@example.com", "--role", "editor")
    assert seat.exit_code == 5 and "seats" in one_error_line(seat.stderr)
    assert no_stripe.received == []  # no limit check asks Stripe


def test_ai_requests_count_answered_ones_and_hold_those_in_flight(
    initialized: str, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autopostr.ai import usage
    from autopostr.errors import LimitReached
    from autopostr.local_session import current_actor
    from autopostr.models import AiUsage

    billing_config(tmp_path)  # free: 2 AI requests a month
    monkeypatch.setenv("STRIPE_SECRET_KEY", KEY)
    settings, db = load_settings(), database()
    with db.session() as session:
        actor = current_actor(settings, db, session)
        session.add(
            AiUsage(user_id=actor.user_id, team_id=actor.team_id, feature="caption", ok=True)
        )
        # A failed request (answered with an error after 40 ms) does not count.
        session.add(
            AiUsage(user_id=actor.user_id, team_id=actor.team_id, feature="caption", duration_ms=40)
        )
    with db.session() as session:
        second = usage.reserve(session, actor, "caption", "m", 10, settings=settings)
    with db.session() as session, pytest.raises(LimitReached, match="ai_requests_per_month"):
        usage.reserve(session, actor, "caption", "m", 10, settings=settings)  # 1 in flight
    with db.session() as session:
        usage.finish(
            session, second, prompt_tokens=1, completion_tokens=1, duration=timedelta(0), ok=False
        )
        row = session.get(AiUsage, second)
        assert row is not None
        row.duration_ms = 5
        session.add(row)
    with db.session() as session:
        usage.reserve(session, actor, "caption", "m", 10, settings=settings)
    status = cli.ok("billing", "status", "--json").json()
    assert status["usage"]["ai_requests_per_month"] == 1  # only the answered one


def _racer(text: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autopostr",
            "posts",
            "create",
            "--text",
            text,
            "--to",
            "sandbox:demo",
            "--at",
            "+1h",
        ],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_processes_racing_for_the_last_slot_one_wins(
    sandbox: str, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    billing_config(tmp_path)
    monkeypatch.setenv("STRIPE_SECRET_KEY", KEY)
    monkeypatch.setenv("AUTOPOSTR_STRIPE_API_URL", "http://127.0.0.1:9")  # never called
    assert _scheduled(cli, "first").exit_code == 0  # 1 of 2 used
    racers = [_racer(f"racer {n}") for n in range(4)]
    results = [
        (proc.wait(timeout=120), proc.stderr.read() if proc.stderr else "") for proc in racers
    ]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 5, 5, 5], results
    assert all("posts_per_month" in err for code, err in results if code == 5)
    assert _count_posts() == 2


def test_an_import_over_the_monthly_limit_imports_nothing_and_says_what_fits(
    sandbox: str, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    billing_config(tmp_path, "\n[plans.free.extra]\nnote = 1\n")
    config = tmp_path / "config.toml"
    config.write_text(config.read_text().replace("posts_per_month = 2", "posts_per_month = 5", 1))
    monkeypatch.setenv("STRIPE_SECRET_KEY", KEY)
    monkeypatch.setenv("AUTOPOSTR_STRIPE_API_URL", "http://127.0.0.1:9")
    for n in range(3):
        assert _scheduled(cli, f"before {n}").exit_code == 0
    rows = (
        "".join(f"row {n},sandbox:demo,+{n + 1}h\n" for n in range(4)) + "a draft,sandbox:demo,\n"
    )
    path = write_csv(tmp_path, rows, header="text,accounts,at\n")
    refused = cli("posts", "import", str(path))
    assert refused.exit_code == 5
    line = one_error_line(refused.stderr)
    assert "this import would schedule 4 posts and 2 fit" in line, line
    assert "free plan allows 5" in line and "3 are used" in line
    assert _count_posts() == 3  # nothing imported, not even the draft
    dry = cli("posts", "import", str(path), "--dry-run")
    assert dry.exit_code == 5
    fits = write_csv(
        tmp_path,
        "fits 1,sandbox:demo,+1h\nfits 2,sandbox:demo,+2h\n",
        "fits.csv",
        "text,accounts,at\n",
    )
    cli.ok("posts", "import", str(fits))
    assert _count_posts() == 5


# -- a downgrade ---------------------------------------------------------------------------


def _subscribe(team_id: int, plan: str = "pro", status: str = "active") -> None:
    from autopostr.models import Subscription

    with db_session() as session:
        session.add(
            Subscription(
                team_id=team_id,
                plan=plan,
                status=status,
                stripe_customer_id="cus_downgrade",
                stripe_subscription_id="sub_downgrade",
            )
        )


def test_a_downgrade_still_publishes_what_was_scheduled(
    sandbox: str, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autopostr.billing import events

    billing_config(tmp_path)
    monkeypatch.setenv("STRIPE_SECRET_KEY", KEY)
    monkeypatch.setenv("AUTOPOSTR_STRIPE_API_URL", "http://127.0.0.1:9")
    team_id, _instance = own_team()
    _subscribe(team_id)
    posts = [_scheduled(cli, f"pro post {n}", "+1h") for n in range(4)]  # pro allows 5
    assert all(run.exit_code == 0 for run in posts)
    post_ids = [cli.ok("posts", "list", "--json").json()[n]["id"] for n in range(4)]
    ended = billing_event(
        "customer.subscription.deleted",
        {
            "id": "sub_downgrade",
            "object": "subscription",
            "customer": "cus_downgrade",
            "status": "canceled",
            "items": {"data": [{"plan": {"id": "price_pro_monthly"}}]},
        },
    )
    handled = events.apply_one(database(), load_settings(), ended, source="sync", fetch=None)
    assert handled.outcome == "applied"
    status = cli.ok("billing", "status", "--json").json()
    assert (status["plan"], status["status"]) == ("free", "canceled")
    assert _scheduled(cli, "one more").exit_code == 5  # new work is limited
    for post_id in post_ids:
        make_due(int(post_id))
    outcomes = run_once(cli)
    assert sorted(o["status"] for o in outcomes) == ["published"] * 4
    assert _count_posts() == 4  # nothing deleted


# -- through Stripe: checkout, sync, status, portal ---------------------------------------


def test_checkout_sync_status_and_portal_through_stripe(
    initialized: str, cli: Cli, stripe: FakeStripe, tmp_path: Path
) -> None:
    from sqlmodel import select

    from autopostr.models import BillingEvent

    before = len(stripe.customers())
    first = cli.ok("billing", "checkout", "pro", "--no-browser", "--json").json()
    again = cli.ok("billing", "checkout", "pro", "--no-browser").stdout.strip()
    assert again == first["url"]  # the same session, through its idempotency key
    assert len(stripe.customers()) == before + 1  # the team's customer, created once
    team_id, instance = own_team()
    customer = [
        c for c in stripe.customers() if c["metadata"].get("autopostr_instance") == instance
    ]
    assert [c["metadata"]["autopostr_team"] for c in customer] == [str(team_id)]

    stripe.complete_checkout(first["id"])
    stripe.emit("customer.discount.created", {"id": "di_1", "customer": customer[0]["id"]})
    synced = cli.ok("billing", "sync", "--json").json()
    assert synced["applied"] >= 2
    # localstripe is shared by the file's tests: other customers' events come along.
    ours = {
        item["type"]: item["outcome"] for item in synced["handled"] if item["team"] == str(team_id)
    }
    assert ours["checkout.session.completed"] == "applied"
    assert ours["customer.subscription.created"] == "applied"
    assert "customer.discount.created" in {
        item["type"] for item in synced["handled"] if item["outcome"] == "unknown"
    }
    status = cli.ok("billing", "status", "--json").json()
    assert {k: status[k] for k in ("enabled", "plan", "status")} == {
        "enabled": True,
        "plan": "pro",
        "status": "active",
    }
    assert status["period_end"] and status["limits"]["accounts"] == 5
    assert set(status) >= {"enabled", "plan", "status", "period_end", "limits", "usage"}
    human = cli.ok("billing", "status").stdout
    assert "pro" in human and "0/5" in human

    resynced = cli.ok("billing", "sync", "--json").json()
    assert resynced["applied"] == 0  # every event once
    with db_session() as session:
        rows = session.exec(select(BillingEvent)).all()
        assert len({row.id for row in rows}) == len(rows)
        assert any(row.outcome == "unknown" for row in rows)

    twice = cli("billing", "checkout", "team")
    assert twice.exit_code == 5 and "billing portal" in one_error_line(twice.stderr)
    portal = cli.ok("billing", "portal", "--no-browser", "--json").json()
    assert portal["url"].startswith(stripe.url) and portal["id"].startswith("bps_")

    sub_id = stripe.sessions[first["id"]]["subscription"]
    stripe.ls("DELETE", f"/v1/subscriptions/{sub_id}")
    cli.ok("billing", "sync")
    status = cli.ok("billing", "status", "--json").json()
    assert (status["plan"], status["status"]) == ("free", "canceled")


def test_checkout_refuses_a_plan_without_a_price_and_a_bad_key(
    initialized: str, cli: Cli, stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    free = cli("billing", "checkout", "free")
    assert free.exit_code == 5 and "stripe_price_monthly" in one_error_line(free.stderr)
    unknown = cli("billing", "checkout", "gold")
    assert unknown.exit_code == 5 and "free, pro, team" in one_error_line(unknown.stderr)
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_wrong_key_123")
    wrong = cli("billing", "checkout", "pro")
    line = one_error_line(wrong.stderr)
    assert wrong.exit_code == 4 and "sk_test_wrong_key_123" not in line


def test_only_owners_manage_billing(initialized: str, cli: Cli, tmp_path: Path) -> None:
    team = Team(cli, tmp_path, "editor")
    verbs = (
        ("status",),
        ("plans",),
        ("checkout", "pro"),
        ("portal",),
        ("sync",),
        ("webhook", "--listen", "127.0.0.1:9"),
    )
    for verb in verbs:
        run = team.as_member("billing", *verb)
        assert run.exit_code == 4, (verb, run)
        assert "owner role" in one_error_line(run.stderr) and "you are editor" in run.stderr


def test_doctor_shows_billing(initialized: str, cli: Cli, stripe: FakeStripe) -> None:
    from tests.helpers import doctor

    _code, checks = doctor(cli)
    assert checks["billing"]["status"] == "ok" and "on" in checks["billing"]["detail"]
    assert checks["billing sync"]["status"] == "warn"
    cli.ok("billing", "sync")
    _code, checks = doctor(cli)
    assert checks["billing sync"]["status"] == "ok"
    _code, checks = doctor(cli, STRIPE_SECRET_KEY="sk_test_nope")
    assert checks["billing"]["status"] == "fail"


def test_doctor_says_billing_is_off(initialized: str, cli: Cli) -> None:
    from tests.helpers import doctor

    _code, checks = doctor(cli)
    assert checks["billing"]["status"] == "ok" and "off" in checks["billing"]["detail"]
    assert "billing sync" not in checks


def test_the_daemon_runs_the_billing_sync() -> None:
    from autopostr.daemon.jobs import JOBS

    job = next(job for job in JOBS if job.name == "billing-sync")
    assert job.every <= timedelta(minutes=10)


def test_approving_a_post_counts_it(
    initialized: str, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = Team(cli, tmp_path, "editor", approval=True)
    billing_config(tmp_path)
    monkeypatch.setenv("STRIPE_SECRET_KEY", KEY)
    monkeypatch.setenv("AUTOPOSTR_STRIPE_API_URL", "http://127.0.0.1:9")
    held = team.as_member(
        "posts", "create", "--text", "an editor's", "--to", "sandbox:acme", "--at", "+2h", "--json"
    )
    assert held.exit_code == 0 and held.json()["status"] == "pending_approval"  # not counted
    team.post("--at", "+1h")
    team.post("--at", "+1h")  # the free plan's 2 posts
    refused = cli("posts", "approve", held.json()["id"])
    assert refused.exit_code == 5 and "posts_per_month" in one_error_line(refused.stderr)
    assert (
        cli.ok("posts", "show", held.json()["id"], "--json").json()["status"] == "pending_approval"
    )


def test_queued_rows_and_apply_are_held_to_the_monthly_limit(
    sandbox: str, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Posts whose time is known only once written (CSV rows with at = queue, `apply DIR`)
    are counted too: over the limit, nothing of the import or apply stays."""
    billing_config(tmp_path)  # the free plan: 2 posts a month
    monkeypatch.setenv("STRIPE_SECRET_KEY", KEY)
    monkeypatch.setenv("AUTOPOSTR_STRIPE_API_URL", "http://127.0.0.1:9")
    # Three slots on one day: the queued rows land in one billing month.
    cli.ok("queue", "slots", "set", "sandbox:demo", "mon-sun 09:00,09:10,09:20", "--tz", "UTC")
    queued = write_csv(
        tmp_path,
        "".join(f"row {n},sandbox:demo,queue\n" for n in range(3)),
        "queued.csv",
        "text,accounts,at\n",
    )
    refused = cli("posts", "import", str(queued))
    assert refused.exit_code == 5, refused.stderr
    line = one_error_line(refused.stderr)
    assert "allows 2" in line and "this import would schedule 3 posts there" in line, line
    assert _count_posts() == 0

    later = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d 12:00")
    folder = tmp_path / "content"
    folder.mkdir()
    for n in range(3):
        (folder / f"p{n}.md").write_text(f"---\nto: sandbox:demo\nat: {later}\n---\nPost {n}\n")
    refused = cli("apply", str(folder), "--yes")
    assert refused.exit_code == 5, refused.stderr
    assert "this apply would schedule 3 posts there" in one_error_line(refused.stderr)
    assert _count_posts() == 0
    (folder / "p2.md").unlink()
    cli.ok("apply", str(folder), "--yes")
    assert _count_posts() == 2
