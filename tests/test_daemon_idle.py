"""An idle daemon on SQLite queries the queue only when something committed or came due."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest

from autopostr.config import load_settings
from autopostr.daemon.runner import DaemonConfig, DaemonRunner
from autopostr.db import Database
from autopostr.models import utcnow
from tests.helpers import Cli, new_post


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL the engine runs meanwhile (observed, not altered)."""
    from sqlalchemy import event

    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@pytest.fixture
def runner(sandbox: str) -> Iterator[DaemonRunner]:
    if sandbox != "sqlite":
        pytest.skip("PostgreSQL wakes daemons with NOTIFY; the change probe is SQLite's")
    settings = load_settings()
    db = Database(settings)
    # No scheduler: each test drives the publish loop by hand.
    made = DaemonRunner(settings, db, DaemonConfig(concurrency=1))
    yield made
    made.workers.shutdown()
    assert made.changes is not None
    made.changes.close()


def test_a_tick_with_nothing_committed_and_nothing_due_runs_no_query(
    runner: DaemonRunner, cli: Cli
) -> None:
    new_post(cli, "in an hour", "--at", "+1h")
    with statements(runner.db) as first:
        runner.publish_tick()
    assert any("post_destinations" in s for s in first)  # the first look queries
    assert runner._next_due is not None and runner._next_due > utcnow() + timedelta(minutes=50)
    with statements(runner.db) as idle:
        for _ in range(5):
            runner.publish_tick()
    assert idle == []


def test_a_commit_by_another_connection_makes_the_next_tick_look(
    runner: DaemonRunner, cli: Cli
) -> None:
    runner.publish_tick()
    assert runner._next_due is None  # nothing scheduled
    new_post(cli, "soon", "--at", "+2s")
    with statements(runner.db) as looked:
        runner.publish_tick()
    assert any("post_destinations" in s for s in looked)
    due = runner._next_due
    assert due is not None and due - utcnow() < timedelta(seconds=3)


def test_the_due_time_coming_makes_a_tick_look_without_any_commit(
    runner: DaemonRunner, cli: Cli
) -> None:
    new_post(cli, "soon", "--at", "+3s")
    runner.publish_tick()
    with statements(runner.db) as early:
        runner.publish_tick()
    assert early == []
    time.sleep(max(0.0, (runner._next_due - utcnow()).total_seconds()) + 0.05)  # type: ignore[operator]
    with statements(runner.db) as due:
        runner.publish_tick()
    assert any("UPDATE post_destinations" in s for s in due)  # the claim


def test_a_wake_up_makes_the_next_tick_look(runner: DaemonRunner, cli: Cli) -> None:
    new_post(cli, "in an hour", "--at", "+1h")
    runner.publish_tick()
    runner.loop = _NoLoop()
    runner.wake()  # a worker finished, or a takeover is due
    with statements(runner.db) as looked:
        runner.publish_tick()
    assert any("post_destinations" in s for s in looked)


class _NoLoop:
    """wake() asks the loop's thread to run the loop now; here the test runs it."""

    def plan(self, at: datetime) -> None:
        return None


class _CountingLoop(_NoLoop):
    def __init__(self) -> None:
        self.runs_asked = 0
        self.run_times: list[datetime] = []

    def plan(self, at: datetime) -> None:
        self.runs_asked += 1
        self.run_times.append(at)


def test_calls_that_finish_once_the_queue_is_empty_do_not_send_the_loop_claiming(
    sandbox: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tail of a burst: the last claim came back short and nothing else is due, so a
    call that finishes is no reason to claim again (each would be an empty claim); a
    wake-up (a post scheduled, NOTIFY) still is."""
    from tests.helpers import due_post, wait_until

    if sandbox != "sqlite":
        pytest.skip("the loop's logic is the same on both; driven by hand on SQLite")
    monkeypatch.setenv("AUTOPOSTR_SANDBOX_LATENCY_MS", "300")
    settings = load_settings()
    runner = DaemonRunner(settings, Database(settings), DaemonConfig(concurrency=4))
    try:
        due_post(cli, "the last one due")
        runner.publish_tick()  # claims it: less than there was room for
        assert len(runner.in_flight) == 1
        runner.loop = counting = _CountingLoop()
        wait_until(lambda: not runner.in_flight, 10, "the call to finish", every=0.02)
        assert counting.runs_asked == 0
        runner.wake()
        assert counting.runs_asked == 1
    finally:
        runner.workers.shutdown()
        assert runner.changes is not None
        runner.changes.close()


def test_posts_due_behind_a_busy_account_do_not_make_the_loop_spin(
    sandbox: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six posts due to one account, which takes four at once: the loop claims four, and
    the others are due but cannot be claimed until an outcome is written.
    It must not look again at once (a loop of claims that take nothing, each a
    transaction); the outcome, or a short wait, sends it looking."""
    from tests.helpers import due_post, wait_until

    if sandbox != "sqlite":
        pytest.skip("the loop's logic is the same on both; driven by hand on SQLite")
    monkeypatch.setenv("AUTOPOSTR_SANDBOX_LATENCY_MS", "500")
    settings = load_settings()
    runner = DaemonRunner(settings, Database(settings), DaemonConfig(concurrency=8))
    runner.loop = counting = _CountingLoop()
    try:
        for n in range(6):
            due_post(cli, f"one account, post {n}")
        before = utcnow()
        runner.publish_tick()
        assert len(runner.in_flight) == 4  # what the account takes; the others wait
        assert counting.run_times and min(counting.run_times) >= before + timedelta(seconds=0.2)
        wait_until(lambda: not runner.in_flight, 10, "the call to finish", every=0.02)
        assert counting.runs_asked >= 2  # its outcome asked for the next look
    finally:
        runner.workers.shutdown()
        assert runner.changes is not None
        runner.changes.close()
