"""Publish claimed destinations through their platform: prepare, call, recover, reconcile.

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
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from autopostr import accounts as accounts_mod
from autopostr import logsetup, outcomes, telemetry
from autopostr.config import Settings
from autopostr.db import Database
from autopostr.errors import AutopostrError, KeyMissing
from autopostr.models import Post, PostDestination, PublishLog, SocialAccount, utcnow
from autopostr.outcomes import Finishing, Outcome
from autopostr.platforms.base import (
    MAYBE_SENT,
    UNKNOWN,
    AccountRef,
    AuthExpired,
    MediaItem,
    PermanentError,
    PlatformError,
    Processing,
    PublishRequest,
    PublishResult,
)
from autopostr.platforms.http import StillProcessing
from autopostr.queue.claims import (
    Claim,
    aware,
    backoff,
    claim_due,
    claim_due_in,
    claim_values,
    claiming,
    ids_in,
    max_attempts,
    new_worker_id,
)
from autopostr.queue.transitions import notify_due, refresh_status
from autopostr.states import DestinationState, LogEvent
from autopostr.timeparse import describe_duration

if TYPE_CHECKING:
    pass

log = logging.getLogger("autopostr.publishing")

# What a publish comes to: its outcome, or (a daemon's task, `_Job.outcome_later`) the
# future of its outcome's commit.
Finished = Outcome | Future[Outcome]

# Outcomes after which the destination is tried again: where its media stands is kept.
RESUMABLE = frozenset(
    {DestinationState.RETRYING, DestinationState.PENDING, DestinationState.NEEDS_REVIEW}
)

# A destination whose account is sealed with a key this machine lacks looks again this
# often: someone may be importing the key right now.
KEY_WAIT = timedelta(minutes=1)


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
    due_at: datetime | None = None

    def context(self) -> Any:
        """The log context of everything this job logs (logsetup's keys)."""
        return logsetup.context(
            team=self.team_id,
            post=self.claim.post_id,
            destination=self.claim.destination_id,
            account=self.account_label,
            platform=self.account.platform,
            attempt=self.claim.attempt,
        )

    # Where a publish whose media the platform was processing stands (`Processing`).
    resume: dict[str, Any] | None = None
    # A daemon's task: the outcome is handed to the writer and the thread goes on to
    # the next call, the commit's future standing for it (`run_job`).
    outcome_later: bool = False
    # The state the job's calls came to (what `_finish` was asked to write).
    finished_as: str = ""


def _prepare(db: Database, settings: Settings, claim: Claim) -> _Job:
    jobs = prepare(db, settings, [claim])
    if not jobs:
        raise LookupError(f"destination {claim.destination_id} no longer exists")
    return jobs[0]


# What preparing reads of a destination, beside the post's and the account's columns.
_DESTINATION_FIELDS = ("text", "error", "idempotency_key", "resume", "due_at")


def _prepared_columns(destination: Any, first_claimed: Any) -> list[Any]:
    """The columns of a prepared row after the destination's id (see `_PREPARED_FIELDS`),
    `destination` being the table or a claim's CTE, and `first_claimed` when the
    destination was first claimed (its oldest claim in the log, or this one)."""
    from sqlalchemy import exists, func, select

    from autopostr.models import PostMedia

    posts: Any = Post.__table__  # type: ignore[attr-defined]
    accounts: Any = SocialAccount.__table__  # type: ignore[attr-defined]
    media: Any = PostMedia.__table__  # type: ignore[attr-defined]
    logs: Any = PublishLog.__table__  # type: ignore[attr-defined]
    oldest_claim = (
        select(func.min(logs.c.created_at))
        .where(
            logs.c.post_id == destination.c.post_id,
            logs.c.destination_id == destination.c.id,
            logs.c.event == LogEvent.CLAIMED.value,
        )
        .scalar_subquery()
    )
    return [
        *(destination.c[name] for name in _DESTINATION_FIELDS),
        posts.c.text,
        posts.c.first_comment,
        posts.c.team_id,
        posts.c.scheduled_at,
        exists().where(media.c.post_id == posts.c.id),
        oldest_claim if first_claimed is None else func.coalesce(oldest_claim, first_claimed),
        *accounts.c,
    ]


def _joined(destination: Any) -> Any:
    posts: Any = Post.__table__  # type: ignore[attr-defined]
    accounts: Any = SocialAccount.__table__  # type: ignore[attr-defined]
    return destination.join(posts, posts.c.id == destination.c.post_id).join(
        accounts, accounts.c.id == destination.c.account_id
    )


@functools.cache
def _prepare_statement(dialect: str) -> Any:
    """What `prepare` reads of a batch, built once and bound per call (`ids`): composing
    it per batch cost more CPU than running it. Core, with the account's columns: the
    account is built from them, no session keeps it."""
    from sqlalchemy import select

    dests: Any = PostDestination.__table__  # type: ignore[attr-defined]
    return (
        select(dests.c.id, *_prepared_columns(dests, None))
        .select_from(_joined(dests))
        .where(ids_in(dests.c.id, "ids", dialect))
    )


_claim_prepared: dict[tuple[tuple[str, int], ...] | None, Any] = {}


def _claim_prepared_statement(per_account: Mapping[str, int] | None) -> Any:
    """PostgreSQL: a claim and what its calls need in one statement (one round trip, one
    plan): the claim's UPDATE, its posts and log lines, and `_prepare_statement`'s
    columns of the rows it took, in rows of (id, post_id, attempts, prepared columns).
    Built once per platform map."""
    from sqlalchemy import select

    key = tuple(sorted(per_account.items())) if per_account is not None else None
    statement = _claim_prepared.get(key)
    if statement is None:
        claimed, writes = claiming(per_account, ("account_id", *_DESTINATION_FIELDS))
        statement = _claim_prepared[key] = (
            select(
                claimed.c.id,
                claimed.c.post_id,
                claimed.c.attempts,
                *_prepared_columns(claimed, claimed.c.claimed_at),
            )
            .select_from(_joined(claimed))
            .add_cte(*writes)
        )
    return statement


# The account's columns come after these in `_prepare_statement`'s rows.
_PREPARED_FIELDS = 12


def prepare(db: Database, settings: Settings, claims: list[Claim]) -> list[_Job]:
    """Everything the calls of a batch of claims need, in one query (plus one for the media
    of the posts that have some), in the order of `claims`."""
    if not claims:
        return []
    with db.transaction() as conn:
        return prepare_in(conn, db, settings, claims)


def claim_and_prepare(
    db: Database,
    settings: Settings,
    worker: str,
    limit: int,
    *,
    lease: timedelta,
    per_account: Mapping[str, int] | None,
    skip_teams: Sequence[int] = (),
) -> list[_Job]:
    """A daemon's claim and what its calls need: on PostgreSQL one statement, committed
    on its own; elsewhere one transaction (one connection and one commit for both).
    `skip_teams`: teams whose secrets this daemon's keys cannot open (PostgreSQL)."""
    if db.url.dialect != "postgresql":
        with db.transaction() as conn:
            claims = claim_due_in(conn, worker, limit, lease=lease, per_account=per_account)
            return prepare_in(conn, db, settings, claims)
    # One statement, atomic on its own: no transaction around it (the media of posts
    # that have some are read after it, as a transaction's next statement would be).
    with db.statements() as conn:
        now = utcnow()
        rows = conn.execute(
            _claim_prepared_statement(per_account),
            claim_values("postgresql", worker, limit, now, lease, per_account, skip_teams),
        ).all()
        rows.sort(key=lambda row: row[0])
        claims = [Claim(int(row[0]), int(row[1]), int(row[2])) for row in rows]
        return _jobs(conn, db, settings, claims, {row[0]: row[2:] for row in rows})


# Accounts built from prepared rows, by the row's every column: a row that changed in
# any way (a token refreshed, a status) is another key. Jobs only read their account.
_accounts_built: dict[tuple[Any, ...], SocialAccount] = {}
_ACCOUNTS_KEPT = 4096


def _account_of(values: tuple[Any, ...]) -> SocialAccount:
    """The account of a prepared row, built once per version of the row: building it
    (validation, ORM state) cost more CPU than the rest of preparing a publish."""
    account = _accounts_built.get(values)
    if account is None:
        if len(_accounts_built) >= _ACCOUNTS_KEPT:
            _accounts_built.clear()
        names = [column.name for column in SocialAccount.__table__.columns]  # type: ignore[attr-defined]
        account = SocialAccount(**dict(zip(names, values, strict=True)))
        _accounts_built[values] = account
    return account


def prepare_in(conn: Any, db: Database, settings: Settings, claims: list[Claim]) -> list[_Job]:
    """`prepare` on the caller's connection, in its transaction."""
    if not claims:
        return []
    rows = conn.execute(
        _prepare_statement(db.url.dialect), {"ids": [c.destination_id for c in claims]}
    ).all()
    return _jobs(conn, db, settings, claims, {row[0]: row for row in rows})


def _jobs(
    conn: Any, db: Database, settings: Settings, claims: list[Claim], rows: Mapping[int, Any]
) -> list[_Job]:
    """The jobs of `claims` from their prepared rows (by destination id; each row's
    prepared columns from its second on)."""
    from autopostr import posts as posts_mod

    found = {
        destination_id: (_account_of(tuple(row[_PREPARED_FIELDS:])), *row[1:_PREPARED_FIELDS])
        for destination_id, row in rows.items()
    }
    # A destination deleted since it was claimed has nothing left to publish.
    claims = [c for c in claims if c.destination_id in found]
    with_media = {c.post_id for c in claims if found[c.destination_id][10]}
    media_by_post: dict[int, Any] = {}
    if with_media:
        from sqlmodel import Session

        # The media rows through the ORM, in the same transaction (the connection's).
        with Session(bind=conn) as session:
            media_by_post = {
                post_id: _media_items(settings, db, posts_mod.media_of(session, post_id))
                for post_id in sorted(with_media)
            }
    jobs = []
    max_lateness = settings.seconds("max_lateness", 0)
    now = utcnow()
    for claim in claims:
        (
            account,
            dest_text,
            dest_error,
            key,
            resume,
            due_at,
            post_text,
            first_comment,
            team_id,
            scheduled_at,
            _has_media,
            first_claimed,
        ) = found[claim.destination_id]
        label = accounts_mod.label(account)
        problem = None
        # A destination that may have been sent is asked about first; one whose media
        # the platform is processing was sent in time and is only being finished.
        if not resume and not (dest_error or "").startswith(MAYBE_SENT):
            problem = too_late(scheduled_at, due_at, now, max_lateness, claim.post_id)
        request = None
        if problem is None and account.status != accounts_mod.ACTIVE:
            problem = (
                f"{label} is {account.status}: to reconnect it, "
                f"{accounts_mod.reconnect_fix(account, settings)}; then run "
                f"`autopostr posts retry {claim.post_id}`"
            )
        elif problem is None:
            request = PublishRequest(
                post_id=claim.post_id,
                destination_id=claim.destination_id,
                parts=posts_mod.split_thread(dest_text or post_text),
                media=media_by_post.get(claim.post_id, []),
                first_comment=first_comment,
                idempotency_key=key,
                first_claimed_at=aware(first_claimed) if first_claimed else None,
            )
        jobs.append(
            _Job(
                claim,
                account,
                label,
                team_id,
                request,
                problem,
                settings,
                dest_error or "",
                aware(due_at) if due_at is not None else None,
                json.loads(resume) if resume else None,
            )
        )
    return jobs


def too_late(
    scheduled_at: datetime | None,
    due_at: datetime | None,
    now: datetime,
    max_lateness: float,
    post_id: int,
) -> str | None:
    """Why a destination must not go out any more: AUTOPOSTR_MAX_LATENESS (seconds; 0 is
    no limit) has passed since it was due. Lateness counts from the later of the post's
    time and the destination's due time, so `posts retry` and `posts publish`, which make
    it due now, send it."""
    moments = [m for m in (scheduled_at, due_at) if m is not None]
    if not max_lateness or not moments:
        return None
    late = (now - max(moments)).total_seconds()
    if late <= max_lateness:
        return None
    return (
        f"too late: it was due {describe_duration(late)} ago, more than AUTOPOSTR_MAX_LATENESS "
        f"({describe_duration(max_lateness)}); to send it anyway, "
        f"`autopostr posts retry {post_id}`"
    )


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
    resume: dict[str, Any] | None = None,
    start_over: bool = False,
) -> Finished:
    """Record what came of the job (see `outcomes.finish`). A destination that will be
    tried again keeps where its media stands, so the next attempt resumes it, unless it
    is to `start_over`."""
    telemetry.emit("publish", platform=job.account.platform, result=status)
    if status == DestinationState.RETRYING:
        telemetry.emit("retry", platform=job.account.platform)
    if resume is None and not start_over and status in RESUMABLE and job.resume is not None:
        resume = job.resume
    item = Finishing(
        worker,
        job.claim,
        job.account.id,
        job.account_label,
        job.team_id,
        status,
        result,
        error,
        next_attempt_at,
        refund,
        json.dumps(resume, sort_keys=True) if resume is not None else None,
    )
    job.finished_as = status
    return outcomes.finish(db, job.settings, item, wait=not job.outcome_later)


def publish_claim(db: Database, settings: Settings, worker: str, claim: Claim) -> Outcome:
    """Publish one claimed destination and record what happened."""
    return publish_job(db, settings, worker, _prepare(db, settings, claim))


def publish_job(db: Database, settings: Settings, worker: str, job: _Job) -> Outcome:
    """Publish a prepared claim (see `prepare`) and record what happened."""
    with job.context():
        return _written(_publish_job(db, settings, worker, job))


def run_job(
    db: Database, settings: Settings, worker: str, job: _Job, *, recover: bool = False
) -> Future[Outcome]:
    """A daemon's task: publish (or, taken over, recover) a prepared claim, and hand its
    outcome to the writer. The future holds the outcome once committed, while the thread
    goes on to the next call rather than waiting for the commit."""
    job.outcome_later = True
    with job.context():
        if recover:
            finished = _recover_job(db, settings, worker, job)
        else:
            finished = _publish_job(db, settings, worker, job)
    if isinstance(finished, Future):
        return finished
    done: Future[Outcome] = Future()
    done.set_result(finished)
    return done


def _written(finished: Finished) -> Outcome:
    return finished.result() if isinstance(finished, Future) else finished


def _publish_job(db: Database, settings: Settings, worker: str, job: _Job) -> Finished:
    if job.request is None:
        return _finish(db, worker, job, status=DestinationState.FAILED, error=job.problem)
    if job.previous_error.startswith(MAYBE_SENT):
        # The last attempt may have reached the platform: ask before sending again.
        return _recover(db, settings, worker, job)
    return _call_platform(db, settings, worker, job)


def open_account(settings: Settings, account: SocialAccount) -> AccountRef:
    from autopostr.keys import SEALED_PREFIX, load_keyset

    # Loaded per job, so a daemon picks up a rotated key without a restart.
    sealed = account.access_token or account.refresh_token or SEALED_PREFIX in (account.extra or "")
    return accounts_mod.account_ref(account, load_keyset(settings) if sealed else None)


class _CallTimer:
    """Seconds spent in the platform's calls (however they end)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.monotonic()

    def __exit__(self, *_exc: object) -> None:
        self.seconds += time.monotonic() - self._started


def _call_platform(db: Database, settings: Settings, worker: str, job: _Job) -> Finished:
    """Call the platform, and tell telemetry how late and how long (and the log, at DEBUG)."""
    platform = job.account.platform
    if job.due_at is not None:
        telemetry.emit("due_to_call", (utcnow() - job.due_at).total_seconds(), platform=platform)
    timer = _CallTimer()
    finished = _call(db, settings, worker, job, timer)
    telemetry.emit("platform_call", timer.seconds, platform=platform, result=job.finished_as)
    log.debug(
        "publish call: %s", job.finished_as, extra={"duration_ms": round(timer.seconds * 1000, 1)}
    )
    return finished


def _call(db: Database, settings: Settings, worker: str, job: _Job, timer: _CallTimer) -> Finished:
    from autopostr.platforms.registry import get_platform, get_platform_class

    claim = job.claim
    assert job.request is not None
    try:
        ref = open_account(settings, job.account)
        platform = get_platform(job.account.platform, settings)
        try:
            with timer:
                result = _send(platform, ref, job)
        except AuthExpired:
            # An expired token is refreshed once; a second refusal is a real failure.
            ref = refresh_account(
                db, settings, job.account.id or 0, failed=ref.credentials.get("access_token")
            )
            with timer:
                result = _send(platform, ref, job)
    except Processing as waiting:
        # The platform is processing the media: come back later, holding no slot; the
        # check does not count as an attempt.
        check_at = utcnow() + timedelta(seconds=waiting.check_after)
        return _finish(
            db,
            worker,
            job,
            status=DestinationState.PROCESSING,
            error=f"waiting on {get_platform_class(job.account.platform).title} to finish "
            f"processing {waiting.what}; next check at {check_at:%H:%M:%S} UTC",
            next_attempt_at=check_at,
            refund=True,
            resume=waiting.resume,
        )
    except (PermanentError, AuthExpired) as exc:
        return _finish(db, worker, job, status=DestinationState.FAILED, error=exc.message)
    except KeyMissing as exc:
        return _wait_for_key(db, worker, job, exc)
    except PlatformError as exc:
        if claim.attempt >= max_attempts(settings):
            return _finish(
                db,
                worker,
                job,
                status=DestinationState.FAILED,
                error=f"{exc.message} (gave up after {claim.attempt} attempts)",
            )
        retry_at = utcnow() + backoff(claim.attempt, exc.retry_after)
        prefix = MAYBE_SENT if getattr(exc, "maybe_sent", False) else ""
        return _finish(
            db,
            worker,
            job,
            status=DestinationState.RETRYING,
            error=prefix + exc.message,
            next_attempt_at=retry_at,
            # The media never came out of processing in time: the next attempt uploads
            # afresh rather than asking after the same media until attempts run out.
            start_over=isinstance(exc, StillProcessing),
        )
    except AutopostrError as exc:
        # Our own checks (configuration, keys) failed before any request left: safe to retry.
        retry_at = utcnow() + backoff(claim.attempt)
        return _finish(
            db,
            worker,
            job,
            status=DestinationState.RETRYING,
            error=exc.message,
            next_attempt_at=retry_at,
        )
    except Exception as exc:
        # The call may or may not have reached the platform: never re-send blindly.
        from autopostr import reporting

        reporting.report(exc)
        return _finish(
            db,
            worker,
            job,
            status=DestinationState.NEEDS_REVIEW,
            error=f"unexpected {type(exc).__name__} while publishing: {exc}; check the account, then "
            f"`autopostr posts reconcile` or `autopostr posts retry {claim.post_id}`",
        )
    return _finish(db, worker, job, status=DestinationState.PUBLISHED, result=result)


def _send(platform: Any, ref: AccountRef, job: _Job) -> PublishResult:
    """The publish, or its continuation when the platform was processing its media."""
    assert job.request is not None
    if job.resume is not None:
        return platform.resume(ref, job.request, job.resume)  # type: ignore[no-any-return]
    platform.check_quota(ref, job.request)
    return platform.publish(ref, job.request)  # type: ignore[no-any-return]


_keys_told: set[str] = set()
_keys_told_lock = threading.Lock()


def _wait_for_key(
    db: Database, worker: str, job: _Job, exc: KeyMissing, maybe_sent: bool = False
) -> Finished:
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
        status=DestinationState.PENDING,
        error=error,
        next_attempt_at=utcnow() + KEY_WAIT,
        refund=True,
    )


def refresh_account(
    db: Database,
    settings: Settings,
    account_id: int,
    *,
    failed: str | None = None,
    log_refusal: bool = True,
) -> AccountRef:
    """Refresh an account's token while holding its row, so two daemons never spend
    the same rotating refresh token; a refused refresh marks it needs_reconnect.

    `failed` is the access token the platform just refused: when the stored one is
    already another, a concurrent refresh won and its token is used as it is.
    A refusal is logged for the daemon's log; `log_refusal=False` where the caller
    shows the error itself (`accounts refresh`), so it is not said twice.
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
            telemetry.emit("token_refresh", platform=account.platform, result="failed")
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
            if log_refusal:
                log.warning("%s", message)
            raise PermanentError(message) from None
        if fresh:
            accounts_mod.store_credentials(session, settings, account, {**ref.credentials, **fresh})
            account.updated_at = utcnow()
            telemetry.emit("token_refresh", platform=account.platform, result="ok")
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
    now: datetime | None = None,
) -> list[Outcome]:
    """Publish everything due now (or only `post_id`'s destinations), then return.
    `now` is for a simulated clock: what is due at that moment goes out. On a member's
    database role (which cannot read tokens nor write outcomes) nothing: the daemons
    publish what is due."""
    if db.tokens_hidden():
        return []
    worker = worker or new_worker_id()
    done: list[Outcome] = []
    from autopostr.keys import teams_out_of_reach

    skip_teams = teams_out_of_reach(settings, db)  # left to the daemons holding their keys
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        while True:
            claims = claim_due(db, worker, batch, now=now, post_id=post_id, skip_teams=skip_teams)
            if not claims:
                break
            jobs = prepare(db, settings, claims)
            for outcome in pool.map(lambda j: publish_job(db, settings, worker, j), jobs):
                done.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
    return done


def recover_claim(db: Database, settings: Settings, worker: str, claim: Claim) -> Outcome:
    """A destination whose publisher died, maybe mid-call: ask the platform before re-sending."""
    return recover_job(db, settings, worker, _prepare(db, settings, claim))


def recover_job(db: Database, settings: Settings, worker: str, job: _Job) -> Outcome:
    """`recover_claim` for a prepared claim (see `prepare`)."""
    with job.context():
        return _written(_recover_job(db, settings, worker, job))


def _recover_job(db: Database, settings: Settings, worker: str, job: _Job) -> Finished:
    if job.request is None:
        return _finish(db, worker, job, status=DestinationState.FAILED, error=job.problem)
    return _recover(db, settings, worker, job)


def _recover(db: Database, settings: Settings, worker: str, job: _Job) -> Finished:
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
        return _finish(db, worker, job, status=DestinationState.PUBLISHED, result=found)
    if found is None:
        return _call_platform(db, settings, worker, job)
    return _finish(
        db,
        worker,
        job,
        status=DestinationState.NEEDS_REVIEW,
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

    from autopostr.platforms.registry import get_platform

    with db.session() as session:
        rows = session.exec(
            select(PostDestination, Post, SocialAccount)
            .join(Post, col(Post.id) == col(PostDestination.post_id))
            .join(SocialAccount, col(SocialAccount.id) == col(PostDestination.account_id))
            .where(
                col(PostDestination.status) == DestinationState.NEEDS_REVIEW,
                col(Post.team_id) == team_id,
            )
        ).all()
        items = [(d.id or 0, p.id or 0, a) for d, p, a in rows]
        for account in {id(a): a for _d, _p, a in items}.values():
            session.expunge(account)  # one account may serve several destinations
    results: list[Reconciled] = []
    for dest_id, post_id, account in items:
        label = accounts_mod.label(account)
        job = _prepare(db, settings, Claim(dest_id, post_id, 0))
        status: str = DestinationState.NEEDS_REVIEW
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
            if dest is None or dest.status != DestinationState.NEEDS_REVIEW:
                continue
            now = utcnow()
            if isinstance(found, PublishResult):
                dest.status = DestinationState.PUBLISHED
                dest.remote_id, dest.url = found.remote_id, found.url
                dest.published_at, dest.error = now, None
                status = DestinationState.PUBLISHED
            elif found is None:
                # The platform says it never went out: only then is it sent again.
                dest.status, dest.due_at, dest.next_attempt_at, dest.error = (
                    DestinationState.PENDING,
                    now,
                    None,
                    None,
                )
                status = DestinationState.PENDING
                notify_due(session)
            dest.updated_at = now
            session.add(dest)
            session.flush()
            refresh_status(session, post_id)
        results.append(Reconciled(dest_id, post_id, label, status))
    return results
