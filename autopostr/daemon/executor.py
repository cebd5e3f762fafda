"""Running a daemon's claimed publishes: hundreds in flight, bounded where it matters.

A publish call mostly waits on the network, so a thread that waits costs little
(its stack is touched only as deep as the call goes): the pool is sized for I/O,
`publish_concurrency` calls at once (256 by default), and threads are started only
as they are needed, so an idle daemon has none.

Three bounds, in this order:

- per account: at most `Platform.posts_at_once` calls to one account at once (one for
  most platforms), the others waiting in the order they were handed over, so an
  account's posts keep their order and a thread is never interleaved with another post;
- per platform: at most `<platform>_max_in_flight` calls to one platform from this
  daemon (DEFAULT_PLATFORM_CEILING when unset);
- in all: the pool's size.

What waits here still counts as held (`held`): the runner claims what the pool can
take now (`free`), plus what it will have finished by the time the next claim comes
back (its recent completions per second times how long a claim takes), plus one batch
(`claim_batch`), and claims again once a batch has gone; so the next claim is under
way while every slot is still busy, no slot waits for a claim, and a daemon sits on
little that another daemon could run. A batch is what the pool finishes in
HOLD_SECONDS at its recent pace (64 at most), and never less than the pool's size
(`batch`, 64 at most): a claim's fixed cost, the statement's look at every account and
its round trip, is then shared by that many publishes however small the pool.

A slot is a call in flight: a publish gives its slot back once its outcome is handed
to the writer, which commits it on a thread of its own (or earlier, `Task.release`);
the thread whose task ended runs the next call that may start itself, rather than
waking another thread for it.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from autopostr.errors import AutopostrError

log = logging.getLogger("autopostr.daemon")

DEFAULT_CONCURRENCY = 256
DEFAULT_PLATFORM_CEILING = 200


@dataclass
class Task:
    """One claimed destination to publish: `run` does the call and records the outcome."""

    destination_id: int
    account_id: int
    platform: str
    run: Callable[[], Any]
    future: Future[Any] = field(default_factory=Future)
    # Set while the task runs: gives its slot back early (see `PublishExecutor._work`).
    release: Callable[[], None] = lambda: None


class CallNotStarted(AutopostrError):
    """A claimed destination's calls were not started: its claim lapses and is recovered
    (the platform asked first), by this daemon or another."""


class PublishExecutor:
    def __init__(
        self,
        capacity: int,
        *,
        account_limit: Callable[[str], int] = lambda _platform: 1,
        platform_ceiling: Callable[[str], int] = lambda _platform: DEFAULT_PLATFORM_CEILING,
        on_room: Callable[[], None] = lambda: None,
        may_call: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.capacity = max(1, capacity)
        self._on_room = on_room  # told when a slot is given back
        # Asked before each task's calls: why they must not start now (None: they may).
        self._may_call = may_call
        self._account_limit = account_limit
        self._platform_ceiling = platform_ceiling
        # A thread whose calls are over still hands its outcome over (or, once the writer
        # stopped, writes it) without its slot: threads beyond the slots let the next
        # call start meanwhile.
        self._pool = ThreadPoolExecutor(
            max_workers=self.capacity + self.batch, thread_name_prefix="publish"
        )
        self._lock = threading.Lock()
        self._waiting: dict[int, deque[Task]] = {}  # account id -> its tasks, in order
        self._per_account: Counter[int] = Counter()
        self._per_platform: Counter[str] = Counter()
        self._dispatched: dict[int, Task] = {}  # id(task) -> task handed to the pool
        self._calling: set[int] = set()  # destination ids whose calls are under way
        self._running = 0
        self._held = 0
        self._closed = False
        self._finish_times: deque[float] = deque()  # monotonic, the last RATE_WINDOW s
        self._claim_seconds = 0.05
        self._last_pace = 0.0  # the rate when the last task finished
        # On a pool thread: the task it runs next, kept when its own call gave a slot back.
        self._thread = threading.local()

    RATE_WINDOW = 2.0
    # A batch beyond the pool's size is at most this long of the pool's work: the most a
    # daemon keeps from the others for the sake of fewer claims. With 8 slots and 50 ms
    # calls, claims of about 30 rather than 8 took 12 % off the CPU per publish (daemon
    # and PostgreSQL, 1 and 4 daemons; bench/publish.py, alternating runs).
    HOLD_SECONDS = 0.2
    MAX_BATCH = 64

    def note_claim(self, seconds: float) -> None:
        """How long a claim took (statement and preparation), for the reserve."""
        with self._lock:
            self._claim_seconds = 0.7 * self._claim_seconds + 0.3 * seconds

    def _rate_locked(self) -> float:
        """Tasks finished per second, lately: over the last RATE_WINDOW, or since the
        first of them if that is less (a burst's pace is known within its first calls)."""
        now = time.monotonic()
        times = self._finish_times
        while times and now - times[0] > self.RATE_WINDOW:
            times.popleft()
        if not times:
            # Idle since: the next burst starts at the pace the last one kept, not at
            # one batch per claim until its first calls are back.
            return self._last_pace
        return len(times) / max(now - times[0], self.RATE_WINDOW / 8)

    def _reserve_locked(self, rate: float) -> int:
        """Tasks that will finish while the next claim is under way."""
        return min(self.capacity, math.ceil(rate * self._claim_seconds * 2))

    def _claim_batch_locked(self, rate: float) -> int:
        return max(self.batch, min(self.MAX_BATCH, math.ceil(rate * self.HOLD_SECONDS)))

    # -- what the runner asks ------------------------------------------------
    def held(self) -> int:
        """Tasks handed over and not finished: running, or waiting for their account,
        their platform or a thread."""
        with self._lock:
            return self._held

    @property
    def batch(self) -> int:
        """What a claim takes at least, once running: the pool's size (up to 64), so a
        claim's round trip is paid for several publishes; also the threads beyond the
        slots."""
        return max(1, min(self.MAX_BATCH, self.capacity))

    def claim_batch(self) -> int:
        """What a claim takes at least now: `batch`, or what the pool finishes in
        HOLD_SECONDS at its recent pace, if more (up to 64)."""
        with self._lock:
            return self._claim_batch_locked(self._rate_locked())

    def free(self) -> int:
        """How many more tasks to take: room in the pool now, the reserve, and a batch;
        none while every slot is busy and that is under half a batch (the reserve grew
        with the pace, or calls ended during the last claim): a claim of two or three
        cost as much as one of thirty, and the next batch's room opens soon."""
        with self._lock:
            rate = self._rate_locked()
            batch = self._claim_batch_locked(rate)
            room = self.capacity + self._reserve_locked(rate) + batch - self._held
            if self._running >= self.capacity and room < batch // 2:
                return 0
            return room

    def worth_claiming(self) -> bool:
        """Whether a batch's worth of room opened: the claim then goes out while the
        pool is still full and the reserve still waiting, so no thread waits for it."""
        with self._lock:
            return self.capacity + self._reserve_locked(self._rate_locked()) - self._held >= 0

    def running(self) -> int:
        with self._lock:
            return self._running

    def calling(self) -> set[int]:
        """The destinations whose platform calls are under way now (not waiting to
        start, nor over with their outcome still to be written)."""
        with self._lock:
            return set(self._calling)

    # -- handing work over ---------------------------------------------------
    def submit(self, task: Task) -> Future[Any]:
        with self._lock:
            if self._closed:
                task.future.cancel()
                return task.future
            self._held += 1
            self._waiting.setdefault(task.account_id, deque()).append(task)
            ready = self._ready_locked()
        self._start(ready)
        return task.future

    def _ready_locked(self) -> list[Task]:
        """Take every task whose account, platform and the pool have room, oldest first
        within each account."""
        ready: list[Task] = []
        if self._running >= self.capacity:
            return ready
        for account_id in list(self._waiting):
            queue = self._waiting[account_id]
            while queue and self._running < self.capacity:
                task = queue[0]
                if task.future.cancelled():
                    queue.popleft()
                    self._held -= 1
                    continue
                if self._per_account[account_id] >= max(1, self._account_limit(task.platform)):
                    break
                if self._per_platform[task.platform] >= max(
                    1, self._platform_ceiling(task.platform)
                ):
                    break
                queue.popleft()
                self._per_account[account_id] += 1
                self._per_platform[task.platform] += 1
                self._running += 1
                self._dispatched[id(task)] = task
                ready.append(task)
            if not queue:
                del self._waiting[account_id]
        return ready

    def _start(self, tasks: list[Task]) -> None:
        if tasks and getattr(self._thread, "keeps", False) and self._thread.next is None:
            # A pool thread whose task just ended runs the next call itself: handing it
            # to another thread cost a wake-up (a tenth of the CPU of a publish).
            self._thread.next, tasks = tasks[0], tasks[1:]
        for task in tasks:
            try:
                self._pool.submit(self._work, task)
            except RuntimeError:  # the pool shut down meanwhile
                self._finished(task)
                task.future.cancel()

    def _work(self, first: Task) -> None:
        local = self._thread
        local.keeps, local.next = False, None
        task: Task | None = first
        while task is not None:
            self._run(task)
            task, local.next = local.next, None

    def _over_here(self, release: Callable[[], None]) -> None:
        """Give the slot back from this thread, whose task is over: the next task that
        may start is kept for it (see `_start`). A slot given back early, while the
        task goes on (`Task.release`), hands the next one to another thread."""
        self._thread.keeps = True
        try:
            release()
        finally:
            self._thread.keeps = False

    def _run(self, task: Task) -> None:
        if not task.future.set_running_or_notify_cancel():
            self._over_here(lambda: self._finished(task))
            return
        # A task may give its slot back once its calls are over (`release`), while its
        # outcome is committed: the slot bounds calls in flight, not writes. At the
        # latest it is given back before anyone hears of the outcome: the runner claims
        # more when it hears, and must then see the room.
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
                self._calling.discard(task.destination_id)
            self._finished(task)
            self._on_room()

        task.release = release
        with self._lock:
            self._calling.add(task.destination_id)
        refused = self._may_call()
        if refused is not None:
            self._over_here(release)
            task.future.set_exception(CallNotStarted(refused))
            return
        try:
            result = task.run()
        except BaseException as exc:
            self._over_here(release)
            task.future.set_exception(exc)
        else:
            self._over_here(release)
            if isinstance(result, Future):
                # The outcome's commit is under way elsewhere: the task ends with it,
                # and this thread is free for the next call meanwhile.
                result.add_done_callback(functools.partial(_settle, task.future))
            else:
                task.future.set_result(result)

    def _finished(self, task: Task) -> None:
        with self._lock:
            self._held -= 1
            self._running -= 1
            self._dispatched.pop(id(task), None)
            self._finish_times.append(time.monotonic())
            self._last_pace = self._rate_locked()
            self._per_account[task.account_id] -= 1
            if self._per_account[task.account_id] <= 0:
                del self._per_account[task.account_id]
            self._per_platform[task.platform] -= 1
            if self._per_platform[task.platform] <= 0:
                del self._per_platform[task.platform]
            ready = [] if self._closed else self._ready_locked()
        self._start(ready)

    # -- stopping ------------------------------------------------------------
    def shutdown(self) -> None:
        """Start nothing more: tasks not started are cancelled (their claims go back to
        the queue, see the runner); running calls finish on their own."""
        with self._lock:
            self._closed = True
            waiting = [task for queue in self._waiting.values() for task in queue]
            self._waiting.clear()
            self._held -= len(waiting)
            dispatched = list(self._dispatched.values())
        # A task the pool has not started yet is cancelled here; its thread, when it gets
        # to it, sees that and returns at once.
        for task in waiting + dispatched:
            task.future.cancel()
        self._pool.shutdown(wait=False)


class PlatformBounds:
    """What each platform allows: posts to one account at once (the adapter class's
    `posts_at_once`) and this daemon's ceiling of calls in flight to it
    (`<platform>_max_in_flight`)."""

    REFRESH_SECONDS = 60.0

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._at_once: dict[str, int] = {}
        self._ceilings: dict[str, int] = {}
        self._claim_map: dict[str, int] | None = None
        self._claim_map_at = 0.0

    def posts_at_once(self, platform: str) -> int:
        found = self._at_once.get(platform)
        if found is None:
            from autopostr.platforms.registry import get_platform_class

            try:
                found = max(1, int(get_platform_class(platform).posts_at_once))
            except Exception:  # an unknown platform fails its publish, one at a time
                found = 1
            self._at_once[platform] = found
        return found

    def ceiling(self, platform: str) -> int:
        found = self._ceilings.get(platform)
        if found is None:
            found = self.settings.integer(
                f"{platform}_max_in_flight", DEFAULT_PLATFORM_CEILING, minimum=1
            )
            self._ceilings[platform] = found
        return found

    def claim_map(self, db: Any) -> dict[str, int]:
        """`posts_at_once` of every platform that has accounts, for the claim statement;
        looked up again once a minute (a new platform's accounts count as 1 till then)."""
        import time

        if self._claim_map is None or time.monotonic() - self._claim_map_at > self.REFRESH_SECONDS:
            from sqlalchemy import select

            from autopostr.models import SocialAccount

            with db.session() as session:
                names = session.execute(select(SocialAccount.platform).distinct()).scalars().all()  # type: ignore[call-overload]
            self._claim_map = {name: self.posts_at_once(name) for name in names}
            self._claim_map_at = time.monotonic()
        return self._claim_map


def _settle(target: Future[Any], source: Future[Any]) -> None:
    exc = source.exception()
    if exc is not None:
        target.set_exception(exc)
    else:
        target.set_result(source.result())


def task_for(db: Any, settings: Any, worker: str, job: Any, *, recover: bool = False) -> Task:
    """The task that publishes a prepared claim (`publishing.prepare`), or, for a claim
    taken over from a daemon that died, asks the platform first."""
    from autopostr.publishing import run_job

    task = Task(
        destination_id=job.claim.destination_id,
        account_id=job.account.id or 0,
        platform=job.account.platform,
        run=functools.partial(run_job, db, settings, worker, job, recover=recover),
    )
    # The slot is given back when `run_job` returns, the outcome handed to the writer
    # (not written): its thread then takes the next call itself.
    return task
