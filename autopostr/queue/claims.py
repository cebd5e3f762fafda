"""Claiming due destinations: one statement takes a batch with a lease and a fencing token.

A claim marks due rows `claimed` by this process with a lease and bumps `attempts`
(`FOR UPDATE SKIP LOCKED` on PostgreSQL, a `BEGIN IMMEDIATE` transaction on
SQLite), so two publishers never take the same row. Every later write about that
row is fenced on (claimed_by, attempts): a publisher whose lease was taken over
cannot overwrite its successor's result. Leases of publishers that died are taken
over the same way (`claim_expired`).

A long-running daemon also holds a liveness lock for its whole life (a session-level
advisory lock on PostgreSQL whose key is in its `daemons` row, the file lock beside a
SQLite database): a daemon whose lock is free is gone, and its claims are taken over
at once instead of when their leases run out (`gone_daemons`).
"""

from __future__ import annotations

import functools
import os
import random
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from autopostr.config import Settings
from autopostr.db import Database
from autopostr.models import Daemon, Post, PostDestination, PublishLog, utcnow
from autopostr.states import DUE_STATES, DestinationState, LogEvent, PostState, sql_in

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

DEFAULT_LEASE = timedelta(minutes=5)

# Between the claim instants of one batch: more than the record keys a thread takes.
CLAIM_SPACING = timedelta(microseconds=64)

DEFAULT_MAX_ATTEMPTS = 5

# The first half of every daemon's two-part advisory-lock key ("apos"); the second half is
# the daemon's own `lock_key`, positive so that pg_locks' unsigned `objid` shows it as is.
LOCK_NAMESPACE = 0x61706F73

# The queue's filters as literal SQL, the very text of the partial indexes' WHERE: a
# planner uses a partial index only when it can prove the query implies its WHERE, and
# it cannot with bound parameters (SQLite never; PostgreSQL not in a generic plan).
UNSENT = sql_in("status", DUE_STATES)
CLAIMED_STATE = DestinationState.CLAIMED
CLAIMED = sql_in("status", [CLAIMED_STATE])
# The same, for statements that join another table with a status column.
DUE_DESTINATION = sql_in("post_destinations.status", DUE_STATES)
# The same, in an expression that implies no partial index's condition, where only
# the primary key should find the rows.
UNINDEXED_DUE_DESTINATION = sql_in("(post_destinations.status || '')", DUE_STATES)

BACKOFF_BASE_SECONDS = 30.0

BACKOFF_CAP_SECONDS = 3600.0


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Claim:
    destination_id: int
    post_id: int
    attempt: int


def max_attempts(settings: Settings) -> int:
    return settings.integer("max_attempts", DEFAULT_MAX_ATTEMPTS, minimum=1)


def backoff(attempt: int, retry_after: float | None = None) -> timedelta:
    """Exponential with full jitter, never sooner than the platform asked."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempt - 1))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return timedelta(seconds=delay)


def take(
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
    from sqlmodel import col

    returning = (
        col(PostDestination.id),
        col(PostDestination.post_id),
        col(PostDestination.attempts),
    )
    rows = take_rows(
        session, db, PostDestination, candidates, worker, now, lease, returning, **values
    )
    return [Claim(int(r[0]), int(r[1]), int(r[2])) for r in rows]


def take_rows(
    session: DbSession,
    db: Database,
    model: Any,
    candidates: Any,
    worker: str,
    now: datetime,
    lease: timedelta,
    returning: Sequence[Any],
    **values: Any,
) -> list[Any]:
    """`take` for any table with the queue's claim columns (`id`, `claimed_by`,
    `lease_expires_at`, `attempts` as the fencing token, `updated_at`): other periodic
    work (the analytics sync) claims its rows the same way, with `returning` naming
    what it needs of each."""
    from sqlalchemy import update

    if db.url.dialect == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    statement = (
        update(model)
        .where(model.id.in_(candidates.scalar_subquery()))
        .values(
            claimed_by=worker,
            lease_expires_at=now + lease,
            attempts=model.attempts + 1,
            updated_at=now,
            **values,
        )
        .returning(*returning)
    )
    return list(session.execute(statement).all())


def claim_due(
    db: Database,
    worker: str,
    limit: int,
    now: datetime | None = None,
    post_id: int | None = None,
    lease: timedelta = DEFAULT_LEASE,
    per_account: Mapping[str, int] | None = None,
    skip_teams: Sequence[int] = (),
) -> list[Claim]:
    """Claim up to `limit` due destinations in one statement.

    `per_account` (a daemon's claim) takes only what can be sent now: no more of one
    account's destinations than its platform takes at once (platform name -> posts at
    once; 1 for a platform not named), counting those claimed already by anyone, the
    account's earliest first. Without it (`daemon run --once`, `posts publish`) every
    due destination may be taken. On PostgreSQL a claim leaves the accounts of
    `skip_teams` alone (`keys.unservable_teams`).
    """
    with db.transaction() as conn:
        return claim_due_in(conn, worker, limit, now, post_id, lease, per_account, skip_teams)


def claim_due_in(
    conn: Any,
    worker: str,
    limit: int,
    now: datetime | None = None,
    post_id: int | None = None,
    lease: timedelta = DEFAULT_LEASE,
    per_account: Mapping[str, int] | None = None,
    skip_teams: Sequence[int] = (),
) -> list[Claim]:
    """`claim_due` on the caller's connection, in its transaction (which reads what the
    claims need next). Core statements: no ORM execution path."""
    now = now or utcnow()
    statement = _claim_statement(conn.dialect.name, per_account, post_id is not None)
    values = claim_values(conn.dialect.name, worker, limit, now, lease, per_account, skip_teams)
    if post_id is not None:
        values["only_post"] = post_id
    rows = conn.execute(statement, values).all()
    claims = [Claim(int(r[0]), int(r[1]), int(r[2])) for r in rows]
    if claims:
        publishing = _after_claim(conn.dialect.name)
        conn.execute(publishing, {"now": now, "claimed_posts": sorted({c.post_id for c in claims})})
        # Each claim of a batch gets its own instant: the first one is a destination's
        # lasting timestamp (Bluesky record keys carry it), so no two coincide.
        insert_logs(
            conn,
            [
                log_row(claim, LogEvent.CLAIMED, worker, "", now + CLAIM_SPACING * index)
                for index, claim in enumerate(claims)
            ],
        )
    return sorted(claims, key=lambda c: c.destination_id)


_claim_statements: dict[tuple[str, tuple[tuple[str, int], ...] | None, bool], Any] = {}


def claim_values(
    dialect: str,
    worker: str,
    limit: int,
    now: datetime,
    lease: timedelta,
    per_account: Mapping[str, int] | None,
    skip_teams: Sequence[int],
) -> dict[str, Any]:
    """What a claim statement is bound with."""
    values: dict[str, Any] = {
        "now": now,
        "lease_until": now + lease,
        "worker": worker,
        "limit": limit,
    }
    if dialect == "postgresql":
        values["skip_teams"] = list(skip_teams)
    return values


def _claim_statement(dialect: str, per_account: Mapping[str, int] | None, one_post: bool) -> Any:
    """The claim's UPDATE … RETURNING, built once per dialect and platform map and bound
    at each call (`now`, `lease_until`, `worker`, `limit`, `only_post`): building it and
    walking it for SQLAlchemy's cache key cost more CPU than the claim's round trip.
    Core, not the ORM: no session state to synchronise."""
    key = (
        dialect,
        tuple(sorted(per_account.items())) if per_account is not None else None,
        one_post,
    )
    statement = _claim_statements.get(key)
    if statement is None:
        statement = _claim_statements[key] = _build_claim(dialect, per_account, one_post)
    return statement


@functools.cache
def _after_claim(dialect: str) -> Any:
    """What a claim writes beside the destinations and its log lines, built once: its
    posts become `publishing`."""
    from sqlalchemy import bindparam, true, update

    posts: Any = Post.__table__  # type: ignore[attr-defined]
    return (
        update(posts)
        .where(
            ids_in(posts.c.id, "claimed_posts", dialect),
            # Not a condition an index can serve: the posts are found by id. Served by
            # the status index (a planner's pick when its statistics lag a burst), it
            # read every scheduled post at each claim.
            (posts.c.status == PostState.SCHEDULED.value).is_(true()),
        )
        .values(
            status=PostState.PUBLISHING.value,
            updated_at=bindparam("now", type_=posts.c.updated_at.type),
        )
    )


def ids_in(column: Any, name: str, dialect: str) -> Any:
    """`column IN (ids)` bound from a list: `= ANY(array)` on PostgreSQL, so the
    statement's text is the same whatever the list's length (one server-side prepared
    statement and plan, no per-call expansion); an expanding IN elsewhere."""
    from sqlalchemy import Integer, any_, bindparam

    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(name, type_=ARRAY(Integer)))
    return column.in_(bindparam(name, expanding=True))


# PostgreSQL: a batch's log lines in one statement, bound as one JSON document (binding
# a column per array cost more CPU, in the driver's array adaptation, than the insert).
# A publish-log line's columns, in the order every statement that writes lines names them.
LOG_COLUMNS = (
    "post_id",
    "destination_id",
    "account_id",
    "team_id",
    "daemon_id",
    "event",
    "attempt",
    "message",
    "created_at",
)
INSERT_LOG_LINES = f"INSERT INTO publish_logs ({', '.join(LOG_COLUMNS)})"

_INSERT_LOGS = (
    INSERT_LOG_LINES
    + """
SELECT * FROM json_to_recordset(CAST(:rows AS json)) AS v(
    post_id integer, destination_id integer, account_id integer, team_id integer,
    daemon_id text, event text, attempt integer, message text, created_at timestamptz
)
"""
)


@functools.cache
def _insert_logs(dialect: str) -> Any:
    from sqlalchemy import insert, text

    if dialect == "postgresql":
        return text(_INSERT_LOGS.strip())
    return insert(PublishLog.__table__)  # type: ignore[attr-defined]


def json_rows(rows: list[dict[str, Any]]) -> str:
    """Rows as one JSON document for `json_to_recordset`: datetimes in ISO 8601."""
    import json

    return json.dumps(rows, default=_iso, separators=(",", ":"))


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def insert_logs(conn: Any, rows: list[dict[str, Any]]) -> None:
    """Write `log_row`s on the caller's connection: one statement on PostgreSQL (not one
    per row), an executemany elsewhere."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(_insert_logs(dialect), {"rows": json_rows(rows)})
    else:
        conn.execute(_insert_logs(dialect), rows)


def claiming(
    per_account: Mapping[str, int] | None, columns: Sequence[str]
) -> tuple[Any, list[Any]]:
    """PostgreSQL: a whole claim as common table expressions, for one statement that
    also reads what the claims need: the claimed destinations (`id`, `post_id`,
    `attempts`, these `columns` of theirs and `claimed_at`, the instant of the claim's
    log line), and the writes beside it (their posts become `publishing`, their log
    lines), which the statement must carry (`add_cte`). Bound as `claim_due`'s."""
    from sqlalchemy import (
        Interval,
        any_,
        bindparam,
        func,
        insert,
        literal,
        literal_column,
        null,
        select,
        true,
        update,
    )

    dests: Any = PostDestination.__table__  # type: ignore[attr-defined]
    posts: Any = Post.__table__  # type: ignore[attr-defined]
    logs: Any = PublishLog.__table__  # type: ignore[attr-defined]
    now = bindparam("now", type_=dests.c.due_at.type)
    claimed = (
        _build_claim("postgresql", per_account, False)
        .returning(*(dests.c[name] for name in columns))  # after id, post_id, attempts
        .cte("claimed")
    )
    # Each claim of a batch its own instant, as `claim_due_in` gives them.
    spacing = literal_column(
        f"interval '{CLAIM_SPACING // timedelta(microseconds=1)} microseconds'", Interval
    )
    stamped = select(
        claimed,
        (now + spacing * (func.row_number().over(order_by=claimed.c.id) - 1)).label("claimed_at"),
    ).cte("stamped")
    publishing = (
        update(posts)
        .where(
            posts.c.id == any_(func.array(select(stamped.c.post_id).scalar_subquery())),
            (posts.c.status == PostState.SCHEDULED.value).is_(true()),  # see _after_claim
        )
        .values(status=PostState.PUBLISHING.value, updated_at=now)
        .cte("publishing")
    )
    logged = (
        insert(logs)
        .from_select(
            list(LOG_COLUMNS),
            select(
                stamped.c.post_id,
                stamped.c.id,
                null(),
                null(),
                bindparam("worker", type_=logs.c.daemon_id.type),
                literal(LogEvent.CLAIMED.value),
                stamped.c.attempts,
                literal(""),
                stamped.c.claimed_at,
            ),
        )
        .cte("logged")
    )
    return stamped, [publishing, logged]


def _build_claim(dialect: str, per_account: Mapping[str, int] | None, one_post: bool) -> Any:
    from sqlalchemy import Integer, bindparam, func, or_, select, text, update

    dests: Any = PostDestination.__table__  # type: ignore[attr-defined]
    now = bindparam("now", type_=dests.c.due_at.type)
    is_due = (
        text(DUE_DESTINATION),
        dests.c.due_at <= now,
        or_(dests.c.next_attempt_at.is_(None), dests.c.next_attempt_at <= now),
    )
    limit = bindparam("limit", type_=Integer)
    if per_account is None:
        due = select(dests.c.id).where(*is_due)
        if dialect == "postgresql":
            due = due.where(dests.c.account_id.not_in(_accounts_of_skipped_teams()))
    else:
        sendable = (
            _sendable_by_account(now, limit, per_account)
            if dialect == "postgresql"
            else _sendable_now(is_due, per_account)
        )
        ids = select(sendable.c.id).scalar_subquery()
        if dialect == "postgresql":
            # = ANY(ARRAY(…)): the rows are fetched by primary key, whatever the planner
            # guesses of a burst's row counts. The due test, looked at again on each row
            # locked, is one expression (GREATEST skips NULL) that no index is keyed by:
            # as `due_at <= :now`, statistics from before a burst (nothing due yet) made
            # a scan of every unsent row's entry look cheaper.
            due = select(dests.c.id).where(
                dests.c.id == func.any(func.array(ids)),
                text(UNINDEXED_DUE_DESTINATION),
                func.greatest(dests.c.due_at, dests.c.next_attempt_at) <= now,
            )
        else:
            due = select(dests.c.id).where(dests.c.id.in_(ids), *is_due)
    due = due.order_by(dests.c.due_at, dests.c.id).limit(limit)
    if one_post:
        due = due.where(dests.c.post_id == bindparam("only_post", type_=Integer))
    if dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    return (
        update(dests)
        .where(dests.c.id.in_(due.scalar_subquery()))
        .values(
            status=DestinationState.CLAIMED.value,
            claimed_by=bindparam("worker", type_=dests.c.claimed_by.type),
            lease_expires_at=bindparam("lease_until", type_=dests.c.lease_expires_at.type),
            attempts=dests.c.attempts + 1,
            updated_at=now,
        )
        .returning(dests.c.id, dests.c.post_id, dests.c.attempts)
    )


def _accounts_of_skipped_teams() -> Any:
    """PostgreSQL: the accounts of the teams bound as `skip_teams`."""
    from sqlalchemy import ARRAY, Integer, any_, bindparam, select

    from autopostr.models import SocialAccount

    accounts: Any = SocialAccount.__table__  # type: ignore[attr-defined]
    skip = bindparam("skip_teams", type_=ARRAY(Integer))
    return select(accounts.c.id).where(accounts.c.team_id == any_(skip))


def gone_daemons(db: Database, me: str) -> Any:
    """A SELECT of the ids of long-running daemons known to be gone, for use in a WHERE.

    On PostgreSQL: those whose advisory lock nobody holds (a lock dies with its session,
    so with the process). On SQLite: every other daemon that held the file lock, which is
    only right for the caller that holds that lock now (the one daemon per file).
    Daemons that hold no lock (`lock_key` NULL: `--once` runs, older versions) are never
    in it: their claims wait for the lease."""
    from sqlalchemy import BigInteger, cast, column, select, table
    from sqlmodel import col

    gone = select(col(Daemon.id)).where(col(Daemon.lock_key).is_not(None), col(Daemon.id) != me)
    if db.url.dialect == "postgresql":
        locks = table(
            "pg_locks",
            column("locktype"),
            column("database"),
            column("classid"),
            column("objid"),
            column("objsubid"),
        )
        databases = table("pg_database", column("oid"), column("datname"))
        from sqlalchemy import func

        held = select(cast(locks.c.objid, BigInteger)).where(
            locks.c.locktype == "advisory",
            locks.c.objsubid == 2,
            cast(locks.c.classid, BigInteger) == LOCK_NAMESPACE,
            locks.c.database
            == select(databases.c.oid)
            .where(databases.c.datname == func.current_database())
            .scalar_subquery(),
        )
        gone = gone.where(col(Daemon.lock_key).not_in(held))
    return gone


def orphaned(db: Database, me: str) -> int:
    """How many claims belong to daemons that are gone (a cheap look before taking them)."""
    from sqlalchemy import func, select, text
    from sqlmodel import col

    with db.session() as session:
        return int(
            session.execute(
                select(func.count())
                .select_from(PostDestination)
                .where(
                    text(CLAIMED),
                    col(PostDestination.claimed_by).in_(gone_daemons(db, me)),
                )
            ).scalar_one()
        )


def _account_room(per_account: Mapping[str, int]) -> tuple[Any, Any]:
    """What an account's room is made of, for a claim on SQLite: a subquery of how many
    of each account's destinations anyone holds claimed (`account_id`, `busy`), and the
    expression of how many its platform takes at once (on `social_accounts`)."""
    from sqlalchemy import func, select, text
    from sqlmodel import col

    claimed = (
        select(
            col(PostDestination.account_id).label("account_id"),
            func.count().label("busy"),
        )
        .where(text(CLAIMED))  # literal: any plan, generic too, uses the partial index
        .group_by(col(PostDestination.account_id))
        .subquery()
    )
    return claimed, _at_once(per_account)


def _at_once(per_account: Mapping[str, int]) -> Any:
    """How many of an account's destinations its platform takes at once, as an
    expression on `social_accounts`."""
    from sqlalchemy import case, literal
    from sqlmodel import col

    from autopostr.models import SocialAccount

    wider = {name: n for name, n in per_account.items() if n != 1}
    if not wider:
        return literal(1)
    return case(
        *((col(SocialAccount.platform) == name, n) for name, n in sorted(wider.items())),
        else_=1,
    )


def _sendable_now(is_due: Any, per_account: Mapping[str, int]) -> Any:
    """The due destinations each account has room for: ranked per account by due time,
    kept while rank + already claimed <= what its platform takes at once."""
    from sqlalchemy import func, select
    from sqlmodel import col

    from autopostr.models import SocialAccount

    claimed, at_once = _account_room(per_account)
    ranked = (
        select(
            col(PostDestination.id).label("id"),
            func.row_number()
            .over(
                partition_by=col(PostDestination.account_id),
                order_by=(col(PostDestination.due_at), col(PostDestination.id)),
            )
            .label("rank"),
            (at_once - func.coalesce(claimed.c.busy, 0)).label("room"),
        )
        .join(SocialAccount, col(SocialAccount.id) == col(PostDestination.account_id))
        .outerjoin(claimed, claimed.c.account_id == col(PostDestination.account_id))
        .where(*is_due)
        .subquery()
    )
    # Materialised: computed once per claim, whatever the planner guesses of a burst's
    # rows (re-ranking per candidate cost a second of CPU).
    return (
        select(ranked.c.id)
        .where(ranked.c.rank <= ranked.c.room)
        .cte("sendable")
        .prefix_with("MATERIALIZED")
    )


def _sendable_by_account(now: Any, limit: Any, per_account: Mapping[str, int]) -> Any:
    """PostgreSQL: `_sendable_now` in work bounded by the accounts, not the due rows: for
    each account, its earliest due destinations, as many as it has room for (a few
    entries of `ix_post_destinations_due_by_account`), then the earliest of those, a
    few batches' worth (what other daemons lock meanwhile is skipped)."""
    from sqlalchemy import ARRAY, Integer, all_, bindparam, func, or_, select, text, true, tuple_

    from autopostr.models import SocialAccount

    accounts: Any = SocialAccount.__table__  # type: ignore[attr-defined]
    due: Any = PostDestination.__table__.alias("due")  # type: ignore[attr-defined]
    held: Any = PostDestination.__table__.alias("held")  # type: ignore[attr-defined]
    # Counted account by account: a few entries of `ix_post_destinations_claimed_by_account`
    # each, by index scans, which mark the entries of rows claimed earlier in a burst and
    # since sent as dead. (Grouped over all claimed rows, the planner took a bitmap scan,
    # which never does: every claim then read every row claimed since the last vacuum.)
    busy = (
        select(func.count())
        .where(held.c.account_id == accounts.c.id, text(sql_in("held.status", [CLAIMED_STATE])))
        .correlate(accounts)
        .scalar_subquery()
    )
    room = func.greatest(0, _at_once(per_account) - busy)
    earliest = (
        select(due.c.id, due.c.due_at)
        .where(
            due.c.account_id == accounts.c.id,
            text(sql_in("due.status", DUE_STATES)),
            # `due_at <= :now` as a row comparison, which only an index leading with
            # `account_id` can serve: as itself, statistics from before a burst (nothing
            # due yet) made each account's rows a walk of every due row's entry in
            # `ix_post_destinations_due_unsent`, account by account.
            tuple_(due.c.account_id, due.c.due_at) <= tuple_(accounts.c.id, now),
            or_(due.c.next_attempt_at.is_(None), due.c.next_attempt_at <= now),
        )
        .order_by(due.c.due_at, due.c.id)
        .limit(room)
        .lateral("earliest")
    )
    return (
        select(earliest.c.id)
        .select_from(accounts.join(earliest, true()))
        # Teams whose secrets this daemon's keys cannot open are left to those that can.
        .where(accounts.c.team_id != all_(bindparam("skip_teams", type_=ARRAY(Integer))))
        .order_by(earliest.c.due_at, earliest.c.id)
        .limit(limit * 4)
        .cte("sendable")
        .prefix_with("MATERIALIZED")
    )


def claim_expired(
    db: Database,
    worker: str,
    limit: int,
    now: datetime | None = None,
    lease: timedelta = DEFAULT_LEASE,
    *,
    orphans: bool = False,
    skip_teams: Sequence[int] = (),
) -> list[Claim]:
    """Take over destinations whose publisher stopped renewing its lease (it died), and
    with `orphans` also those of daemons known to be gone (`gone_daemons`), lease or not;
    never those of `skip_teams` (whose secrets this daemon's keys cannot open)."""
    from sqlalchemy import or_, select, text
    from sqlmodel import col

    from autopostr.models import SocialAccount

    now = now or utcnow()
    lapsed = col(PostDestination.lease_expires_at) < now
    expired = (
        select(col(PostDestination.id))
        .where(
            text(CLAIMED),
            or_(lapsed, col(PostDestination.claimed_by).in_(gone_daemons(db, worker)))
            if orphans
            else lapsed,
        )
        .order_by(col(PostDestination.lease_expires_at))
        .limit(limit)
    )
    if skip_teams:
        expired = expired.where(
            col(PostDestination.account_id).not_in(
                select(col(SocialAccount.id)).where(col(SocialAccount.team_id).in_(skip_teams))
            )
        )
    with db.session() as session:
        # Taking over bumps `attempts` too: a new fencing token, so the dead publisher
        # can no longer write its result.
        claims = take(session, db, expired, worker, now, lease)
        for claim in claims:
            log(
                session,
                claim,
                LogEvent.RECOVERING,
                worker,
                "its publisher is gone" if orphans else "its publisher stopped renewing the lease",
            )
    return claims


def next_wake_at(db: Database) -> datetime | None:
    """The soonest moment something needs a publisher: a due time, a retry, or a lease running out.

    Three reads of a few index entries each, however many posts are scheduled: the first
    due row with no retry time (in due order), the retries (their own partial index) and
    the leases (claimed rows only). One statement, built once: a daemon asks after
    every claim that came back short, and building and running three through a session
    cost more CPU than the claim's own preparing."""
    statements = db.statements() if db.url.dialect == "postgresql" else db.transaction()
    with statements as conn:
        row = conn.execute(_next_wake_statement()).one()
    moments = [aware(m) for m in row if m is not None]
    return min(moments) if moments else None


@functools.cache
def _next_wake_statement() -> Any:
    from sqlalchemy import case, func, select, text

    dests: Any = PostDestination.__table__  # type: ignore[attr-defined]
    due_at, retry_at = dests.c.due_at, dests.c.next_attempt_at
    pending = (
        select(due_at)
        .where(text(UNSENT), due_at.is_not(None), retry_at.is_(None))
        .order_by(due_at)
        .limit(1)
        .scalar_subquery()
    )
    retry = (
        select(func.min(case((retry_at > due_at, retry_at), else_=due_at)))
        .where(text(f"{UNSENT} AND next_attempt_at IS NOT NULL"), due_at.is_not(None))
        .scalar_subquery()
    )
    leases = select(func.min(dests.c.lease_expires_at)).where(text(CLAIMED)).scalar_subquery()
    return select(pending.label("pending"), retry.label("retry"), leases.label("leases"))


def aware(moment: datetime | str) -> datetime:
    from datetime import UTC

    if isinstance(moment, str):  # SQLite returns aggregates of DATETIME columns as text
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def log_row(
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


def log(
    session: DbSession, claim: Claim, event: str, worker: str, message: str, **ids: Any
) -> None:
    """One publish-log line, as a plain INSERT (no ORM object on the hot path)."""
    from sqlalchemy import insert

    session.execute(
        insert(PublishLog).values(**log_row(claim, event, worker, message, utcnow(), **ids))
    )
