"""Writing what came of each publish: fenced on the claim, in batches, then told to hooks.

A daemon's workers hand their outcomes to one writer thread (`FinishQueue`) that
writes them together, one transaction per batch, posts locked in id order; each
destination is still fenced on its own claim, so a publisher whose lease was taken
over changes nothing.
"""

from __future__ import annotations

import functools
import logging
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from autopostr.config import Settings
from autopostr.db import Database
from autopostr.models import Post, PostDestination, utcnow
from autopostr.platforms.base import PublishResult
from autopostr.queue.claims import INSERT_LOG_LINES, Claim, ids_in, insert_logs, json_rows, log_row
from autopostr.queue.transitions import derive_status
from autopostr.states import LogEvent

log = logging.getLogger("autopostr.publishing")

# An outcome nobody wrote: another publisher took the destination over meanwhile.
LOST = "lost"


@dataclass
class Outcome:
    destination_id: int
    post_id: int
    account: str
    status: str  # published | processing | retrying | failed | needs_review | lost (taken over)
    attempt: int
    remote_id: str | None = None
    url: str | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None


@dataclass(frozen=True)
class _FinishStatements:
    lock_posts: Any
    finish_destination: Any
    destination_states: Any
    set_post_status: Any
    # PostgreSQL: a whole batch in one statement each, its values bound as arrays.
    finish_destinations: Any
    set_posts_status: Any


# One row per outcome (a JSON document: one parameter, not a column each), fenced on its
# claim, the columns as `finish_destination` sets them; its log line (another publisher's
# event when the fence held it off); then the states of every destination of the
# batch's posts, as written (the statement's own reads see the rows as they were).
_FINISH_DESTINATIONS = (
    """
WITH v AS MATERIALIZED (
    SELECT * FROM json_to_recordset(CAST(:rows AS json)) AS v(
        destination_id integer, worker text, attempt integer, attempts_after integer,
        status text, error text, next_attempt_at timestamptz, resume text,
        remote_id text, url text, published_at timestamptz, post_id integer,
        account_id integer, team_id integer, message text, n integer
    )
), written AS (
    UPDATE post_destinations AS d SET
        status = v.status, attempts = v.attempts_after, claimed_by = NULL,
        lease_expires_at = NULL, updated_at = :now, error = v.error,
        next_attempt_at = v.next_attempt_at, resume = v.resume,
        remote_id = COALESCE(v.remote_id, d.remote_id), url = COALESCE(v.url, d.url),
        published_at = COALESCE(v.published_at, d.published_at)
    FROM v
    WHERE d.id = v.destination_id AND d.claimed_by = v.worker AND d.attempts = v.attempt
        -- The rows by primary key, whatever the planner guesses of the document's size.
        AND d.id = ANY(CAST(:ids AS integer[]))
    RETURNING d.id, d.status
), logged AS (
    """
    + INSERT_LOG_LINES
    + """
    SELECT v.post_id, v.destination_id,
        CASE WHEN w.id IS NULL THEN NULL ELSE v.account_id END,
        CASE WHEN w.id IS NULL THEN NULL ELSE v.team_id END,
        v.worker, COALESCE(w.status, '"""
    + LogEvent.LEASE_LOST.value
    + """'), v.attempt,
        CASE WHEN w.id IS NULL THEN :taken_over ELSE v.message END, :now
    FROM v LEFT JOIN written AS w ON w.id = v.destination_id
    ORDER BY v.n
)
SELECT d.id, d.post_id, COALESCE(w.status, d.status), w.id IS NOT NULL
FROM post_destinations AS d LEFT JOIN written AS w ON w.id = d.id
WHERE d.post_id = ANY(CAST(:post_ids AS integer[]))
"""
)
_SET_POSTS_STATUS = """
UPDATE posts AS p SET status = v.status, updated_at = :now
FROM unnest(CAST(:ids AS integer[]), CAST(:statuses AS text[])) AS v(id, status)
WHERE p.id = v.id
"""


@functools.cache
def _finish_statements(dialect: str) -> _FinishStatements:
    """Built once: composing SQL expressions per publish cost more CPU than running them."""
    from sqlalchemy import bindparam, func, select, text, update

    posts = Post.__table__  # type: ignore[attr-defined]
    dests = PostDestination.__table__  # type: ignore[attr-defined]
    return _FinishStatements(
        # FOR NO KEY UPDATE: finishes of one post still queue behind each other, while
        # claims, whose log rows only take the key-share lock of a foreign key, do not.
        lock_posts=select(posts.c.id, posts.c.status)
        .where(ids_in(posts.c.id, "post_ids", dialect))
        .order_by(posts.c.id)
        .with_for_update(key_share=True),
        finish_destination=update(dests)
        .where(
            dests.c.id == bindparam("destination_id"),
            dests.c.claimed_by == bindparam("worker"),
            dests.c.attempts == bindparam("attempt"),
        )
        .values(
            status=bindparam("status"),
            # One less when the attempt is given back (a key this machine lacks).
            attempts=bindparam("attempts_after"),
            claimed_by=None,
            lease_expires_at=None,
            updated_at=bindparam("updated_at"),
            error=bindparam("error"),
            next_attempt_at=bindparam("next_attempt_at"),
            resume=bindparam("resume"),
            # A failure keeps what an earlier success recorded (there is none today).
            remote_id=func.coalesce(bindparam("remote_id"), dests.c.remote_id),
            url=func.coalesce(bindparam("url"), dests.c.url),
            published_at=func.coalesce(bindparam("published_at"), dests.c.published_at),
        ),
        destination_states=select(dests.c.post_id, dests.c.status).where(
            ids_in(dests.c.post_id, "post_ids", dialect)
        ),
        set_post_status=update(posts)
        .where(posts.c.id == bindparam("post_id"))
        .values(status=bindparam("status"), updated_at=bindparam("updated_at")),
        finish_destinations=text(_FINISH_DESTINATIONS.strip()),
        set_posts_status=text(_SET_POSTS_STATUS.strip()),
    )


@dataclass
class Finishing:
    """One outcome waiting to be written."""

    worker: str
    claim: Claim
    account_id: int | None
    account_label: str
    team_id: int
    status: str
    result: PublishResult | None
    error: str | None
    next_attempt_at: datetime | None
    refund: bool = False  # the attempt did not count: no request was made
    resume: str | None = None  # JSON: where a publish whose media is processing stands


def finish(
    db: Database,
    settings: Settings | None,
    item: Finishing,
    *,
    wait: bool = True,
) -> Outcome | Future[Outcome]:
    """Write the outcome, fenced so a publisher that lost its lease changes nothing, then
    tell the event hook about it. Without `wait`, the future of the outcome's commit
    comes back once the outcome has its place in the writer's queue (the writer's thread
    completes it): a daemon's next call to the account then starts, and its outcome (and
    event) comes after this one."""
    queue = _finish_queues.get(db)
    if queue is not None:
        done = queue.submit(item, settings)
        return done.result() if wait else done
    written = _write_outcomes(db, [item])[0]
    _tell_hook(settings, item, written)
    return written


def _tell_hook(settings: Settings | None, item: Finishing, written: Outcome) -> None:
    # Without a hook there is no event to build (a dict and a timestamp per publish).
    if written.status != LOST and settings is not None and settings.get("on_event"):
        from autopostr.hooks import emit
        from autopostr.views import outcome_json

        emit(settings, {"event": item.status, **outcome_json(written), "at": utcnow().isoformat()})


def _write_outcomes(db: Database, items: list[Finishing]) -> list[Outcome]:
    """Write a batch of outcomes in one transaction, each fenced on its own claim.

    The posts are locked first, in id order, so a post's state is derived from what
    its destinations really are (two finishes at once would each miss the other) and
    two batches never wait on each other in a circle.
    """

    now = utcnow()
    sql = _finish_statements(db.url.dialect)
    for item in items:
        if item.result is not None and item.error is None:
            item.error = published_warning(item.result)
    # Plain Core statements on a bare connection: the hot path skips the ORM.
    with db.transaction(generic_plans=True) as conn:
        batched = conn.dialect.name == "postgresql"
        post_ids = sorted({item.claim.post_id for item in items})
        post_status = dict(conn.execute(sql.lock_posts, {"post_ids": post_ids}).all())
        states: dict[int, list[str]] = {}
        if batched:
            written = _finish_batch(conn, sql, items, now, post_ids, states)
        else:
            written = {
                item.claim.destination_id
                for item in items
                if conn.execute(sql.finish_destination, _finish_values(item, now)).rowcount == 1
            }
            insert_logs(
                conn, [_log_row(item, item.claim.destination_id in written, now) for item in items]
            )
            for post_id, state in conn.execute(sql.destination_states, {"post_ids": post_ids}):
                states.setdefault(post_id, []).append(state)
        changed: dict[int, str] = {}
        for post_id in post_ids:
            old = post_status.get(post_id)
            if old is None:
                continue  # the post was deleted meanwhile
            new = derive_status(old, states.get(post_id, []))
            if new != old:
                changed[post_id] = new
        if changed and batched:
            conn.execute(
                sql.set_posts_status,
                {"ids": list(changed), "statuses": list(changed.values()), "now": now},
            )
        else:
            for post_id, new in changed.items():
                conn.execute(
                    sql.set_post_status, {"post_id": post_id, "status": new, "updated_at": now}
                )
    return [_outcome(item, item.claim.destination_id in written) for item in items]


_TAKEN_OVER = "another publisher took over this destination"


def _message(item: Finishing) -> str:
    """An outcome's log message: where the post is, or what went wrong."""
    result = item.result
    message = (result.url or result.remote_id) if result else (item.error or "")
    if result is not None and item.error:
        message = f"{message} ({item.error})"
    return message or ""


def _log_row(item: Finishing, written: bool, now: datetime) -> dict[str, Any]:
    if not written:
        return log_row(item.claim, LogEvent.LEASE_LOST, item.worker, _TAKEN_OVER, now)
    return log_row(
        item.claim,
        item.status,
        item.worker,
        _message(item),
        now,
        account_id=item.account_id,
        team_id=item.team_id,
    )


def _outcome(item: Finishing, written: bool) -> Outcome:
    claim, result = item.claim, item.result
    if not written:
        return Outcome(claim.destination_id, claim.post_id, item.account_label, LOST, claim.attempt)
    return Outcome(
        destination_id=claim.destination_id,
        post_id=claim.post_id,
        account=item.account_label,
        status=item.status,
        attempt=claim.attempt,
        remote_id=result.remote_id if result else None,
        url=result.url if result else None,
        error=item.error,
        next_attempt_at=item.next_attempt_at,
    )


def _finish_values(item: Finishing, now: datetime) -> dict[str, Any]:
    """The parameters of one outcome's fenced UPDATE."""
    claim, result = item.claim, item.result
    return {
        "destination_id": claim.destination_id,
        "worker": item.worker,
        "attempt": claim.attempt,
        "attempts_after": claim.attempt - 1 if item.refund else claim.attempt,
        "status": item.status,
        "updated_at": now,
        "error": item.error,
        "next_attempt_at": item.next_attempt_at,
        "resume": item.resume,
        "remote_id": result.remote_id if result else None,
        "url": result.url if result else None,
        "published_at": now if result else None,
    }


def _finish_batch(
    conn: Any,
    sql: _FinishStatements,
    items: list[Finishing],
    now: datetime,
    post_ids: list[int],
    states: dict[int, list[str]],
) -> set[int]:
    """PostgreSQL: every outcome of the batch in one statement, each row still fenced on
    its own claim, with its log lines, reading back the states of every destination of
    `post_ids` (into `states`); the ids it wrote."""
    rows = []
    for index, item in enumerate(items):
        row = _finish_values(item, now)
        row["n"] = index  # the order of the log lines
        row["post_id"] = item.claim.post_id
        row["account_id"] = item.account_id
        row["team_id"] = item.team_id
        row["message"] = _message(item)
        rows.append(row)
    written: set[int] = set()
    result = conn.execute(
        sql.finish_destinations,
        {
            "now": now,
            "rows": json_rows(rows),
            "ids": [item.claim.destination_id for item in items],
            "post_ids": post_ids,
            "taken_over": _TAKEN_OVER,
        },
    )
    for destination_id, post_id, state, wrote in result:
        states.setdefault(post_id, []).append(state)
        if wrote:
            written.add(destination_id)
    return written


def published_warning(result: PublishResult) -> str | None:
    """What went wrong after the post itself went out (a first comment or a thread's
    follow-up refused): kept as the destination's error, so `posts show` tells."""
    problems = list(result.extra.get("follow_up_errors") or [])
    if result.extra.get("first_comment_error"):
        problems.insert(0, f"the first comment failed: {result.extra['first_comment_error']}")
    problems += list(result.extra.get("warnings") or [])
    return "published, but " + "; ".join(str(p) for p in problems) if problems else None


class FinishQueue:
    """Outcomes of a daemon's workers written together: one transaction per batch.

    A worker hands its outcome over and gets the future of its commit: its claim stays
    in flight (its lease renewed) until the future is done, while the worker's thread
    goes on to the next call; under load the outcomes that arrive while a batch is
    written make the next batch.
    """

    MAX_BATCH = 64
    # How long a batch waits for more outcomes after its first: the publishes gave their
    # slots back already, and a batch's fixed cost (its transaction, the posts' lock,
    # the log insert) is shared by more outcomes. An account stays busy until its
    # outcome is written: 50 ms against 20 ms took 6-9 % off the CPU per publish and
    # about 1 point off one daemon's throughput (bench/publish.py, alternating runs).
    GATHER_SECONDS = 0.05

    def __init__(self, db: Database) -> None:
        import queue
        import threading

        self.db = db
        self._items: queue.SimpleQueue[
            tuple[Finishing, Settings | None, Future[Outcome], float] | None
        ] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        # When the oldest outcome the writer holds was handed over (None: it holds none).
        self._holding_since: float | None = None
        self._thread = threading.Thread(target=self._run, name="finish", daemon=True)
        self._thread.start()

    def submit(self, item: Finishing, settings: Settings | None) -> Future[Outcome]:
        """Queue an outcome; the future holds it once committed and told to the hook,
        in the order outcomes were queued."""
        done: Future[Outcome] = Future()
        with self._lock:
            if not self._closed:
                self._items.put((item, settings, done, time.monotonic()))
                return done
        # A call that outlived the shutdown writes its own outcome.
        written = _write_outcomes(self.db, [item])[0]
        _tell_hook(settings, item, written)
        done.set_result(written)
        return done

    def stalled_for(self) -> float:
        """Seconds the writer has held its oldest outcome without getting it written and
        told (0 when it holds none): a writer that hangs (a log line it cannot get out, a
        connection that never answers) must not have its claims renewed for ever."""
        since = self._holding_since
        return 0.0 if since is None else max(0.0, time.monotonic() - since)

    def close(self) -> None:
        """Write what was handed over, then stop."""
        with self._lock:
            self._closed = True
            self._items.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        import queue

        while True:
            first = self._items.get()
            if first is None:
                return
            self._holding_since = first[3]
            batch = [first]
            stop = False
            until = time.monotonic() + self.GATHER_SECONDS
            while len(batch) < self.MAX_BATCH:
                try:
                    more = self._items.get(timeout=max(0.0, until - time.monotonic()))
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            try:
                outcomes = _write_with_retries(self.db, [item for item, *_ in batch])
            except BaseException as exc:  # the database is down: every worker hears it
                for _, _, done, _ in batch:
                    done.set_exception(exc)
            else:
                for (item, settings, done, _), outcome in zip(batch, outcomes, strict=True):
                    try:
                        _tell_hook(settings, item, outcome)
                    finally:
                        done.set_result(outcome)
            self._holding_since = None
            if stop:
                return


def _write_with_retries(db: Database, items: list[Finishing], attempts: int = 3) -> list[Outcome]:
    """A batch rolled back by a deadlock or serialization failure is written again: the
    writes are fenced, so a second go changes nothing the first one did."""
    from sqlalchemy.exc import DBAPIError

    for attempt in range(1, attempts + 1):
        try:
            return _write_outcomes(db, items)
        except DBAPIError as exc:
            code = getattr(exc.orig, "sqlstate", None)
            if code not in ("40P01", "40001") or attempt == attempts:
                raise
            log.warning("writing %d outcome(s) again after %s", len(items), code)
    raise AssertionError("unreachable")


_finish_queues: dict[Database, FinishQueue] = {}


def start_batched_finishing(db: Database) -> None:
    """From now on, outcomes written through `db` go out in batches (see FinishQueue)."""
    if db not in _finish_queues:
        _finish_queues[db] = FinishQueue(db)


def writer_stalled_for(db: Database) -> float:
    """How long the batched writer of `db` has held an outcome unwritten (see
    `FinishQueue.stalled_for`); 0 without one."""
    queue = _finish_queues.get(db)
    return queue.stalled_for() if queue is not None else 0.0


def stop_batched_finishing(db: Database) -> None:
    queue = _finish_queues.pop(db, None)
    if queue is not None:
        queue.close()
