"""The analytics sync: each published post's and each account's numbers fetched once
per period (AUTOPOSTR_ANALYTICS_INTERVAL, 6 h by default, in periods aligned on UTC
midnight), however many daemons run the job, and written as that day's snapshot.

What to ask is a table, `analytics_targets`: one row per published post and per
account, enrolled at the start of each run. Targets are claimed the way publishes are
(`queue.claims.take_rows`: one statement, a lease, a fencing token bumped by every
claim), and what came of a claim is written only while it is still this worker's. A
fetched target is due again when the next period starts, so a second daemon finds
nothing left to do in this one.

Per account, the platform is asked in batches of what its API takes at once. A rate
limit (a 429, Graph's throttling codes) pauses that account until the platform's
reset, for every daemon, and the run goes on with the others; an expired token is
refreshed once; a post deleted on the platform is marked gone and never asked again;
one account's failure never stops the rest. `analytics sync` by hand asks everything
in scope now, whatever is due.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from autopostr.analytics import snapshots
from autopostr.config import Settings
from autopostr.db import Database
from autopostr.models import AnalyticsTarget, PostDestination, SocialAccount, utcnow
from autopostr.platforms.base import (
    AuthExpired,
    Gone,
    Metrics,
    MetricsTarget,
    NotSupported,
    PlatformError,
)
from autopostr.queue.claims import aware
from autopostr.states import DestinationState

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

    from autopostr.identity import Actor

log = logging.getLogger("autopostr.analytics")

DEFAULT_INTERVAL = timedelta(hours=6)
DEFAULT_RETENTION_DAYS = 730
# How often a daemon looks for due targets: new posts get their first numbers, and a
# paused account its turn, soon after they can.
CHECK_EVERY = timedelta(minutes=15)
BATCH = 500  # targets per claim
LEASE = timedelta(minutes=10)
CONCURRENCY = 4  # accounts asked at once; each account's calls go one after another
# A platform that failed without saying when to come back is asked again after this.
TRANSIENT_WAIT = timedelta(minutes=15)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def interval(settings: Settings) -> timedelta:
    seconds = settings.seconds("analytics_interval", DEFAULT_INTERVAL.total_seconds(), above=0)
    return timedelta(seconds=seconds)


def retention_days(settings: Settings) -> int:
    return settings.integer("analytics_retention_days", DEFAULT_RETENTION_DAYS, minimum=1)


def check_every(settings: Settings) -> timedelta:
    """The daemon job's own beat: at most CHECK_EVERY, and never slower than the period."""
    return min(CHECK_EVERY, interval(settings))


def next_period(now: datetime, every: timedelta) -> datetime:
    """The start of the period after the one `now` is in (periods count from the epoch,
    so 6 h periods start at 00:00, 06:00, 12:00 and 18:00 UTC)."""
    elapsed = (now - EPOCH) // every
    return EPOCH + every * (elapsed + 1)


@dataclass
class Scope:
    """Which targets a run asks about; `force`: now, whether due or not (by hand)."""

    team_id: int | None = None
    account_ids: Sequence[int] | None = None
    since: datetime | None = None
    force: bool = False
    # Teams whose secrets this machine's keys cannot open (`keys.teams_out_of_reach`).
    skip_teams: Sequence[int] = ()


@dataclass
class SyncReport:
    posts: int = 0  # post snapshots written
    accounts: int = 0  # account snapshots written
    gone: list[str] = field(default_factory=list)  # "post 12 on x:acme"
    paused: dict[str, datetime] = field(default_factory=dict)  # account -> until
    failed: dict[str, str] = field(default_factory=dict)  # account -> why
    unsupported: list[str] = field(default_factory=list)  # accounts without such numbers
    errors: list[str] = field(default_factory=list)  # one post each, the rest went on
    deleted: int = 0  # snapshots past retention
    fetched_at: datetime | None = None


# -- enrolling ---------------------------------------------------------------------------


def _metric_platforms(names: Sequence[str]) -> tuple[dict[str, Any], set[str]]:
    """The platform classes of `names` that report post metrics, and the names of those
    that report account metrics."""
    from autopostr.platforms.registry import get_platform_class

    posts: dict[str, Any] = {}
    accounts: set[str] = set()
    for name in set(names):
        try:
            cls = get_platform_class(name)
        except Exception:  # a plugin gone missing: its accounts are not asked
            continue
        if cls.has_post_metrics():
            posts[name] = cls
        if cls.has_account_metrics():
            accounts.add(name)
    return posts, accounts


def enroll(db: Database, settings: Settings, now: datetime, team_id: int | None = None) -> int:
    """A target for every published post and every account not yet asked about, due now;
    a post is asked about for as long as its platform keeps numbers and retention keeps
    snapshots. Two daemons enrolling at once add each target once."""
    from sqlalchemy import exists, select
    from sqlmodel import col

    keep = timedelta(days=retention_days(settings))
    with db.session() as session:
        accounts = select(col(SocialAccount.id), col(SocialAccount.platform))
        if team_id is not None:
            accounts = accounts.where(col(SocialAccount.team_id) == team_id)
        known = session.execute(accounts).all()
        post_platforms, account_platforms = _metric_platforms([p for _i, p in known])
        if not known:
            return 0
        new_accounts = session.execute(
            accounts.where(
                col(SocialAccount.platform).in_(sorted(account_platforms)),
                ~exists().where(
                    col(AnalyticsTarget.account_id) == col(SocialAccount.id),
                    col(AnalyticsTarget.destination_id).is_(None),
                ),
            )
        ).all()
        posts = (
            select(
                col(PostDestination.id),
                col(PostDestination.account_id),
                col(SocialAccount.platform),
                col(PostDestination.published_at),
            )
            .join(SocialAccount, col(SocialAccount.id) == col(PostDestination.account_id))
            .where(
                col(PostDestination.status) == DestinationState.PUBLISHED,
                col(PostDestination.remote_id).is_not(None),
                col(SocialAccount.platform).in_(sorted(post_platforms)),
                ~exists().where(col(AnalyticsTarget.destination_id) == col(PostDestination.id)),
            )
        )
        if team_id is not None:
            posts = posts.where(col(SocialAccount.team_id) == team_id)
        new_posts = session.execute(posts).all()
        rows = [_target(account_id, None, now, None) for account_id, _p in new_accounts]
        post_rows = []
        for dest_id, account_id, platform, published in new_posts:
            window = post_platforms[platform].metrics_window
            keeps = min(window, keep) if window is not None else keep
            until = aware(published) + keeps if published is not None else None
            post_rows.append(_target(account_id, dest_id, now, until))
        _insert_new(session, db, rows, posts=False)
        _insert_new(session, db, post_rows, posts=True)
    return len(rows) + len(post_rows)


def _target(
    account_id: int, destination_id: int | None, now: datetime, until: datetime | None
) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "destination_id": destination_id,
        "due_at": now,
        "until": until,
        "attempts": 0,
        "baseline": "{}",
        "latest": "{}",
        "created_at": now,
        "updated_at": now,
    }


def _insert_new(session: DbSession, db: Database, rows: list[dict[str, Any]], posts: bool) -> None:
    if not rows:
        return
    from sqlalchemy import text

    if db.url.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]

    key = "destination_id" if posts else "account_id"
    where = "destination_id IS NOT NULL" if posts else "destination_id IS NULL"
    for start in range(0, len(rows), 1000):
        statement = insert(AnalyticsTarget.__table__).on_conflict_do_nothing(  # type: ignore[attr-defined]
            index_elements=[key], index_where=text(where)
        )
        session.connection().execute(statement, rows[start : start + 1000])


# -- claiming ----------------------------------------------------------------------------


@dataclass
class Claimed:
    id: int
    account_id: int
    destination_id: int | None
    attempt: int
    fetched_at: datetime | None
    tracker: snapshots.Tracker


def _claimable(scope: Scope, worker: str, now: datetime) -> Any:
    """The targets a run may take now (see `Scope`), without locking anything else."""
    from sqlalchemy import exists, or_, select
    from sqlmodel import col

    from autopostr.accounts import ACTIVE

    target = AnalyticsTarget
    query = select(col(target.id)).where(
        col(target.gone_at).is_(None),
        or_(col(target.until).is_(None), col(target.until) > now),
        or_(col(target.paused_until).is_(None), col(target.paused_until) <= now),
        or_(col(target.lease_expires_at).is_(None), col(target.lease_expires_at) < now),
        exists().where(
            col(SocialAccount.id) == col(target.account_id),
            col(SocialAccount.status) == ACTIVE,
            *([col(SocialAccount.team_id) == scope.team_id] if scope.team_id is not None else []),
            *([col(SocialAccount.team_id).not_in(scope.skip_teams)] if scope.skip_teams else []),
        ),
        or_(
            col(target.destination_id).is_(None),
            exists().where(
                col(PostDestination.id) == col(target.destination_id),
                col(PostDestination.status) == DestinationState.PUBLISHED,
                col(PostDestination.published_at) <= now,
                *(
                    [col(PostDestination.published_at) >= scope.since]
                    if scope.since is not None
                    else []
                ),
            ),
        ),
    )
    if scope.force:
        # Everything in scope once: what this run took already is left alone.
        query = query.where(or_(col(target.claimed_by).is_(None), col(target.claimed_by) != worker))
    else:
        query = query.where(col(target.due_at) <= now)
    if scope.account_ids is not None:
        query = query.where(col(target.account_id).in_(list(scope.account_ids)))
    return query


def count_claimable(db: Database, scope: Scope, worker: str, now: datetime) -> int:
    from sqlalchemy import func, select

    with db.session() as session:
        subquery = _claimable(scope, worker, now).subquery()
        return int(session.execute(select(func.count()).select_from(subquery)).scalar() or 0)


def claim(
    db: Database, worker: str, scope: Scope, now: datetime, limit: int = BATCH
) -> list[Claimed]:
    """Take up to `limit` targets with a lease, each account's together."""
    from sqlmodel import col

    from autopostr.queue.claims import take_rows

    target = AnalyticsTarget
    candidates = (
        _claimable(scope, worker, now).order_by(col(target.account_id), col(target.id)).limit(limit)
    )
    returning = (
        col(target.id),
        col(target.account_id),
        col(target.destination_id),
        col(target.attempts),
        col(target.fetched_at),
        col(target.day),
        col(target.first_day),
        col(target.baseline),
        col(target.latest),
    )
    with db.session() as session:
        rows = take_rows(session, db, target, candidates, worker, now, LEASE, returning)
    return [
        Claimed(
            int(r[0]),
            int(r[1]),
            int(r[2]) if r[2] is not None else None,
            int(r[3]),
            aware(r[4]) if r[4] is not None else None,
            snapshots.Tracker.read(_day(r[5]), _day(r[6]), r[7], r[8]),
        )
        for r in sorted(rows, key=lambda r: int(r[0]))
    ]


# -- asking the platforms --------------------------------------------------------------


@dataclass
class Outcome:
    """What came of one claimed target."""

    claimed: Claimed
    metrics: Metrics | None = None
    error: str | None = None
    gone: bool = False
    unsupported: bool = False
    paused_until: datetime | None = None  # the account is paused: ask again then


@dataclass
class _Post:
    remote_id: str
    published_at: datetime | None
    post_id: int


def _details(
    db: Database, claims: list[Claimed]
) -> tuple[dict[int, SocialAccount], dict[int, _Post]]:
    from sqlalchemy import select
    from sqlmodel import col

    account_ids = sorted({c.account_id for c in claims})
    dest_ids = sorted({c.destination_id for c in claims if c.destination_id is not None})
    with db.session() as session:
        accounts = {
            a.id or 0: a
            for a in session.execute(
                select(SocialAccount).where(col(SocialAccount.id).in_(account_ids))
            ).scalars()
        }
        posts = {
            int(d): _Post(str(remote), aware(published) if published else None, int(post))
            for d, remote, published, post in session.execute(
                select(
                    col(PostDestination.id),
                    col(PostDestination.remote_id),
                    col(PostDestination.published_at),
                    col(PostDestination.post_id),
                ).where(col(PostDestination.id).in_(dest_ids))
            ).all()
        }
        session.expunge_all()
    return accounts, posts


def _ask_job(
    db: Database,
    settings: Settings,
    posts: dict[int, _Post],
    now: datetime,
    stopping: threading.Event | None,
    job: tuple[SocialAccount, list[Claimed]],
) -> tuple[list[Outcome], str | None]:
    if stopping is not None and stopping.is_set():
        return [], None  # its claims lapse with their lease: the next run asks
    return _ask_account(db, settings, job[0], job[1], posts, now)


def _ask_account(
    db: Database,
    settings: Settings,
    account: SocialAccount,
    items: list[Claimed],
    posts: dict[int, _Post],
    now: datetime,
) -> tuple[list[Outcome], str | None]:
    """One account's claimed targets; returns their outcomes and, when the account as a
    whole failed, why."""
    from autopostr.errors import AutopostrError
    from autopostr.platforms.registry import get_platform
    from autopostr.publishing import open_account, refresh_account

    outcomes: dict[int, Outcome] = {}
    account_items = [c for c in items if c.destination_id is None]
    post_items = [c for c in items if c.destination_id is not None and c.destination_id in posts]
    refreshed = False
    ref: Any = None

    def call(ask: Callable[[Any], Any]) -> Any:
        nonlocal ref, refreshed
        try:
            return ask(ref)
        except AuthExpired:
            if refreshed:
                raise
            refreshed = True  # an expired token is renewed once, then asked again
            ref = refresh_account(
                db, settings, account.id or 0, failed=ref.credentials.get("access_token")
            )
            return ask(ref)

    try:
        ref = open_account(settings, account)
        platform = get_platform(account.platform, settings)
        for item in account_items:
            try:
                outcomes[item.id] = Outcome(item, metrics=call(platform.account_metrics))
            except NotSupported as exc:
                outcomes[item.id] = Outcome(item, error=exc.message, unsupported=True)
        size = max(1, platform.metrics_batch)
        for start in range(0, len(post_items), size):
            chunk = post_items[start : start + size]
            targets = [
                MetricsTarget(
                    posts[c.destination_id or 0].remote_id,
                    posts[c.destination_id or 0].published_at,
                )
                for c in chunk
            ]
            found = call(functools.partial(_post_metrics, platform, targets))
            for item, wanted in zip(chunk, targets, strict=True):
                answer = found.get(wanted.remote_id)
                if isinstance(answer, Metrics):
                    outcomes[item.id] = Outcome(item, metrics=answer)
                elif isinstance(answer, Gone):
                    outcomes[item.id] = Outcome(item, error=answer.message, gone=True)
                elif isinstance(answer, PlatformError):
                    outcomes[item.id] = Outcome(item, error=answer.message)
                else:
                    outcomes[item.id] = Outcome(item, error="the platform did not answer for it")
    except PlatformError as exc:
        if exc.transient and not isinstance(exc, AuthExpired):
            # Rate-limited or unreachable: the account waits until the platform's reset,
            # for every daemon; the run goes on with the others.
            wait = timedelta(seconds=exc.retry_after) if exc.retry_after else TRANSIENT_WAIT
            until = now + max(wait, timedelta(seconds=1))
            rest = [
                Outcome(c, error=exc.message, paused_until=until)
                for c in items
                if c.id not in outcomes
            ]
            return [*outcomes.values(), *rest], None
        failure = exc.message
    except AutopostrError as exc:  # a key this machine lacks, a setting
        failure = exc.message
    except Exception as exc:  # one account's surprise never stops the others
        log.warning("analytics for %s: unexpected %s", account.handle, exc, exc_info=True)
        failure = f"unexpected {type(exc).__name__}: {exc}"
    else:
        missing = [
            Outcome(c, error="its post is no longer published")
            for c in items
            if c.id not in outcomes
        ]
        return [*outcomes.values(), *missing], None
    rest = [Outcome(c, error=failure) for c in items if c.id not in outcomes]
    return [*outcomes.values(), *rest], failure


def _post_metrics(platform: Any, targets: list[MetricsTarget], ref: Any) -> Any:
    return platform.post_metrics(ref, targets)


# -- finishing ---------------------------------------------------------------------------


def finish(
    db: Database,
    worker: str,
    outcomes: list[Outcome],
    posts: dict[int, _Post],
    now: datetime,
    every: timedelta,
) -> tuple[int, int]:
    """Write what came of the claims still this worker's (fenced on the claim's token),
    in one transaction: the targets, the day's snapshots, the accounts' pauses. Returns
    the post and account snapshots written."""
    from sqlalchemy import bindparam, tuple_, update
    from sqlmodel import col

    if not outcomes:
        return 0, 0
    target = AnalyticsTarget
    day = now.astimezone(UTC).date()
    due = next_period(now, every)
    with db.session() as session:
        owned = {
            int(r[0])
            for r in session.execute(
                update(target)
                .where(
                    col(target.claimed_by) == worker,
                    tuple_(col(target.id), col(target.attempts)).in_(
                        [(o.claimed.id, o.claimed.attempt) for o in outcomes]
                    ),
                )
                .values(lease_expires_at=None, updated_at=now)
                .returning(col(target.id))
            ).all()
        }
        changes: list[dict[str, Any]] = []
        post_rows: list[dict[str, Any]] = []
        account_rows: list[dict[str, Any]] = []
        pauses: dict[int, datetime] = {}
        for outcome in outcomes:
            claimed = outcome.claimed
            if claimed.id not in owned:
                continue  # the lease ran out and another worker has it now
            tracker = claimed.tracker
            change = {
                "tid": claimed.id,
                "due_at": due,
                "fetched_at": claimed.fetched_at,
                "error": outcome.error,
                "gone_at": now if outcome.gone else None,
                "paused_until": outcome.paused_until,
                "day": tracker.day,
                "first_day": tracker.first_day,
                "baseline": snapshots.dump(tracker.baseline),
                "latest": snapshots.dump(tracker.latest),
            }
            if outcome.paused_until is not None:
                change["due_at"] = outcome.paused_until
                pauses[claimed.account_id] = max(
                    outcome.paused_until, pauses.get(claimed.account_id, outcome.paused_until)
                )
            if outcome.metrics is not None:
                post = posts.get(claimed.destination_id or 0)
                started = (
                    post.published_at.astimezone(UTC).date()
                    if post is not None and post.published_at is not None
                    else None
                )
                written = snapshots.count_gains(outcome.metrics, day, tracker, started)
                snapshot = snapshots.row(
                    claimed.account_id,
                    claimed.destination_id,
                    day,
                    written,
                    outcome.metrics.raw,
                    now,
                )
                (post_rows if claimed.destination_id is not None else account_rows).append(snapshot)
                change.update(
                    fetched_at=now,
                    day=written.tracker.day,
                    first_day=written.tracker.first_day,
                    baseline=snapshots.dump(written.tracker.baseline),
                    latest=snapshots.dump(written.tracker.latest),
                )
            changes.append(change)
        if changes:
            # Core, not the ORM: one executemany over the rows.
            table = AnalyticsTarget.__table__  # type: ignore[attr-defined]
            session.connection().execute(
                table.update()
                .where(table.c.id == bindparam("tid"))
                .values({name: bindparam(name) for name in changes[0] if name != "tid"}),
                changes,
            )
        snapshots.write(session, db, day, post_rows, account_rows, now)
        for account_id, until in sorted(pauses.items()):
            # The platform's limit holds for the account's other targets too.
            session.execute(
                update(target)
                .where(
                    col(target.account_id) == account_id,
                    col(target.gone_at).is_(None),
                )
                .values(paused_until=until)
            )
    return len(post_rows), len(account_rows)


# -- a run -------------------------------------------------------------------------------


def sync(
    db: Database,
    settings: Settings,
    *,
    scope: Scope | None = None,
    worker: str | None = None,
    now: datetime | None = None,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    retention: bool = True,
    stopping: threading.Event | None = None,
) -> SyncReport:
    """One run: enroll, then claim and ask batch after batch until nothing in scope is
    left (or `stopping` is set: accounts not asked yet are left to the next run), then
    apply retention. Safe to run in any number of processes at once."""
    from autopostr import accounts as accounts_mod
    from autopostr.keys import teams_out_of_reach
    from autopostr.queue.claims import new_worker_id

    scope = scope or Scope()
    if not scope.skip_teams:
        scope = replace(scope, skip_teams=teams_out_of_reach(settings, db))
    worker = worker or new_worker_id()
    now = now or utcnow()
    every = interval(settings)
    report = SyncReport()
    enroll(db, settings, now, scope.team_id)
    if on_total is not None:
        on_total(count_claimable(db, scope, worker, now))
    with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="analytics") as pool:
        while stopping is None or not stopping.is_set():
            claims = claim(db, worker, scope, now)
            if not claims:
                break
            accounts, posts = _details(db, claims)
            by_account: dict[int, list[Claimed]] = defaultdict(list)
            for claimed in claims:
                by_account[claimed.account_id].append(claimed)
            jobs = [
                (accounts[account_id], items)
                for account_id, items in sorted(by_account.items())
                if account_id in accounts
            ]
            results = pool.map(
                functools.partial(_ask_job, db, settings, posts, now, stopping), jobs
            )
            outcomes: list[Outcome] = []
            for (account, _items), (done, failure) in zip(jobs, results, strict=True):
                label = accounts_mod.label(account)
                outcomes.extend(done)
                if failure is not None:
                    report.failed[label] = failure
                    log.warning("analytics for %s failed: %s", label, failure)
                for outcome in done:
                    if outcome.paused_until is not None:
                        report.paused[label] = outcome.paused_until
                    elif outcome.gone:
                        post = posts.get(outcome.claimed.destination_id or 0)
                        where = f"post {post.post_id}" if post else "a post"
                        report.gone.append(f"{where} on {label}")
                    elif outcome.unsupported:
                        report.unsupported.append(label)
                    elif outcome.error and failure is None:
                        report.errors.append(f"{label}: {outcome.error}")
            written_posts, written_accounts = finish(db, worker, outcomes, posts, now, every)
            report.posts += written_posts
            report.accounts += written_accounts
            if written_posts or written_accounts:
                report.fetched_at = now
            if on_progress is not None:
                on_progress(len(claims))
    if retention:
        cutoff = now.astimezone(UTC).date() - timedelta(days=retention_days(settings))
        report.deleted = snapshots.delete_older_than(db, cutoff)
    return report


def run_job(
    db: Database, settings: Settings, stopping: threading.Event | None = None
) -> SyncReport:
    """The daemon's job: whatever is due, in every team."""
    report = sync(db, settings, stopping=stopping)
    if report.posts or report.accounts:
        log.info(
            "analytics: %s post and %s account snapshots written", report.posts, report.accounts
        )
    for account, until in report.paused.items():
        log.warning("analytics: %s is rate-limited; asked again at %s", account, until.isoformat())
    return report


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def by_hand(
    db: Database,
    settings: Settings,
    actor: Actor,
    *,
    account: str | None = None,
    since: str | None = None,
    zone_name: str = "UTC",
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> SyncReport:
    """`analytics sync`: the team's posts and accounts, now, whether due or not (posts
    published since `since` only: a date, a time or a duration back from now)."""
    from autopostr import accounts
    from autopostr.permissions import require

    now = utcnow()
    with db.session() as session:
        team_id = require(actor, "analytics.sync")
        account_ids = [accounts.resolve(session, team_id, account).id or 0] if account else None
    moment = since_moment(since, zone_name, now) if since else None
    scope = Scope(team_id, account_ids, moment, force=True)
    return sync(db, settings, scope=scope, now=now, on_total=on_total, on_progress=on_progress)


def since_moment(text: str, zone_name: str, now: datetime) -> datetime:
    """A date (midnight in `zone_name`), or what `logs --since` takes (2h, 1d, a time)."""
    from autopostr.publog import since_moment as moment
    from autopostr.timeparse import localize, zone

    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return moment(text, zone_name, now)
    return localize(datetime(day.year, day.month, day.day), zone(zone_name), "--since")
