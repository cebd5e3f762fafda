"""The long-running daemon: an APScheduler clock driving the publisher.

APScheduler 3 keeps each daemon's jobs in memory only (it cannot share a job
store between processes); the `post_destinations` table is the one shared
truth. The publish job claims as many due destinations as it has free
workers, then sleeps exactly until the next due time (or lease expiry). On
PostgreSQL a LISTEN connection wakes it the moment something is scheduled; a
polling fallback keeps it correct when a notification is lost. Workers renew
their leases with every heartbeat, so an expired lease means its daemon died:
the living take such destinations over and ask the platform before sending. Each
daemon also holds a liveness lock for its whole life (`liveness.py`): when a daemon's
lock is free, the others take over its claims at once rather than at lease expiry.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import socket
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from autopostr import __version__, hooks, logsetup, reporting, telemetry
from autopostr.config import Settings
from autopostr.daemon import systemd
from autopostr.daemon.executor import (
    DEFAULT_CONCURRENCY,
    PlatformBounds,
    PublishExecutor,
    task_for,
)
from autopostr.daemon.health import Health
from autopostr.daemon.jobs import JOBS
from autopostr.daemon.liveness import liveness_for
from autopostr.daemon.loop import PlannedRuns
from autopostr.db import ChangeProbe, Database
from autopostr.errors import AutopostrError, DatabaseCorrupt
from autopostr.models import Daemon as DaemonRow
from autopostr.models import utcnow
from autopostr.outcomes import Outcome, start_batched_finishing, stop_batched_finishing
from autopostr.publishing import claim_and_prepare, prepare
from autopostr.queue.claims import (
    Claim,
    claim_expired,
    new_worker_id,
    next_wake_at,
    orphaned,
)
from autopostr.queue.transitions import NOTIFY_CHANNEL
from autopostr.states import DestinationState

log = logging.getLogger("autopostr.daemon")

# How often a daemon on PostgreSQL looks for claims of daemons whose lock is free (at
# most; never less often than it beats).
TAKEOVER_LOOK_SECONDS = 1.0
SETTLE_SECONDS = 5.0


@dataclass
class DaemonConfig:
    concurrency: int = DEFAULT_CONCURRENCY  # publish calls in flight at once
    lease: float = 60.0  # seconds a claim lasts without renewal
    heartbeat: float = 10.0
    poll: float = 30.0  # the longest sleep: correctness when a notification is lost
    grace: float = 30.0  # on SIGTERM, how long in-flight calls may finish

    @classmethod
    def from_settings(
        cls, settings: Settings, db: Database, concurrency: int | None
    ) -> DaemonConfig:
        sqlite = db.url.dialect == "sqlite"
        return cls(
            concurrency=concurrency
            or settings.integer("publish_concurrency", DEFAULT_CONCURRENCY, minimum=1),
            lease=settings.seconds("lease_seconds", 60.0, above=0),
            heartbeat=settings.seconds("heartbeat_seconds", 10.0, above=0),
            # SQLite has no notifications: look often; the query is one index probe.
            poll=settings.seconds("poll_seconds", 0.5 if sqlite else 30.0, above=0),
            grace=settings.seconds("grace_seconds", 30.0, above=0),
        )


# The periodic jobs' first run, after the daemon started: out of the way of its first
# claims, and soon enough that a restart does not postpone them by a whole interval.
FIRST_JOBS_AFTER = timedelta(seconds=5)


def give_back_freed_memory() -> None:
    """Hand the heap that start-up or a periodic job freed back to the system: glibc
    keeps freed memory for reuse, and a long-running daemon would carry MBs it never
    needs again between jobs. Nothing elsewhere than glibc."""
    import ctypes
    import gc

    gc.collect()
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own symbols: libc's, if glibc
    except (OSError, AttributeError):
        return
    trim(0)


# glibc gives each new thread that allocates an arena of its own (up to 8 per core),
# each keeping freed memory of its own: a daemon's dozen threads carried about a MB of
# them while idle. Two are plenty for threads that mostly wait.
MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def few_malloc_arenas() -> None:
    """Cap glibc's malloc arenas before the daemon's threads start, unless the user set
    MALLOC_ARENA_MAX. Nothing elsewhere than glibc."""
    import ctypes

    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_ARENA_MAX, MALLOC_ARENAS)


def refuse_damaged(db: Database) -> None:
    """Never publish from a damaged database: what a daemon reads there may be wrong, and
    what it writes may make the damage worse."""
    from autopostr.dbfaults import corrupt

    problems = db.damage(full=False)
    if problems:
        error = corrupt(db.url, "; ".join(problems[:3]))
        raise DatabaseCorrupt(f"the daemon refuses to run: {error.detail}", error.fix)


class DaemonRunner:
    def __init__(self, settings: Settings, db: Database, config: DaemonConfig):
        self.settings = settings
        self.db = db
        self.config = config
        self.id = new_worker_id()
        self.stopping = threading.Event()
        self.in_flight: dict[int, Future[Outcome]] = {}
        self._lock = threading.Lock()
        self._rerun = threading.Event()
        self._ticking = threading.Lock()
        self.bounds = PlatformBounds(settings)
        self.workers = PublishExecutor(
            config.concurrency,
            account_limit=self.bounds.posts_at_once,
            platform_ceiling=self.bounds.ceiling,
            on_room=self._call_over,
            may_call=self._why_not_call,
        )
        # Set while the outcome writer holds an outcome longer than half a lease (see
        # `heartbeat`): nothing new is claimed or called until it moves again.
        self.writer_stalled = threading.Event()
        # The soonest next try of an outcome written since (see `_come_back_at`), and
        # when the last tick that claimed began.
        self._comeback: datetime | None = None
        self._tick_started = utcnow()
        self.scheduler: Any = None  # the periodic jobs
        self.loop: Any = None  # the publish loop's thread (`PlannedRuns`)
        self.outcomes: list[Outcome] = []
        self._listener: threading.Thread | None = None
        self._last_watchdog = 0.0
        self.lease = timedelta(seconds=config.lease)
        self._next_recovery = 0.0
        self.fatal: DatabaseCorrupt | None = None
        # Judging others only after holding our own lock for a while: a heartbeat interval,
        # and never less than the time a daemon takes to take its lock again after the
        # database restarts (its watcher retries every 2 s at most).
        self.liveness = liveness_for(
            db, max(config.heartbeat, SETTLE_SECONDS), on_lost=self.stopping.set
        )
        # SQLite has no notifications: the loop looks often, but queries the queue only
        # when something committed since its last look or the next due time has come.
        path = db.url.sqlite_path if db.url.dialect == "sqlite" else None
        self.changes = ChangeProbe(path) if path is not None else None
        self._seen_version: int | None = None
        self._next_due: datetime | None = None
        self._look = threading.Event()  # set: the next tick queries whatever the probe says
        # Set when the last claim left nothing due behind it: a slot that opens then is no
        # reason to claim (the queue's tail would otherwise send one empty claim per
        # finished call); a wake-up or the next due time is.
        self._drained = threading.Event()
        # Set when the last claim took less than it asked for (see `_call_over`).
        self._short = threading.Event()
        # Work since the freed heap was last handed back (start-up counts).
        self._worked = threading.Event()
        self._worked.set()
        self._last_work = time.monotonic()
        self._jobs_running = 0
        self.health = Health(settings, db, config.heartbeat, self.stopping, self.writer_stalled)
        # Teams whose secrets this daemon's keys cannot open (`keys.unservable_teams`):
        # their destinations are left to the daemons that hold their keys.
        self.skip_teams: list[int] = []

    # -- lifecycle -------------------------------------------------------
    def start(self) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        logging.getLogger("apscheduler").setLevel(logging.ERROR)
        logsetup.bind(daemon=self.id)
        self._register()
        if self.db.url.dialect == "postgresql":
            with self.db.engine.connect() as conn:
                self._look_at_team_keys(conn)
        start_batched_finishing(self.db)
        hooks.start_background_delivery()
        self.scheduler = BackgroundScheduler(
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )
        self.scheduler.add_job(
            self.heartbeat, "interval", seconds=self.config.heartbeat, id="heartbeat"
        )
        if self.db.url.dialect == "postgresql":
            self.scheduler.add_job(
                self.look_for_orphans,
                "interval",
                seconds=min(self.config.heartbeat, TAKEOVER_LOOK_SECONDS),
                id="takeover",
            )
        for job in JOBS:
            self.scheduler.add_job(
                self._periodic,
                "interval",
                seconds=job.interval(self.settings).total_seconds(),
                args=[job.name],
                id=f"job:{job.name}",
                next_run_time=utcnow() + FIRST_JOBS_AFTER,
            )
        self.scheduler.start()
        self.loop = PlannedRuns(self.publish_tick, fallback=self.config.poll)
        self.loop.start()
        if self.db.url.dialect == "postgresql":
            self._listener = threading.Thread(target=self._listen, name="listen", daemon=True)
            self._listener.start()
        systemd.notify(f"READY=1\nSTATUS=publishing as {self.id}")
        log.info("daemon %s started (concurrency %s)", self.id, self.config.concurrency)

    # Freed heap is handed back once the daemon has been idle this long after some work.
    TRIM_AFTER_IDLE = 1.0

    def wait(self) -> None:
        """Block the main thread until a signal asks to stop; meanwhile, once the daemon is
        idle after start-up, a periodic job or publishing, hand back the heap they freed
        (never while publishing: a full collection then costs the calls CPU)."""
        while not self.stopping.wait(self.TRIM_AFTER_IDLE):
            if self._worked.is_set() and self._idle_for() >= self.TRIM_AFTER_IDLE:
                self._worked.clear()
                give_back_freed_memory()

    def _idle_for(self) -> float:
        """Seconds since the last publish or job ended (0 while one is under way)."""
        with self._lock:
            if self.in_flight or self._jobs_running:
                return 0.0
            return time.monotonic() - self._last_work

    def stop(self) -> int:
        """Stop claiming, let in-flight calls finish within the grace period, release the rest.

        Returns how many calls are still running: their leases lapse and another
        daemon recovers them by asking the platform.
        """
        self.stopping.set()
        systemd.notify("STOPPING=1\nSTATUS=finishing in-flight posts")
        if self.loop is not None:
            self.loop.stop(timeout=self.config.grace)  # a running tick ends first
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + self.config.grace
        with self._lock:
            pending = list(self.in_flight.values())
        for future in pending:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                future.result(timeout=remaining)
            except Exception:  # timeouts and worker errors alike: the lease covers them
                pass
        self.workers.shutdown()
        # Outcomes still being written land now; a call still running writes its own.
        stop_batched_finishing(self.db)
        # Events already queued go out, within what is left of the grace period.
        hooks.stop_background_delivery(max(1.0, deadline - time.monotonic()))
        self._release_unstarted()
        self._unregister()
        if self.changes is not None:
            self.changes.close()
        with self._lock:
            still_running = sum(1 for f in self.in_flight.values() if f.running())
        log.info("daemon %s stopped (%s call(s) left to lease recovery)", self.id, still_running)
        return still_running

    def _damaged(self, exc: BaseException) -> bool:
        """A damaged database stops the daemon (run_forever raises it); other errors pass."""
        if not isinstance(exc, DatabaseCorrupt):
            return False
        if self.fatal is None:
            self.fatal = exc
            log.error("stopping: %s", exc.detail)
        self.stopping.set()
        return True

    def install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: Any) -> None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            self.stopping.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # -- the publish loop ------------------------------------------------
    def wake(self, at: datetime | None = None) -> None:
        """Run the publish loop at `at` (now by default); safe from any thread."""
        if self.stopping.is_set() or self.loop is None:
            return
        self._look.set()
        self._drained.clear()
        if self._ticking.locked():
            self._rerun.set()  # the running tick will loop once more
            return
        self.loop.plan(at or utcnow())

    def publish_tick(self) -> None:
        if not self._ticking.acquire(blocking=False):
            self._rerun.set()
            return
        try:
            if self._nothing_new():
                self._reschedule(self._quiet_until())
                return
            # Whatever the last look found left, this one looks again.
            self._tick_started = utcnow()
            self._drained.clear()
            self._short.clear()
            while True:
                self._rerun.clear()
                emptied = self._claim_and_submit()
                if not self._rerun.is_set():
                    break
            self._schedule_next(emptied)
        except Exception as exc:  # the database may be restarting: try again soon
            if self._damaged(exc):
                return
            log.warning("publish loop: %s", exc)
            self._look.set()
            self._reschedule(utcnow() + timedelta(seconds=min(2.0, self.config.poll)))
        finally:
            self._ticking.release()
        if self._rerun.is_set():
            # A wake-up arrived after the loop's last pass (while it planned its next
            # run): honour it now rather than at the planned time.
            self.wake()
        self._ping_watchdog()

    def _nothing_new(self) -> bool:
        """SQLite: true when no commit happened since the last look and nothing is due yet.

        The version is read before the queries it vouches for, so a commit racing them
        shows as a new version at the next tick."""
        if self.changes is None:
            return False
        forced = self._look.is_set()
        self._look.clear()
        version = self.changes.version()
        unchanged = version == self._seen_version
        self._seen_version = version
        comeback = self._comeback
        if forced or not unchanged or (comeback is not None and utcnow() >= comeback):
            return False
        return self._next_due is None or utcnow() < self._next_due

    def _quiet_until(self) -> datetime:
        fallback = utcnow() + timedelta(seconds=self.config.poll)
        return fallback if self._next_due is None else min(self._next_due, fallback)

    def _free_slots(self) -> int:
        """Room for claims: what the executor could start now (see daemon/executor.py)."""
        return self.workers.free()

    def _queue_low(self) -> bool:
        """True once enough calls finished to make a claim worth its round trip."""
        return self.workers.worth_claiming()

    def _claim_and_submit(self) -> bool:
        """Claim while there is room; true when a claim took less than it asked for (the
        queue may have nothing more due now)."""
        while not self.stopping.is_set() and not self.writer_stalled.is_set():
            free = self._free_slots()
            if free <= 0:
                return False
            recovered: list[Claim] = []
            if time.monotonic() >= self._next_recovery:
                # Leases last `lease` seconds: looking for expired ones once a heartbeat is enough.
                recovered = claim_expired(
                    self.db,
                    self.id,
                    free,
                    lease=self.lease,
                    orphans=self.liveness.may_judge(),
                    skip_teams=self.skip_teams,
                )
                if not recovered:
                    self._next_recovery = time.monotonic() + self.config.heartbeat
            for job in prepare(self.db, self.settings, recovered):
                self._submit_job(job, recover=True)
            free -= len(recovered)
            per_account = self.bounds.claim_map(self.db)
            began = time.monotonic()
            jobs = (
                claim_and_prepare(
                    self.db,
                    self.settings,
                    self.id,
                    free,
                    lease=self.lease,
                    per_account=per_account,
                    skip_teams=self.skip_teams,
                )
                if free > 0
                else []
            )
            self.workers.note_claim(time.monotonic() - began)
            for job in jobs:
                self._submit_job(job)
            if not recovered and len(jobs) < free:
                return True
            # Claim again at once only for a batch's worth of room: a few slots that opened
            # meanwhile are filled by the next claim, in one round trip, not in several.
            if not recovered and not self._queue_low():
                return False
        return False

    def _submit_job(self, job: Any, recover: bool = False) -> None:
        task = task_for(self.db, self.settings, self.id, job, recover=recover)
        self._track(job.claim, self.workers.submit(task))

    def _track(self, claim: Claim, future: Future[Outcome]) -> None:
        with self._lock:
            self.in_flight[claim.destination_id] = future
        future.add_done_callback(functools.partial(self._done, claim))

    def _done(self, claim: Claim, future: Future[Outcome]) -> None:
        with self._lock:
            self.in_flight.pop(claim.destination_id, None)
            self._last_work = time.monotonic()
        self._worked.set()
        try:
            outcome = future.result()
            self.outcomes.append(outcome)
            if outcome.next_attempt_at is not None:
                self._come_back_at(outcome.next_attempt_at)
            log.info(
                "post %s → %s: %s",
                outcome.post_id,
                outcome.account,
                outcome.status,
                extra={
                    "post": outcome.post_id,
                    "destination": outcome.destination_id,
                    "account": outcome.account,
                    "attempt": outcome.attempt,
                },
            )
        except Exception as exc:
            # Recording the outcome failed (database down): the lease expires and the
            # destination is recovered by asking the platform, never re-sent blindly.
            if not self._damaged(exc):
                log.warning("destination %s: %s", claim.destination_id, exc)
                if not isinstance(exc, AutopostrError):
                    reporting.report(exc)
        self._room()

    BLOCKED_LOOK_AGAIN = timedelta(seconds=0.25)

    def _call_over(self) -> None:
        """A call is over, its outcome not written yet: after a short claim, what is left
        due waits for accounts that are busy until their outcomes are written, so only
        the outcome (`_done`) is a reason to claim again."""
        if not self._short.is_set():
            self._room()

    def _room(self) -> None:
        """A slot opened (a call is over) or an outcome was written: claim the next
        batch at once if a batch's worth of room opened, unless nothing is left to claim."""
        if not self._drained.is_set() and self._queue_low():
            self.wake()

    def _schedule_next(self, emptied: bool = True) -> None:
        now = utcnow()
        fallback = now + timedelta(seconds=self.config.poll)
        if self._free_slots() <= 0 or not emptied:
            # Busy, or the last claim was full (more is due): a finishing worker wakes
            # the loop, no need to ask the queue when.
            self._look.set()
            self._reschedule(fallback)
            return
        self._short.set()
        upcoming = next_wake_at(self.db)
        self._next_due = upcoming
        # Nothing due now that was not claimed: what is due but waiting for its account
        # (busy here or in another daemon) would have shown as due.
        if upcoming is None or upcoming > now:
            self._drained.set()
        else:
            # Due, yet not claimable: accounts busy (here: an outcome written wakes the
            # loop; in another daemon), rows another claim holds, or a lease that ran
            # out (the recovery's turn). Looking again at once would spin on claims
            # that take nothing.
            upcoming = now + self.BLOCKED_LOOK_AGAIN
        self._reschedule(fallback if upcoming is None else min(upcoming, fallback))

    def _come_back_at(self, at: datetime) -> None:
        """An outcome's next try (a retry, a look at media the platform processes) is
        claimed at its time, not at the next poll: on PostgreSQL nothing else wakes this
        daemon for it. Kept until a tick that starts after it."""
        with self._lock:
            if self._comeback is None or at < self._comeback:
                self._comeback = at
        if self.loop is not None:
            self.loop.plan_by(at)

    def _reschedule(self, at: datetime) -> None:
        if self.loop is None:
            return
        with self._lock:
            if self._comeback is not None and self._comeback <= self._tick_started:
                self._comeback = None  # that tick looked for it
            if self._comeback is not None:
                at = min(at, self._comeback)
        self.loop.plan(at)

    def _listen(self) -> None:
        """LISTEN for new due posts; reconnects after any failure."""
        import psycopg

        url = self.db.url.url.replace("postgresql+psycopg://", "postgresql://", 1)
        delay = 0.5
        while not self.stopping.is_set():
            try:
                with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    delay = 0.5
                    self.wake()  # anything scheduled while we were not listening
                    while not self.stopping.is_set():
                        for _note in conn.notifies(timeout=1.0, stop_after=1):
                            self.wake()
            except Exception as exc:
                log.warning("listen connection lost (%s); retrying in %.1f s", exc, delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, 10.0)

    def look_for_orphans(self) -> None:
        """Claims of a daemon whose lock is free: take them over now (PostgreSQL)."""
        if not self.liveness.may_judge():
            return
        try:
            if orphaned(self.db, self.id):
                self._next_recovery = 0.0
                self.wake()
        except Exception as exc:
            if not self._damaged(exc):
                log.warning("looking for a gone daemon's claims: %s", exc)

    # -- heartbeat and other jobs ------------------------------------------
    def _register(self) -> None:
        with self.db.session() as session:
            session.add(
                DaemonRow(
                    id=self.id,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    version=__version__,
                    started_at=utcnow(),
                    heartbeat_at=utcnow(),
                    in_flight=0,
                    lock_key=self.liveness.key,
                )
            )

    def _look_at_team_keys(self, conn: Any) -> None:
        """Which teams to leave to other daemons, as this machine's keys stand now (a key
        imported while it runs is taken at the next heartbeat)."""
        from autopostr.keys import load_keyset, unservable_teams

        skip = unservable_teams(conn, load_keyset(self.settings))
        if skip != self.skip_teams:
            if skip:
                log.info(
                    "leaving team(s) %s to the daemons that hold their keys",
                    ", ".join(map(str, skip)),
                )
            else:
                log.info("publishing for every team: this machine holds all their keys")
        self.skip_teams = skip

    def heartbeat(self) -> None:
        """Say we are alive and renew the leases of what we are publishing.

        While the outcome writer holds an outcome unwritten for more than half a lease
        (it hangs: on a log line it cannot get out, a connection that never answers),
        only the leases of calls under way are renewed: the claims whose outcomes wait,
        and those not started, lapse and are recovered by asking the platform. Meanwhile
        nothing is claimed or called, and systemd's watchdog is not pinged."""
        from sqlalchemy import update
        from sqlmodel import col

        from autopostr.models import PostDestination
        from autopostr.outcomes import writer_stalled_for

        now = utcnow()
        self.health.beat()
        telemetry.emit("in_flight", len(self.in_flight))
        stalled = writer_stalled_for(self.db)
        was_stalled = self.writer_stalled.is_set()
        if stalled > self.config.lease / 2:
            self.writer_stalled.set()
        else:
            self.writer_stalled.clear()
        try:
            with self.db.session() as session:
                if self.db.url.dialect == "postgresql":
                    self._look_at_team_keys(session.connection())
                row = session.get(DaemonRow, self.id)
                if row is not None:
                    row.heartbeat_at = now
                    row.in_flight = len(self.in_flight)
                    session.add(row)
                if self.writer_stalled.is_set():
                    working = sorted(self.workers.calling())
                else:
                    with self._lock:
                        working = list(self.in_flight)
                if working:
                    # Only what a worker is busy with: a claim whose worker gave up (say the
                    # database vanished mid-write) must lapse so that it gets recovered.
                    session.execute(
                        update(PostDestination)
                        .where(
                            col(PostDestination.id).in_(working),
                            col(PostDestination.claimed_by) == self.id,
                            col(PostDestination.status) == DestinationState.CLAIMED,
                        )
                        .values(lease_expires_at=now + self.lease)
                    )
            systemd.notify(f"STATUS=publishing, {len(self.in_flight)} in flight")
            telemetry.emit("heartbeat", time.time())
        except Exception as exc:
            if not self._damaged(exc):
                log.warning("heartbeat: %s", exc)
        # Last: a writer stalled on logging would stall this thread on these lines too.
        if self.writer_stalled.is_set():
            if not was_stalled:
                log.error(
                    "outcomes have waited %.0f s to be written: claiming nothing more, and "
                    "letting the claims whose outcomes wait lapse, to be recovered",
                    stalled,
                )
            return
        if was_stalled:
            log.warning("outcomes are being written again: claiming again")
            self.wake()
        self._ping_watchdog()

    def _why_not_call(self) -> str | None:
        """Why a claimed destination's calls must not start now (None: they may)."""
        if self.writer_stalled.is_set():
            return "not called: this daemon's outcome writer is stalled; the claim lapses"
        return None

    def _ping_watchdog(self) -> None:
        if self.writer_stalled.is_set():
            return  # systemd restarts a daemon whose outcomes cannot be written
        interval = systemd.watchdog_interval()
        if interval is not None and time.monotonic() - self._last_watchdog >= interval / 2:
            self._last_watchdog = time.monotonic()
            systemd.notify("WATCHDOG=1")

    def _periodic(self, name: str) -> None:
        job = next(j for j in JOBS if j.name == name)
        started = time.monotonic()
        with self._lock:
            self._jobs_running += 1
        try:
            job.run(self.db, self.settings, self.stopping)
        except Exception as exc:
            telemetry.emit("job_run", time.monotonic() - started, job=name, result="failed")
            if not self._damaged(exc):
                log.warning("job %s: %s", name, exc)
                if not isinstance(exc, AutopostrError):
                    reporting.report(exc)
        else:
            telemetry.emit("job_run", time.monotonic() - started, job=name, result="ok")
        finally:
            self._note_work()
            with self._lock:
                self._jobs_running -= 1

    def _note_work(self) -> None:
        with self._lock:
            self._last_work = time.monotonic()
        self._worked.set()

    def _release_unstarted(self) -> None:
        """Claims no worker started go back to the queue for the others."""
        from sqlalchemy import update
        from sqlmodel import col

        from autopostr.models import PostDestination

        with self._lock:
            unstarted = [d for d, f in self.in_flight.items() if f.cancelled()]
        if not unstarted:
            return
        try:
            with self.db.session() as session:
                session.execute(
                    update(PostDestination)
                    .where(
                        col(PostDestination.id).in_(unstarted),
                        col(PostDestination.claimed_by) == self.id,
                        col(PostDestination.status) == DestinationState.CLAIMED,
                    )
                    .values(
                        status=DestinationState.PENDING,
                        claimed_by=None,
                        lease_expires_at=None,
                        attempts=PostDestination.attempts - 1,
                    )
                )
        except Exception as exc:
            log.warning("releasing claims: %s", exc)

    def _unregister(self) -> None:
        try:
            with self.db.session() as session:
                row = session.get(DaemonRow, self.id)
                if row is not None:
                    row.stopped_at = utcnow()
                    row.in_flight = 0
                    session.add(row)
        except Exception as exc:
            log.warning("unregister: %s", exc)


def run_forever(
    settings: Settings, db: Database, concurrency: int | None, metrics: str | None = None
) -> int:
    """Run until SIGTERM/SIGINT; returns the number of calls still running at exit.

    Raises DatabaseCorrupt when the database is found damaged, at start or later.
    """
    few_malloc_arenas()
    config = DaemonConfig.from_settings(settings, db, concurrency)
    refuse_damaged(db)
    reporting.init("daemon")  # with SENTRY_DSN and the sentry extra
    runner = DaemonRunner(settings, db, config)
    server = None
    if metrics or settings.get("metrics"):  # the HTTP server's modules only when asked for
        from autopostr.daemon.metrics import metrics_server

        server = metrics_server(settings, db, runner.health, metrics)  # a bad address stops here
    runner.liveness.acquire()  # a second daemon on one SQLite file stops here (exit 5)
    runner.install_signal_handlers()
    try:
        if server is not None:
            server.start()
        runner.start()
        runner.wait()
    finally:
        left = runner.stop()
        if server is not None:
            server.stop()
        if not left:
            # With calls still running, the lock goes with the process (os._exit follows),
            # not before: the others must not ask the platform while a call is in flight.
            runner.liveness.release()
    if runner.fatal is not None:
        raise runner.fatal
    return left
