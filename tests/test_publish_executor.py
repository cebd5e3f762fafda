"""Publishing at the top of the hour: many calls in flight, one at a time per account,
a ceiling per platform, claims of only what can be sent now, and media the platform is
still processing waiting in `processing` without holding a slot or being uploaded twice."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from autopostr.config import load_settings
from autopostr.daemon.executor import CallNotStarted, PublishExecutor, Task
from autopostr.db import Database
from autopostr.queue.claims import claim_due
from tests.helpers import (
    Cli,
    Daemons,
    db_session,
    destination,
    due_post,
    new_post,
    run_once,
    sandbox_lines,
    wait_until,
)
from tests.media_samples import image

# -------------------------------------------------------------------- the executor


class Calls:
    """Work that records when it ran, and waits to be let go."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.order: list[int] = []
        self.running: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self.release = threading.Event()

    def work(self, key: str, number: int) -> Callable[[], int]:
        def run() -> int:
            with self.lock:
                self.order.append(number)
                self.running[key] = self.running.get(key, 0) + 1
                self.most[key] = max(self.most.get(key, 0), self.running[key])
            self.release.wait(10)
            with self.lock:
                self.running[key] -= 1
            return number

        return run


def settle(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def executor() -> Iterator[Callable[..., PublishExecutor]]:
    made: list[PublishExecutor] = []

    def make(capacity: int, **bounds: Any) -> PublishExecutor:
        made.append(PublishExecutor(capacity, **bounds))
        return made[-1]

    yield make
    for pool in made:
        pool.shutdown()


def test_a_pool_that_finishes_fast_claims_a_fifth_of_a_seconds_work_at_once(
    executor: Callable[..., PublishExecutor],
) -> None:
    """Eight 50 ms calls at once: claims of 8 paid a claim's fixed cost every 50 ms; a
    claim takes what the pool finishes in HOLD_SECONDS, so a daemon holds no more than
    that of work another daemon could do. Idle again, the next burst starts at the pace
    the last one kept, not at claims of 8 until its first calls are back."""
    pool = executor(8, platform_ceiling=lambda _p: 1000)
    pool.RATE_WINDOW = 0.5  # the window empties sooner
    assert pool.claim_batch() == pool.batch == 8  # no pace yet: the pool's size
    assert pool.free() == 16
    calls = Calls()
    calls.release.set()
    futures = [
        pool.submit(Task(n, account_id=n, platform="x", run=calls.work(f"a{n}", n)))
        for n in range(200)
    ]
    assert sorted(f.result(5) for f in futures) == list(range(200))
    settle(lambda: pool.held() == 0)
    # 200 done in well under RATE_WINDOW: hundreds a second, so a claim takes 64 (the
    # most), beside the pool's 8 and a reserve of 8 for the claim's own round trip.
    assert pool.claim_batch() == 64
    assert pool.free() == 8 + 8 + 64
    time.sleep(0.6)  # past the window: nothing finished lately
    assert pool.claim_batch() == 64 and pool.free() == 8 + 8 + 64


def test_while_every_slot_is_busy_a_sliver_of_a_batch_is_not_worth_a_claim(
    executor: Callable[..., PublishExecutor],
) -> None:
    """Room for two or three more (calls that ended during the last claim) made claims of
    two or three, each costing as much as one of thirty; with a slot idle, any room is
    claimed, since something could start at once."""
    pool = executor(8, platform_ceiling=lambda _p: 1000)
    calls = Calls()
    futures = [
        pool.submit(Task(n, account_id=n, platform="x", run=calls.work("x", n))) for n in range(7)
    ]
    settle(lambda: pool.running() == 7)
    # Six more for an account already calling: they wait, and a slot is idle.
    futures += [
        pool.submit(Task(10 + n, account_id=0, platform="x", run=calls.work("x", n)))
        for n in range(6)
    ]
    assert pool.held() == 13 and pool.free() == 8 + 8 - 13
    futures.append(pool.submit(Task(99, account_id=99, platform="x", run=calls.work("x", 99))))
    settle(lambda: pool.running() == 8)
    assert pool.held() == 14 and pool.free() == 0  # 2 of a batch of 8, every slot busy
    calls.release.set()
    for future in futures:
        future.result(5)
    assert pool.free() > 0


def test_a_thread_whose_task_ended_runs_the_next_call_itself(
    executor: Callable[..., PublishExecutor],
) -> None:
    """Waking another thread for the next call cost a tenth of a publish's CPU: the
    thread that just finished takes it. A slot given back early (`Task.release`, the
    task still going on) hands the next call to another thread (see above)."""
    pool = executor(1)
    threads: list[str] = []

    def call(number: int) -> Callable[[], int]:
        def run() -> int:
            threads.append(threading.current_thread().name)
            time.sleep(0.05)
            return number

        return run

    futures = [pool.submit(Task(n, account_id=7, platform="x", run=call(n))) for n in range(4)]
    assert [future.result(5) for future in futures] == [0, 1, 2, 3]
    assert len(threads) == 4 and len(set(threads)) == 1, threads


def test_hundreds_of_calls_wait_at_once_in_one_daemon(
    executor: Callable[..., PublishExecutor],
) -> None:
    calls = Calls()
    pool = executor(300, platform_ceiling=lambda _p: 1000)
    futures = [
        pool.submit(Task(n, account_id=n, platform="x", run=calls.work(f"a{n}", n)))
        for n in range(300)
    ]
    settle(lambda: len(calls.order) == 300)  # all 300 are in their call at once
    # Beyond them, the daemon takes one batch to start as calls end, and no more.
    assert pool.free() == pool.batch == 64
    futures += [
        pool.submit(Task(n, account_id=n, platform="x", run=calls.work(f"a{n}", n)))
        for n in range(300, 364)
    ]
    assert pool.free() == 0 and pool.running() == 300
    calls.release.set()
    assert sorted(f.result(5) for f in futures) == list(range(364))
    settle(lambda: pool.held() == 0)


def test_a_call_that_is_over_gives_its_slot_back_while_its_outcome_is_written(
    executor: Callable[..., PublishExecutor],
) -> None:
    """The slots bound calls in flight: the next call starts while the last one's
    outcome waits for its commit (here: held), on the same account too."""
    pool = executor(1)
    committed = threading.Event()
    started: list[str] = []

    def first() -> str:
        started.append("first")
        tasks[0].release()  # the call is over; now "writing"
        committed.wait(10)
        return "first"

    def second() -> str:
        started.append("second")
        return "second"

    tasks = [
        Task(1, account_id=7, platform="x", run=first),
        Task(2, account_id=7, platform="x", run=second),
    ]
    futures = [pool.submit(task) for task in tasks]
    assert futures[1].result(5) == "second"  # while the first still writes
    assert not futures[0].done() and started == ["first", "second"]
    assert pool.held() == 0 and pool.running() == 0
    committed.set()
    assert futures[0].result(5) == "first"
    tasks[0].release()  # a second release changes nothing
    assert pool.held() == 0 and pool.running() == 0


def test_one_call_at_a_time_per_account_in_the_order_handed_over(
    executor: Callable[..., PublishExecutor],
) -> None:
    calls = Calls()
    pool = executor(50)
    futures = [
        pool.submit(Task(n, account_id=n % 2, platform="x", run=calls.work(f"a{n % 2}", n)))
        for n in range(10)
    ]
    settle(lambda: len(calls.order) == 2)
    time.sleep(0.1)
    assert sorted(calls.order) == [0, 1]  # the other eight wait for their account
    calls.release.set()
    for future in futures:
        future.result(5)
    assert calls.most == {"a0": 1, "a1": 1}
    assert [n for n in calls.order if n % 2 == 0] == [0, 2, 4, 6, 8]
    assert [n for n in calls.order if n % 2 == 1] == [1, 3, 5, 7, 9]


def test_a_platform_taking_several_posts_of_an_account_gets_that_many(
    executor: Callable[..., PublishExecutor],
) -> None:
    calls = Calls()
    pool = executor(50, account_limit=lambda platform: 3 if platform == "wide" else 1)
    for n in range(6):
        pool.submit(Task(n, account_id=1, platform="wide", run=calls.work("wide", n)))
        pool.submit(Task(100 + n, account_id=2, platform="x", run=calls.work("x", n)))
    settle(lambda: len(calls.order) == 4)
    time.sleep(0.1)
    assert calls.most == {"wide": 3, "x": 1}
    calls.release.set()
    settle(lambda: pool.held() == 0)


def test_the_platform_ceiling_bounds_calls_to_one_platform(
    executor: Callable[..., PublishExecutor],
) -> None:
    calls = Calls()
    pool = executor(50, platform_ceiling=lambda platform: 2 if platform == "slow" else 50)
    for n in range(8):
        pool.submit(Task(n, account_id=n, platform="slow", run=calls.work("slow", n)))
        pool.submit(Task(100 + n, account_id=100 + n, platform="fast", run=calls.work("fast", n)))
    settle(lambda: len(calls.order) == 10)
    time.sleep(0.1)
    assert calls.most == {"slow": 2, "fast": 8}
    calls.release.set()
    settle(lambda: len(calls.order) == 16 and pool.held() == 0)
    assert calls.most["slow"] == 2


def test_shutdown_cancels_what_did_not_start(executor: Callable[..., PublishExecutor]) -> None:
    calls = Calls()
    pool = executor(10)
    first = pool.submit(Task(1, account_id=1, platform="x", run=calls.work("a", 1)))
    queued = pool.submit(Task(2, account_id=1, platform="x", run=calls.work("a", 2)))
    settle(lambda: calls.order == [1])
    pool.shutdown()
    assert queued.cancelled()
    calls.release.set()
    assert first.result(5) == 1
    assert calls.order == [1]


def test_calls_refused_at_their_start_never_run_and_give_their_slot_back(
    executor: Callable[..., PublishExecutor],
) -> None:
    """A daemon whose outcomes cannot be written starts no more calls: the claims lapse
    and are recovered, rather than published by a daemon that cannot record them."""
    calls = Calls()
    calls.release.set()
    refusal: list[str] = []
    pool = executor(2, may_call=lambda: refusal[0] if refusal else None)
    assert pool.submit(Task(1, account_id=1, platform="x", run=calls.work("a", 1))).result(5) == 1
    refusal.append("the writer is stalled")
    refused = pool.submit(Task(2, account_id=2, platform="x", run=calls.work("a", 2)))
    with pytest.raises(CallNotStarted, match="the writer is stalled"):
        refused.result(5)
    assert calls.order == [1]
    settle(lambda: pool.running() == 0 and pool.calling() == set())


def test_the_calls_under_way_are_told_apart_from_those_waiting(
    executor: Callable[..., PublishExecutor],
) -> None:
    calls = Calls()
    pool = executor(1)
    pool.submit(Task(7, account_id=1, platform="x", run=calls.work("a", 7)))
    pool.submit(Task(8, account_id=1, platform="x", run=calls.work("a", 8)))
    settle(lambda: calls.order == [7])
    assert pool.calling() == {7}
    calls.release.set()
    settle(lambda: calls.order == [7, 8] and pool.calling() == set())


# ----------------------------------------------------------------- the claim


@pytest.fixture
def three_accounts(initialized: str, cli: Cli) -> list[str]:
    handles = ["a", "b", "c"]
    for handle in handles:
        cli.ok("accounts", "add", "sandbox", "--handle", handle)
    for handle in handles:
        for n in range(3):
            due_post(cli, f"{handle} {n}", to=f"sandbox:{handle}")
    return handles


def claimed_accounts(db: Database, claims: list[Any]) -> list[int]:
    from autopostr.models import PostDestination

    with db_session() as session:
        rows = [session.get(PostDestination, c.destination_id) for c in claims]
        return sorted(row.account_id for row in rows if row is not None)


def test_calls_go_on_while_outcomes_wait_for_their_commit_without_holding_threads(
    three_accounts: list[str],
    isolated_env: Path,
    executor: Callable[..., PublishExecutor],
) -> None:
    """A worker hands its outcome to the writer and takes the next call: with the
    writer held up (its posts locked by another transaction), every call is made, far
    more than the pool has threads, and each task ends once its outcome is committed."""
    import psycopg

    from autopostr.daemon.executor import task_for
    from autopostr.outcomes import start_batched_finishing, stop_batched_finishing
    from autopostr.publishing import prepare

    settings = load_settings()
    db = Database(settings)
    jobs = prepare(db, settings, claim_due(db, "w1", 100))
    assert len(jobs) == 9
    start_batched_finishing(db)
    calls = lambda: sum(len(sandbox_lines(isolated_env, h)) for h in three_accounts)  # noqa: E731
    try:
        if db.url.dialect == "postgresql":
            url = db.url.url.replace("postgresql+psycopg://", "postgresql://", 1)
            holder: Any = psycopg.connect(url)
            holder.execute("SELECT id FROM posts FOR UPDATE")
        else:
            import sqlite3

            assert db.url.sqlite_path is not None
            holder = sqlite3.connect(db.url.sqlite_path, isolation_level=None, timeout=30)
            holder.execute("BEGIN IMMEDIATE")  # the writer's transaction waits for it
        pool = executor(1, account_limit=lambda _platform: 4)
        assert pool.capacity + pool.batch == 2  # the pool's threads
        futures = [pool.submit(task_for(db, settings, "w1", job)) for job in jobs]
        settle(lambda: calls() == 9, timeout=10)
        assert not any(future.done() for future in futures)  # nothing committed yet
        holder.rollback() if db.url.dialect == "postgresql" else holder.execute("ROLLBACK")
        holder.close()
        assert {future.result(15).status for future in futures} == {"published"}
    finally:
        stop_batched_finishing(db)


def test_a_daemon_claims_only_what_each_account_can_take_now(three_accounts: list[str]) -> None:
    db = Database(load_settings())
    first = claim_due(db, "w1", 100, per_account={"sandbox": 1})
    assert claimed_accounts(db, first) == [1, 2, 3]  # the earliest of each account
    # Another daemon finds every account busy: nothing for it until one finishes.
    assert claim_due(db, "w2", 100, per_account={"sandbox": 1}) == []
    # Where the platform takes two at once, one more each.
    second = claim_due(db, "w2", 100, per_account={"sandbox": 2})
    assert claimed_accounts(db, second) == [1, 2, 3]
    # `daemon run --once` and `posts publish` still take everything due.
    assert len(claim_due(db, "w3", 100)) == 3


def test_two_daemons_claiming_at_once_never_exceed_what_an_account_takes(
    initialized: str, cli: Cli
) -> None:
    """Daemon A's claim is under way (its transaction open) when daemon B claims: B
    counts the account's room from before A's claim, yet must not take the account's
    next post beside the one A holds. Each takes only the account's earliest rows (as
    many as its room), and the one A locked is skipped, not replaced by the next."""
    from autopostr.queue.claims import claim_due_in

    if initialized != "postgresql":
        pytest.skip("SQLite's claims are serialised by BEGIN IMMEDIATE")
    cli.ok("accounts", "add", "sandbox", "--handle", "solo")
    for n in range(2):
        due_post(cli, f"solo {n}", to="sandbox:solo")
    db = Database(load_settings())
    one_at_a_time = {"sandbox": 1}
    with db.transaction() as conn:
        first = claim_due_in(conn, "daemon-a", 8, per_account=one_at_a_time)
        assert len(first) == 1
        assert claim_due(db, "daemon-b", 8, per_account=one_at_a_time) == []
    # A's claim committed: the account is busy, for B as for anyone.
    assert claim_due(db, "daemon-b", 8, per_account=one_at_a_time) == []


def test_the_claim_takes_each_accounts_posts_in_due_order(three_accounts: list[str]) -> None:
    from autopostr.models import PostDestination

    db = Database(load_settings())
    taken: list[int] = []
    for _ in range(3):
        claims = claim_due(db, "w1", 100, per_account={"sandbox": 1})
        taken += [c.destination_id for c in claims]
        with db_session() as session:  # they finish: the accounts are free again
            for claim in claims:
                row = session.get(PostDestination, claim.destination_id)
                assert row is not None
                row.status = "published"
                session.add(row)
    with db_session() as session:
        by_account: dict[int, list[int]] = {}
        for dest_id in taken:
            row = session.get(PostDestination, dest_id)
            assert row is not None
            by_account.setdefault(row.account_id, []).append(dest_id)
    assert all(ids == sorted(ids) for ids in by_account.values())
    assert sorted(len(ids) for ids in by_account.values()) == [3, 3, 3]


def test_an_account_with_a_long_queue_does_not_hold_back_the_others(
    initialized: str, cli: Cli
) -> None:
    """One account's forty posts fell due before the others' one each: a claim still takes
    one of that account's and every other account's earliest, in due order."""
    from sqlmodel import func, select

    from autopostr.models import PostDestination

    for handle in ("busy", "b", "c", "d"):
        cli.ok("accounts", "add", "sandbox", "--handle", handle)
    for n in range(40):
        due_post(cli, f"busy {n}", to="sandbox:busy")
    others = [due_post(cli, f"{handle} 0", to=f"sandbox:{handle}") for handle in "bcd"]
    db = Database(load_settings())
    claims = claim_due(db, "w1", 8, per_account={"sandbox": 1})
    assert sorted(str(c.post_id) for c in claims if str(c.post_id) in others) == sorted(others)
    assert len(claims) == 4
    with db_session() as session:
        busy = [c for c in claims if str(c.post_id) not in others]
        first_of_busy = session.exec(
            select(func.min(PostDestination.id)).where(PostDestination.account_id == 1)
        ).one()
        assert [c.destination_id for c in busy] == [first_of_busy]


# ------------------------------------------------------- media still processing


def uploads(home: Path, handle: str = "demo") -> list[dict[str, Any]]:
    path = home / "sandbox" / f"{handle}.uploads.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def check_now(*, processed: bool = False) -> None:
    """Time passes until the next processing check is due (and, `processed`, until the
    sandbox has processed the media)."""
    from sqlmodel import select

    from autopostr.models import PostDestination, utcnow

    with db_session() as session:
        for dest in session.exec(
            select(PostDestination).where(PostDestination.status == "processing")
        ):
            dest.next_attempt_at = utcnow()
            if processed and dest.resume:
                dest.resume = json.dumps({**json.loads(dest.resume), "ready_at": 0})
            session.add(dest)


def test_media_still_processing_waits_without_a_slot_and_is_never_uploaded_twice(
    sandbox: str, cli: Cli, tmp_path: Path, isolated_env: Path
) -> None:
    picture = image(tmp_path / "p.png", "PNG")
    media_post = due_post(cli, "with media", "--media", str(picture))
    text_post = due_post(cli, "text only")
    slow = {"AUTOPOSTR_SANDBOX_PROCESSING_SECONDS": "600"}
    outcomes = {o["post"]: o["status"] for o in run_once(cli, **slow)}
    # The text post went out; the media one waits on the platform, holding nothing.
    assert outcomes == {media_post: "processing", text_post: "published"}
    shown = destination(cli, media_post)
    assert shown["status"] == "processing" and shown["next_attempt_at"]
    assert "waiting on Sandbox to finish processing the media" in shown["error"]
    assert cli.ok("posts", "show", media_post).stdout.count("processing") >= 1
    assert len(uploads(isolated_env)) == 1
    # Not due again before its check; another process (a restart) picks it up then.
    assert run_once(cli, **slow) == []
    check_now()
    assert [o["status"] for o in run_once(cli, **slow)] == ["processing"]
    check_now(processed=True)
    (outcome,) = run_once(cli, **slow)
    assert outcome["status"] == "published"
    assert len(uploads(isolated_env)) == 1  # the media was uploaded once
    lines = [line for line in sandbox_lines(isolated_env) if line["post_id"] == int(media_post)]
    assert len(lines) == 1 and lines[0]["media"] == uploads(isolated_env)[0]["media"]
    assert destination(cli, media_post)["error"] is None
    assert cli.ok("posts", "show", media_post, "--json").json()["status"] == "published"


def test_a_running_daemon_looks_at_processing_media_again_at_its_time_not_at_its_poll(
    sandbox: str, cli: Cli, tmp_path: Path, daemons: Daemons, isolated_env: Path
) -> None:
    """Nothing else wakes a daemon on PostgreSQL for a destination that comes back (media
    the platform processes, a retry): it waited for the poll, 30 s by default."""
    picture = image(tmp_path / "p.png", "PNG")
    post_id = new_post(cli, "with media", "--media", str(picture), "--at", "+1s")
    daemons.start(
        AUTOPOSTR_SANDBOX_PROCESSING_SECONDS="2",
        AUTOPOSTR_POLL_SECONDS="60",
        AUTOPOSTR_HEARTBEAT_SECONDS="1",
    )

    def status() -> str:
        return str(cli.ok("posts", "show", post_id, "--json").json()["status"])

    wait_until(lambda: destination(cli, post_id)["status"] == "processing", 30, "processing")
    started = time.monotonic()
    wait_until(lambda: status() == "published", 20, "the post to go out once processed")
    assert time.monotonic() - started < 10
    assert len(uploads(isolated_env)) == 1


def test_a_processing_destination_taken_over_after_a_crash_is_resumed_not_resent(
    sandbox: str, cli: Cli, tmp_path: Path, isolated_env: Path
) -> None:
    from sqlmodel import select

    from autopostr.models import PostDestination, utcnow

    picture = image(tmp_path / "p.png", "PNG")
    post_id = due_post(cli, "with media", "--media", str(picture))
    assert [o["status"] for o in run_once(cli, AUTOPOSTR_SANDBOX_PROCESSING_SECONDS="1")] == [
        "processing"
    ]
    time.sleep(1.1)
    # A daemon claimed its check and died: its lease ran out.
    with db_session() as session:
        dest = session.exec(
            select(PostDestination).where(PostDestination.status == "processing")
        ).one()
        dest.status, dest.claimed_by = "claimed", "dead:1:x"
        dest.lease_expires_at = utcnow()
        dest.attempts += 1
        session.add(dest)
    from autopostr.publishing import recover_claim
    from autopostr.queue.claims import claim_expired

    db = Database(load_settings())
    (claim,) = claim_expired(db, "w2", 10)
    outcome = recover_claim(db, load_settings(), "w2", claim)
    assert outcome.status == "published"
    assert len(uploads(isolated_env)) == 1
    assert [line["post_id"] for line in sandbox_lines(isolated_env)] == [int(post_id)]


# ------------------------------------------------------------ rate-limit pacing


def test_rate_limit_headers_pace_the_next_calls_instead_of_a_429() -> None:
    from autopostr.platforms.base import TransientError
    from autopostr.platforms.http import make_client, send
    from tests.fakes.http_server import Answer, scripted_server

    settings = load_settings()
    with scripted_server() as server, make_client(settings, server.url) as client:
        # Used up for the next ten minutes: the next call is a retry later, never sent.
        reset = int(time.time()) + 600
        server.push(
            Answer(200, {}, {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)})
        )
        send(client, "POST", "/2/tweets", "X", headers={"Authorization": "Bearer a"})
        with pytest.raises(TransientError) as refused:
            send(client, "POST", "/2/tweets", "X", headers={"Authorization": "Bearer a"})
        assert refused.value.retry_after is not None and 590 < refused.value.retry_after <= 600
        # Another account (another credential) is not held back.
        send(client, "POST", "/2/tweets", "X", headers={"Authorization": "Bearer b"})
        assert len(server.received) == 2
        # Two calls left in a window of a second: the third waits for the reset.
        server.push(Answer(200, {}, {"x-ratelimit-remaining": "2", "x-ratelimit-reset": "1"}))
        send(client, "GET", "/api/v1/x", "Mastodon", headers={"Authorization": "Bearer c"})
        began = time.monotonic()
        for _ in range(2):
            send(client, "GET", "/api/v1/x", "Mastodon", headers={"Authorization": "Bearer c"})
        assert time.monotonic() - began < 0.5
        send(client, "GET", "/api/v1/x", "Mastodon", headers={"Authorization": "Bearer c"})
        assert time.monotonic() - began >= 0.5


def test_claims_in_a_burst_read_by_key_whatever_the_statistics_say(
    initialized: str, cli: Cli
) -> None:
    """Statistics taken before a burst say nothing is due, and every claim of the burst
    leaves dead index entries behind until vacuum. A claim must still fetch its rows by
    primary key and count each account's claimed rows by index scans (which mark dead
    entries), not by bitmap scans that read every unsent or once-claimed row's entry."""
    import re
    from datetime import timedelta

    from sqlalchemy import text

    from autopostr import posts
    from autopostr.local_session import current_actor
    from autopostr.models import utcnow
    from autopostr.queue.claims import claim_due_in

    if initialized != "postgresql":
        pytest.skip("plans of PostgreSQL's claim statement")
    handles = [f"h{n}" for n in range(12)]
    for handle in handles:
        cli.ok("accounts", "add", "sandbox", "--handle", handle)
    settings = load_settings()
    db = Database(settings)
    one_at_a_time = {"sandbox": 1}
    with db.session() as session:
        actor = current_actor(settings, db, session)
        for n in range(600):
            handle = handles[n % len(handles)]
            posts.create(
                session,
                actor,
                settings,
                text=f"burst {n}",
                to=[f"sandbox:{handle}"],
                at=utcnow() + timedelta(hours=1),
            )
    with db.transaction() as conn:
        conn.execute(text("ALTER TABLE post_destinations SET (autovacuum_enabled = off)"))
        conn.execute(text("ANALYZE post_destinations"))  # nothing due, as far as it knows
    try:
        with db.transaction() as conn:
            conn.execute(text("UPDATE post_destinations SET due_at = now() - interval '1 second'"))
        for _ in range(15):  # claimed and sent, round after round
            with db.transaction() as conn:
                claims = claim_due_in(conn, "w1", 64, per_account=one_at_a_time)
                assert len(claims) == len(handles)
                conn.execute(
                    text("UPDATE post_destinations SET status = 'published' WHERE id = ANY(:ids)"),
                    {"ids": [c.destination_id for c in claims]},
                )
        plans: list[str] = []
        with db.transaction() as conn:
            raw = conn.connection.driver_connection
            raw.add_notice_handler(lambda notice: plans.append(str(notice.message_primary)))
            for setting in (
                "LOAD 'auto_explain'",
                "SET LOCAL auto_explain.log_min_duration = 0",
                "SET LOCAL auto_explain.log_analyze = on",
                "SET LOCAL client_min_messages = log",
            ):
                conn.execute(text(setting))
            assert len(claim_due_in(conn, "w1", 64, per_account=one_at_a_time)) == len(handles)
    finally:
        with db.transaction() as conn:
            conn.execute(text("ALTER TABLE post_destinations RESET (autovacuum_enabled)"))
    [claim_plan] = [plan for plan in plans if "sendable" in plan]
    # Not the index of every unsent row, nor the one of claimed rows by lease time.
    for burst_wide in ("ix_post_destinations_due_unsent", "ix_post_destinations_lease_claimed"):
        assert burst_wide not in claim_plan, claim_plan
    bitmaps = set(re.findall(r"Bitmap Index Scan on (\w+)", claim_plan))
    assert bitmaps <= {"pk_post_destinations", "pk_posts"}, claim_plan
    assert "Index Only Scan using ix_post_destinations_claimed_by_account" in claim_plan
