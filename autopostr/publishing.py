"""Claim due destinations, publish them through their platform, record the outcome.

The queue is the `post_destinations` table. A claim is one statement: it
marks due rows `claimed` by this process with a lease and bumps `attempts`
(`FOR UPDATE SKIP LOCKED` on PostgreSQL, a `BEGIN IMMEDIATE` transaction on
SQLite), so two publishers never take the same row. Every later write about
that row is fenced on (claimed_by, attempts): a publisher whose lease was
taken over cannot overwrite its successor's result. `daemon run --once`, the
long-running daemon and `posts publish` all go through `publish_due`.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from autopostr import accounts as accounts_mod
from autopostr.config import Settings
from autopostr.db import Database
from autopostr.errors import AutopostrError, KeyMissing
from autopostr.models import Post, PostDestination, PublishLog, SocialAccount, utcnow
from autopostr.platforms.base import (
    MAYBE_SENT,
    UNKNOWN,
    AccountRef,
    AuthExpired,
    MediaItem,
    PermanentError,
    PlatformError,
    PublishRequest,
    PublishResult,
)

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

log = logging.getLogger("autopostr.publishing")

DEFAULT_LEASE = timedelta(minutes=5)
# Between the claim instants of one batch: more than the record keys a thread takes.
CLAIM_SPACING = timedelta(microseconds=64)
DEFAULT_MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 3600.0
# A destination whose account is sealed with a key this machine lacks looks again this
# often: someone may be importing the key right now.
KEY_WAIT = timedelta(minutes=1)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Claim:
    destination_id: int
    post_id: int
    attempt: int


@dataclass
class Outcome:
    destination_id: int
    post_id: int
    account: str
    status: str  # published | retrying | failed | needs_review | lost (lease taken over)
    attempt: int
    remote_id: str | None = None
    url: str | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None


def max_attempts(settings: Settings) -> int:
    raw = settings.get("max_attempts")
    try:
        value = int(raw) if raw else DEFAULT_MAX_ATTEMPTS
    except ValueError:
        from autopostr.errors import ConfigError

        raise ConfigError(f"AUTOPOSTR_MAX_ATTEMPTS: {raw!r} is not a whole number") from None
    return max(1, value)


def backoff(attempt: int, retry_after: float | None = None) -> timedelta:
    """Exponential with full jitter, never sooner than the platform asked."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempt - 1))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return timedelta(seconds=delay)


def _take(
    session: DbSession,
    db: Database,
    candidates: Any,
    worker: str,
    now: datetime,
    lease: timedelta,
    **values: Any,
) -> list[Claim]:
    """The claim itself: one UPDATE … WHERE id IN (candidates) RETURNING, which takes a
    lease and a new fencing token; SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite."""
    from sqlalchemy import update
    from sqlmodel import col

    if db.url.dialect == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    statement = (
        update(PostDestination)
        .where(col(PostDestination.id).in_(candidates.scalar_subquery()))
        .values(
            claimed_by=worker,
            lease_expires_at=now + lease,
            attempts=PostDestination.attempts + 1,
            updated_at=now,
            **values,
        )
        .returning(
            col(PostDestination.id), col(PostDestination.post_id), col(PostDestination.attempts)
        )
    )
    rows = session.execute(statement).all()
    return [Claim(int(r[0]), int(r[1]), int(r[2])) for r in rows]


def claim_due(
    db: Database,
    worker: str,
    limit: int,
    now: datetime | None = None,
    post_id: int | None = None,
    lease: timedelta = DEFAULT_LEASE,
) -> list[Claim]:
    """Claim up to `limit` due destinations in one statement."""
    from sqlalchemy import insert, or_, select, update
    from sqlmodel import col

    now = now or utcnow()
    due = (
        select(col(PostDestination.id))
        .where(
            col(PostDestination.status).in_(("pending", "retrying")),
            col(PostDestination.due_at) <= now,
            or_(
                col(PostDestination.next_attempt_at).is_(None),
                col(PostDestination.next_attempt_at) <= now,
            ),
        )
        .order_by(col(PostDestination.due_at), col(PostDestination.id))
        .limit(limit)
    )
    if post_id is not None:
        due = due.where(col(PostDestination.post_id) == post_id)
    with db.session() as session:
        claims = _take(session, db, due, worker, now, lease, status="claimed")
        if claims:
            session.execute(
                update(Post)
                .where(
                    col(Post.id).in_(sorted({c.post_id for c in claims})),
                    col(Post.status) == "scheduled",
                )
                .values(status="publishing", updated_at=now)
            )
            # Each claim of a batch gets its own instant: the first one is a destination's
            # lasting timestamp (Bluesky record keys carry it), so no two coincide.
            session.execute(
                insert(PublishLog),
                [
                    _log_row(claim, "claimed", worker, "", now + CLAIM_SPACING * index)
                    for index, claim in enumerate(claims)
                ],
            )
    return sorted(claims, key=lambda c: c.destination_id)


def _log_row(
    claim: Claim, event: str, worker: str, message: str, now: datetime, **ids: Any
) -> dict[str, Any]:
    return {
        "post_id": claim.post_id,
        "destination_id": claim.destination_id,
        "account_id": ids.get("account_id"),
        "team_id": ids.get("team_id"),
        "daemon_id": worker,
        "event": event,
        "attempt": claim.attempt,
        "message": message,
        "created_at": now,
    }


def _log(
    session: DbSession, claim: Claim, event: str, worker: str, message: str, **ids: Any
) -> None:
    """One publish-log line, as a plain INSERT (no ORM object on the hot path)."""
    from sqlalchemy import insert

    session.execute(
        insert(PublishLog).values(**_log_row(claim, event, worker, message, utcnow(), **ids))
    )


@dataclass
class _Job:
    claim: Claim
    account: SocialAccount
    account_label: str
    team_id: int
    request: PublishRequest | None
    problem: str | None  # a reason to fail without calling the platform
    settings: Settings | None = None
    previous_error: str = ""


def _prepare(db: Database, settings: Settings, claim: Claim) -> _Job:
    jobs = prepare(db, settings, [claim])
    if not jobs:
        raise LookupError(f"destination {claim.destination_id} no longer exists")
    return jobs[0]


def prepare(db: Database, settings: Settings, claims: list[Claim]) -> list[_Job]:
    """Everything the calls of a batch of claims need, in one query (plus one for the media
    of the posts that have some), in the order of `claims`."""
    from sqlalchemy import exists, select
    from sqlmodel import col

    from autopostr import posts as posts_mod
    from autopostr.models import PostMedia

    if not claims:
        return []
    has_media = exists().where(col(PostMedia.post_id) == col(Post.id))
    with db.session() as session:
        rows = session.execute(
            select(
                col(PostDestination.id),
                SocialAccount,
                col(PostDestination.text),
                col(PostDestination.error),
                col(PostDestination.idempotency_key),
                col(Post.text),
                col(Post.first_comment),
                col(Post.team_id),
                has_media,
            )
            .join(Post, col(Post.id) == col(PostDestination.post_id))
            .join(SocialAccount, col(SocialAccount.id) == col(PostDestination.account_id))
            .where(col(PostDestination.id).in_([c.destination_id for c in claims]))
        ).all()
        found = {row[0]: row[1:] for row in rows}
        first_claims = _first_claims(session, claims)
        # A destination deleted since it was claimed has nothing left to publish.
        claims = [c for c in claims if c.destination_id in found]
        with_media = {c.post_id for c in claims if found[c.destination_id][-1]}
        media_by_post = {
            post_id: _media_items(settings, db, posts_mod.media_of(session, post_id))
            for post_id in sorted(with_media)
        }
        jobs = []
        for claim in claims:
            account, dest_text, dest_error, key, post_text, first_comment, team_id, _ = found[
                claim.destination_id
            ]
            label = accounts_mod.label(account)
            problem = None
            request = None
            if account.status != accounts_mod.ACTIVE:
                problem = (
                    f"{label} is {account.status}: to reconnect it, "
                    f"{accounts_mod.reconnect_fix(account, settings)}; then run "
                    f"`autopostr posts retry {claim.post_id}`"
                )
            else:
                request = PublishRequest(
                    post_id=claim.post_id,
                    destination_id=claim.destination_id,
                    parts=posts_mod.split_thread(dest_text or post_text),
                    media=media_by_post.get(claim.post_id, []),
                    first_comment=first_comment,
                    idempotency_key=key,
                    first_claimed_at=first_claims.get(claim.destination_id),
                )
            jobs.append(
                _Job(claim, account, label, team_id, request, problem, settings, dest_error or "")
            )
        session.expunge_all()
    return jobs


def _first_claims(session: DbSession, claims: list[Claim]) -> dict[int, datetime]:
    """When each destination was first claimed (its oldest "claimed" log line), in UTC."""
    from sqlalchemy import func, select
    from sqlmodel import col

    if not claims:
        return {}
    rows = session.execute(
        select(col(PublishLog.destination_id), func.min(col(PublishLog.created_at)))
        .where(
            col(PublishLog.post_id).in_(sorted({c.post_id for c in claims})),
            col(PublishLog.destination_id).in_([c.destination_id for c in claims]),
            col(PublishLog.event) == "claimed",
        )
        .group_by(col(PublishLog.destination_id))
    ).all()
    return {int(dest): _aware(first) for dest, first in rows if dest is not None and first}


def _media_items(settings: Settings, db: Database, items: list[Any]) -> list[MediaItem]:
    from autopostr.media import opener

    # `open` streams from the backend each item was stored in: with database
    # storage a daemon on any machine reads the same bytes, a chunk at a time.
    return [
        MediaItem(
            id=item.id or 0,
            filename=item.filename,
            mime_type=item.mime_type,
            size=item.size,
            sha256=item.sha256,
            width=item.width,
            height=item.height,
            duration=item.duration,
            alt_text=item.alt_text,
            open=opener(settings, db.engine, item),
        )
        for item in items
    ]


@dataclass(frozen=True)
class _FinishStatements:
    lock_posts: Any
    finish_destination: Any
    insert_log: Any
    destination_states: Any
    set_post_status: Any


@functools.cache
def _finish_statements() -> _FinishStatements:
    """Built once: composing SQL expressions per publish cost more CPU than running them."""
    from sqlalchemy import bindparam, func, insert, select, update

    posts = Post.__table__  # type: ignore[attr-defined]
    dests = PostDestination.__table__  # type: ignore[attr-defined]
    return _FinishStatements(
        # FOR NO KEY UPDATE: finishes of one post still queue behind each other, while
        # claims, whose log rows only take the key-share lock of a foreign key, do not.
        lock_posts=select(posts.c.id, posts.c.status)
        .where(posts.c.id.in_(bindparam("post_ids", expanding=True)))
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
            # A failure keeps what an earlier success recorded (there is none today).
            remote_id=func.coalesce(bindparam("remote_id"), dests.c.remote_id),
            url=func.coalesce(bindparam("url"), dests.c.url),
            published_at=func.coalesce(bindparam("published_at"), dests.c.published_at),
        ),
        insert_log=insert(PublishLog.__table__),  # type: ignore[attr-defined]
        destination_states=select(dests.c.post_id, dests.c.status).where(
            dests.c.post_id.in_(bindparam("post_ids", expanding=True))
        ),
        set_post_status=update(posts)
        .where(posts.c.id == bindparam("post_id"))
        .values(status=bindparam("status"), updated_at=bindparam("updated_at")),
    )


@dataclass
class _Finishing:
    """One outcome waiting to be written."""

    worker: str
    job: _Job
    status: str
    result: PublishResult | None
    error: str | None
    next_attempt_at: datetime | None
    refund: bool = False  # the attempt did not count: no request was made


def _finish(
    db: Database,
    worker: str,
    job: _Job,
    *,
    status: str,
    result: PublishResult | None = None,
    error: str | None = None,
    next_attempt_at: datetime | None = None,
    refund: bool = False,
) -> Outcome:
    """Write the outcome, fenced so a publisher that lost its lease changes nothing."""
    item = _Finishing(worker, job, status, result, error, next_attempt_at, refund)
    queue = _finish_queues.get(db)
    written = queue.write(item) if queue is not None else _write_outcomes(db, [item])[0]
    if written.status != "lost" and job.settings is not None:
        from autopostr.hooks import emit
        from autopostr.views import outcome_json

        emit(job.settings, {"event": status, **outcome_json(written), "at": utcnow().isoformat()})
    return written


def _write_outcomes(db: Database, items: list[_Finishing]) -> list[Outcome]:
    """Write a batch of outcomes in one transaction, each fenced on its own claim.

    The posts are locked first, in id order, so a post's state is derived from what
    its destinations really are (two finishes at once would each miss the other) and
    two batches never wait on each other in a circle.
    """
    from autopostr import posts as posts_mod

    now = utcnow()
    sql = _finish_statements()
    outcomes: list[Outcome] = []
    with db.session() as session:
        # Plain Core statements on the session's connection: the hot path skips the ORM.
        conn = session.connection()
        post_ids = sorted({item.job.claim.post_id for item in items})
        post_status = dict(conn.execute(sql.lock_posts, {"post_ids": post_ids}).all())
        logs = []
        for item in items:
            claim, result = item.job.claim, item.result
            if result is not None and item.error is None:
                item.error = published_warning(result)
            updated = conn.execute(
                sql.finish_destination,
                {
                    "destination_id": claim.destination_id,
                    "worker": item.worker,
                    "attempt": claim.attempt,
                    "attempts_after": claim.attempt - 1 if item.refund else claim.attempt,
                    "status": item.status,
                    "updated_at": now,
                    "error": item.error,
                    "next_attempt_at": item.next_attempt_at,
                    "remote_id": result.remote_id if result else None,
                    "url": result.url if result else None,
                    "published_at": now if result else None,
                },
            )
            if updated.rowcount != 1:
                message = "another publisher took over this destination"
                logs.append(_log_row(claim, "lease_lost", item.worker, message, now))
                outcomes.append(
                    Outcome(
                        claim.destination_id,
                        claim.post_id,
                        item.job.account_label,
                        "lost",
                        claim.attempt,
                    )
                )
                continue
            message = (result.url or result.remote_id) if result else (item.error or "")
            if result is not None and item.error:
                message = f"{message} ({item.error})"
            logs.append(
                _log_row(
                    claim,
                    item.status,
                    item.worker,
                    message or "",
                    now,
                    account_id=item.job.account.id,
                    team_id=item.job.team_id,
                )
            )
            outcomes.append(
                Outcome(
                    destination_id=claim.destination_id,
                    post_id=claim.post_id,
                    account=item.job.account_label,
                    status=item.status,
                    attempt=claim.attempt,
                    remote_id=result.remote_id if result else None,
                    url=result.url if result else None,
                    error=item.error,
                    next_attempt_at=item.next_attempt_at,
                )
            )
        conn.execute(sql.insert_log, logs)
        states: dict[int, list[str]] = {}
        for post_id, state in conn.execute(sql.destination_states, {"post_ids": post_ids}):
            states.setdefault(post_id, []).append(state)
        for post_id in post_ids:
            old = post_status.get(post_id)
            if old is None:
                continue  # the post was deleted meanwhile
            new = posts_mod.derive_status(old, states.get(post_id, []))
            if new != old:
                conn.execute(
                    sql.set_post_status,
                    {"post_id": post_id, "status": new, "updated_at": now},
                )
    return outcomes


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

    A worker hands its outcome over and waits until it is committed, so nothing
    changes for it (its claim stays in flight, its lease renewed, until then); under
    load the outcomes that arrive while a batch is written make the next batch.
    """

    MAX_BATCH = 64

    def __init__(self, db: Database) -> None:
        import queue
        import threading

        self.db = db
        self._items: queue.SimpleQueue[tuple[_Finishing, Any] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="finish", daemon=True)
        self._thread.start()

    def write(self, item: _Finishing) -> Outcome:
        from concurrent.futures import Future

        done: Future[Outcome] = Future()
        with self._lock:
            if self._closed:  # a call that outlived the shutdown writes its own outcome
                return _write_outcomes(self.db, [item])[0]
            self._items.put((item, done))
        return done.result()

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
            batch = [first]
            stop = False
            while len(batch) < self.MAX_BATCH:
                try:
                    more = self._items.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            try:
                outcomes = _write_with_retries(self.db, [item for item, _ in batch])
            except BaseException as exc:  # the database is down: every worker hears it
                for _, done in batch:
                    done.set_exception(exc)
            else:
                for (_, done), outcome in zip(batch, outcomes, strict=True):
                    done.set_result(outcome)
            if stop:
                return


def _write_with_retries(db: Database, items: list[_Finishing], attempts: int = 3) -> list[Outcome]:
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


def stop_batched_finishing(db: Database) -> None:
    queue = _finish_queues.pop(db, None)
    if queue is not None:
        queue.close()


def publish_claim(db: Database, settings: Settings, worker: str, claim: Claim) -> Outcome:
    """Publish one claimed destination and record what happened."""
    return publish_job(db, settings, worker, _prepare(db, settings, claim))


def publish_job(db: Database, settings: Settings, worker: str, job: _Job) -> Outcome:
    """Publish a prepared claim (see `prepare`) and record what happened."""
    if job.request is None:
        return _finish(db, worker, job, status="failed", error=job.problem)
    if job.previous_error.startswith(MAYBE_SENT):
        # The last attempt may have reached the platform: ask before sending again.
        return _recover(db, settings, worker, job)
    return _call_platform(db, settings, worker, job)


def open_account(settings: Settings, account: SocialAccount) -> AccountRef:
    from autopostr.keys import load_keyset

    # Loaded per job, so a daemon picks up a rotated key without a restart.
    sealed = (
        account.access_token
        or account.refresh_token
        or accounts_mod.SEALED_PREFIX in (account.extra or "")
    )
    return accounts_mod.account_ref(account, load_keyset(settings) if sealed else None)


def _call_platform(db: Database, settings: Settings, worker: str, job: _Job) -> Outcome:
    from autopostr.platforms.registry import get_platform

    claim = job.claim
    assert job.request is not None
    try:
        ref = open_account(settings, job.account)
        platform = get_platform(job.account.platform, settings)
        try:
            platform.check_quota(ref, job.request)
            result = platform.publish(ref, job.request)
        except AuthExpired:
            # An expired token is refreshed once; a second refusal is a real failure.
            ref = refresh_account(
                db, settings, job.account.id or 0, failed=ref.credentials.get("access_token")
            )
            platform.check_quota(ref, job.request)
            result = platform.publish(ref, job.request)
    except (PermanentError, AuthExpired) as exc:
        return _finish(db, worker, job, status="failed", error=exc.message)
    except KeyMissing as exc:
        return _wait_for_key(db, worker, job, exc)
    except PlatformError as exc:
        if claim.attempt >= max_attempts(settings):
            return _finish(
                db,
                worker,
                job,
                status="failed",
                error=f"{exc.message} (gave up after {claim.attempt} attempts)",
            )
        retry_at = utcnow() + backoff(claim.attempt, exc.retry_after)
        prefix = MAYBE_SENT if getattr(exc, "maybe_sent", False) else ""
        return _finish(
            db, worker, job, status="retrying", error=prefix + exc.message, next_attempt_at=retry_at
        )
    except AutopostrError as exc:
        # Our own checks (configuration, keys) failed before any request left: safe to retry.
        retry_at = utcnow() + backoff(claim.attempt)
        return _finish(
            db, worker, job, status="retrying", error=exc.message, next_attempt_at=retry_at
        )
    except Exception as exc:
        # The call may or may not have reached the platform: never re-send blindly.
        return _finish(
            db,
            worker,
            job,
            status="needs_review",
            error=f"unexpected {type(exc).__name__} while publishing: {exc}; check the account, then "
            f"`autopostr posts reconcile` or `autopostr posts retry {claim.post_id}`",
        )
    return _finish(db, worker, job, status="published", result=result)


_keys_told: set[str] = set()
_keys_told_lock = threading.Lock()


def _wait_for_key(
    db: Database, worker: str, job: _Job, exc: KeyMissing, maybe_sent: bool = False
) -> Outcome:
    """A key this machine lacks is no fault of the post: the destination goes back to
    pending without spending an attempt and is looked at again after KEY_WAIT, until the
    key is imported. Said once per missing key in the log, not once per destination."""
    with _keys_told_lock:
        first = exc.key_id not in _keys_told
        _keys_told.add(exc.key_id)
    if first:
        log.warning("posts wait, without using attempts, until this machine has the key: %s", exc)
    if maybe_sent or job.previous_error.startswith(MAYBE_SENT):
        # Whether an earlier attempt went out is still to be asked, once the key is here.
        error = MAYBE_SENT + exc.message
    else:
        error = exc.message
    return _finish(
        db,
        worker,
        job,
        status="pending",
        error=error,
        next_attempt_at=utcnow() + KEY_WAIT,
        refund=True,
    )


def refresh_account(
    db: Database, settings: Settings, account_id: int, *, failed: str | None = None
) -> AccountRef:
    """Refresh an account's token while holding its row, so two daemons never spend
    the same rotating refresh token; a refused refresh marks it needs_reconnect.

    `failed` is the access token the platform just refused: when the stored one is
    already another, a concurrent refresh won and its token is used as it is.
    """
    from sqlmodel import select

    from autopostr.platforms.registry import get_platform

    with db.session() as session:
        account = session.exec(
            select(SocialAccount).where(SocialAccount.id == account_id).with_for_update()
        ).one()
        ref = open_account(settings, account)
        if failed is not None and ref.credentials.get("access_token") not in (None, failed):
            return ref
        platform = get_platform(account.platform, settings)
        try:
            fresh = platform.refresh(ref)
            if fresh is None and failed is not None:
                raise PermanentError(f"{platform.title} refused the token and it cannot be renewed")
        except PlatformError as exc:
            if exc.transient and not isinstance(exc, AuthExpired):
                raise  # the platform was unreachable: the token may still be good
            account.status = accounts_mod.NEEDS_RECONNECT
            account.updated_at = utcnow()
            session.add(account)
            session.commit()
            message = (
                f"{accounts_mod.label(account)} needs re-authorisation ({exc.message}): "
                f"{accounts_mod.reconnect_fix(account, settings)}"
            )
            log.warning("%s", message)
            raise PermanentError(message) from None
        if fresh:
            accounts_mod.store_credentials(session, settings, account, {**ref.credentials, **fresh})
            account.updated_at = utcnow()
        session.flush()
        return open_account(settings, account)


def publish_due(
    db: Database,
    settings: Settings,
    *,
    worker: str | None = None,
    post_id: int | None = None,
    concurrency: int = 4,
    batch: int = 100,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Publish everything due now (or only `post_id`'s destinations), then return."""
    worker = worker or new_worker_id()
    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        while True:
            claims = claim_due(db, worker, batch, post_id=post_id)
            if not claims:
                break
            jobs = prepare(db, settings, claims)
            for outcome in pool.map(lambda j: publish_job(db, settings, worker, j), jobs):
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
    return outcomes


NOTIFY_CHANNEL = "autopostr_due"


def notify_due(session: DbSession) -> None:
    """Wake idle daemons on PostgreSQL; delivered when the transaction commits."""
    from sqlalchemy import text

    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})


def next_wake_at(db: Database) -> datetime | None:
    """The soonest moment something needs a publisher: a due time, a retry, or a lease running out."""
    from sqlalchemy import case, func, select
    from sqlmodel import col

    due = case(
        (
            col(PostDestination.next_attempt_at).is_not(None)
            & (col(PostDestination.next_attempt_at) > col(PostDestination.due_at)),
            col(PostDestination.next_attempt_at),
        ),
        else_=col(PostDestination.due_at),
    )
    with db.session() as session:
        pending = session.execute(
            select(func.min(due)).where(
                col(PostDestination.status).in_(("pending", "retrying")),
                col(PostDestination.due_at).is_not(None),
            )
        ).scalar()
        leases = session.execute(
            select(func.min(PostDestination.lease_expires_at)).where(
                col(PostDestination.status) == "claimed"
            )
        ).scalar()
    moments = [_aware(m) for m in (pending, leases) if m is not None]
    return min(moments) if moments else None


def _aware(moment: Any) -> datetime:
    from datetime import UTC

    if isinstance(moment, str):  # SQLite returns aggregates of DATETIME columns as text
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def claim_expired(
    db: Database,
    worker: str,
    limit: int,
    now: datetime | None = None,
    lease: timedelta = DEFAULT_LEASE,
) -> list[Claim]:
    """Take over destinations whose publisher stopped renewing its lease (it died)."""
    from sqlalchemy import select
    from sqlmodel import col

    now = now or utcnow()
    expired = (
        select(col(PostDestination.id))
        .where(
            col(PostDestination.status) == "claimed", col(PostDestination.lease_expires_at) < now
        )
        .order_by(col(PostDestination.lease_expires_at))
        .limit(limit)
    )
    with db.session() as session:
        # Taking over bumps `attempts` too: a new fencing token, so the dead publisher
        # can no longer write its result.
        claims = _take(session, db, expired, worker, now, lease)
        for claim in claims:
            _log(session, claim, "recovering", worker, "its publisher stopped renewing the lease")
    return claims


def recover_claim(db: Database, settings: Settings, worker: str, claim: Claim) -> Outcome:
    """A destination whose publisher died, maybe mid-call: ask the platform before re-sending."""
    job = _prepare(db, settings, claim)
    if job.request is None:
        return _finish(db, worker, job, status="failed", error=job.problem)
    return _recover(db, settings, worker, job)


def _recover(db: Database, settings: Settings, worker: str, job: _Job) -> Outcome:
    from autopostr.platforms.registry import get_platform

    claim = job.claim
    assert job.request is not None
    try:
        ref = open_account(settings, job.account)
        found = get_platform(job.account.platform, settings).find_published(ref, job.request)
    except KeyMissing as exc:
        return _wait_for_key(db, worker, job, exc, maybe_sent=True)
    except (PlatformError, AutopostrError) as exc:
        found = UNKNOWN
        reason = f"could not ask the platform ({getattr(exc, 'message', exc)})"
    else:
        reason = "the platform cannot tell"
    if isinstance(found, PublishResult):
        return _finish(db, worker, job, status="published", result=found)
    if found is None:
        return _call_platform(db, settings, worker, job)
    return _finish(
        db,
        worker,
        job,
        status="needs_review",
        error=f"the last attempt may have reached the platform and {reason} whether the post went out: check "
        f"{job.account_label}, then `autopostr posts reconcile` or `autopostr posts retry {claim.post_id}`",
    )


@dataclass
class Reconciled:
    destination_id: int
    post_id: int
    account: str
    status: str  # published | pending (absent: will be sent) | needs_review


def reconcile(db: Database, settings: Settings, team_id: int) -> list[Reconciled]:
    """Ask the platforms again about the team's `needs_review` destinations."""
    from sqlmodel import col, select

    from autopostr import posts as posts_mod
    from autopostr.platforms.registry import get_platform

    with db.session() as session:
        rows = session.exec(
            select(PostDestination, Post, SocialAccount)
            .join(Post, col(Post.id) == col(PostDestination.post_id))
            .join(SocialAccount, col(SocialAccount.id) == col(PostDestination.account_id))
            .where(col(PostDestination.status) == "needs_review", col(Post.team_id) == team_id)
        ).all()
        items = [(d.id or 0, p.id or 0, a) for d, p, a in rows]
        for account in {id(a): a for _d, _p, a in items}.values():
            session.expunge(account)  # one account may serve several destinations
    results: list[Reconciled] = []
    for dest_id, post_id, account in items:
        label = accounts_mod.label(account)
        job = _prepare(db, settings, Claim(dest_id, post_id, 0))
        status = "needs_review"
        found: PublishResult | object | None = UNKNOWN
        if job.request is not None:
            try:
                found = get_platform(account.platform, settings).find_published(
                    open_account(settings, account), job.request
                )
            except (PlatformError, AutopostrError):
                found = UNKNOWN
        with db.session() as session:
            dest = session.get(PostDestination, dest_id)
            if dest is None or dest.status != "needs_review":
                continue
            now = utcnow()
            if isinstance(found, PublishResult):
                dest.status, dest.remote_id, dest.url = "published", found.remote_id, found.url
                dest.published_at, dest.error = now, None
                status = "published"
            elif found is None:
                # The platform says it never went out: only then is it sent again.
                dest.status, dest.due_at, dest.next_attempt_at, dest.error = (
                    "pending",
                    now,
                    None,
                    None,
                )
                status = "pending"
                notify_due(session)
            dest.updated_at = now
            session.add(dest)
            session.flush()
            posts_mod.refresh_status(session, post_id)
        results.append(Reconciled(dest_id, post_id, label, status))
    return results
