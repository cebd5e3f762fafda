"""A daemon's outcomes are written in batches: each still fenced on its own claim, and a
batch that PostgreSQL rolls back to break a deadlock is written again."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import psycopg
import pytest

from autopostr.config import load_settings
from autopostr.db import Database
from autopostr.outcomes import Outcome, start_batched_finishing, stop_batched_finishing
from autopostr.platforms.base import PublishResult
from autopostr.publishing import _finish, _written, prepare
from autopostr.queue.claims import claim_due
from tests.helpers import Cli, db_session, due_post, wait_until


@pytest.fixture
def db() -> Iterator[Database]:
    database = Database(load_settings())
    start_batched_finishing(database)
    yield database
    stop_batched_finishing(database)


def due_posts(cli: Cli, count: int) -> list[int]:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    return [int(due_post(cli, f"n{n}")) for n in range(count)]


def states() -> dict[int, tuple[str, str]]:
    from sqlmodel import col, select

    from autopostr.models import Post, PostDestination

    with db_session() as session:
        rows = session.exec(
            select(PostDestination.post_id, PostDestination.status, Post.status).join(
                Post, col(Post.id) == col(PostDestination.post_id)
            )
        ).all()
    return {post_id: (dest, post) for post_id, dest, post in rows}


def test_outcomes_written_together_stay_fenced_each_on_its_claim(
    initialized: str, cli: Cli, db: Database
) -> None:
    first, second, third = due_posts(cli, 3)
    jobs = prepare(db, load_settings(), claim_due(db, "w1", 10))
    assert len(jobs) == 3
    results: dict[int, Outcome] = {}

    def finish(job_index: int, worker: str) -> None:
        job = jobs[job_index]
        results[job.claim.post_id] = _written(
            _finish(db, worker, job, status="published", result=PublishResult(f"r{job_index}"))
        )

    # Three finishes at once, one from a publisher that no longer holds its claim.
    threads = [
        threading.Thread(target=finish, args=(0, "w1")),
        threading.Thread(target=finish, args=(1, "w1")),
        threading.Thread(target=finish, args=(2, "intruder")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results[first].status == results[second].status == "published"
    assert results[third].status == "lost"
    assert states()[first] == ("published", "published")
    assert states()[second] == ("published", "published")
    assert states()[third] == ("claimed", "publishing")


def test_a_batch_rolled_back_by_a_deadlock_is_written_again(
    postgres_only: str, cli: Cli, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    cli.ok("init")
    (post_id,) = due_posts(cli, 1)
    (job,) = prepare(db, load_settings(), claim_due(db, "w1", 10))
    caplog.set_level(logging.WARNING, logger="autopostr.publishing")
    url = db.url.url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as other, psycopg.connect(url, autocommit=True) as watcher:
        # The other transaction is the one that waits long before looking for a deadlock,
        # so PostgreSQL breaks the cycle by rolling back the batch.
        other.execute("SET deadlock_timeout = '10s'")
        other.execute(
            "SELECT 1 FROM post_destinations WHERE id = %s FOR UPDATE",
            (job.claim.destination_id,),
        )
        outcome: list[Outcome] = []
        writer = threading.Thread(
            target=lambda: outcome.append(
                _written(_finish(db, "w1", job, status="published", result=PublishResult("r")))
            )
        )
        writer.start()

        def batch_waits_for_the_destination() -> bool:
            """The batch has locked the post and now waits for the row `other` holds."""
            waiting = watcher.execute(
                "SELECT query FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                (other.info.backend_pid,),
            ).fetchall()
            return any("UPDATE post_destinations" in query for (query,) in waiting)

        wait_until(batch_waits_for_the_destination, 15, "the batch to wait for the destination")
        other.execute("SELECT 1 FROM posts WHERE id = %s FOR UPDATE", (post_id,))
        other.rollback()
    writer.join(15)
    retries = [
        record.getMessage()
        for record in caplog.records
        if record.name == "autopostr.publishing" and "again after" in record.getMessage()
    ]
    # Written again after each deadlock PostgreSQL broke (it may pick the batch twice).
    assert retries and set(retries) == {"writing 1 outcome(s) again after 40P01"}
    assert outcome and outcome[0].status == "published"
    assert states()[post_id] == ("published", "published")


def test_a_log_line_keeps_its_message_and_instant_exactly(
    initialized: str, cli: Cli, db: Database
) -> None:
    """A batch's log lines are bound together (one JSON document on PostgreSQL): what a
    platform said comes back character for character, and the instant to the microsecond."""
    from datetime import UTC, datetime

    from sqlmodel import col, select

    from autopostr.models import PublishLog
    from autopostr.queue.claims import Claim, insert_logs, log_row

    (post_id,) = due_posts(cli, 1)
    said = 'refused: "quota" \\ 100%\n\ttry again ✨ — 𝔁 {json: [1]}'
    at = datetime(2026, 12, 2, 9, 0, 0, 123456, tzinfo=UTC)
    claim = Claim(destination_id=post_id, post_id=post_id, attempt=1)
    with db.transaction() as conn:
        insert_logs(conn, [log_row(claim, "retrying", "w1", said, at, account_id=None)])
    with db_session() as session:
        row = session.exec(select(PublishLog).where(col(PublishLog.event) == "retrying")).one()
    assert row.message == said
    assert row.created_at.replace(tzinfo=UTC) == at
    assert (row.post_id, row.destination_id, row.attempt, row.daemon_id) == (
        post_id,
        post_id,
        1,
        "w1",
    )
