"""The publish loop's own thread: it runs the loop at the instant last planned.

A wake-up (a call over, an outcome written, a NOTIFY) is one notified condition and
the loop runs on its thread. Through the scheduler, each was a job-store update, the
scheduler's thread woken, then a pool thread handed the run: three thread handoffs
for each of the many wake-ups of a burst, about 13 % of a busy daemon's CPU.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from autopostr.models import utcnow

log = logging.getLogger("autopostr.daemon")


class PlannedRuns:
    """Runs `work` on a thread of its own at the instant `plan` named last (at once to
    start with); if a run plans nothing, the next comes `fallback` seconds later."""

    def __init__(self, work: Callable[[], None], fallback: float) -> None:
        self._work = work
        self._fallback = fallback
        self._ready = threading.Condition()
        self._at = time.monotonic()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="publish-loop", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def plan(self, at: datetime) -> None:
        """The next run at `at` (in the past: at once), whatever was planned; any thread."""
        deadline = time.monotonic() + (at - utcnow()).total_seconds()
        with self._ready:
            self._at = deadline
            self._ready.notify()

    def plan_by(self, at: datetime) -> None:
        """A run by `at` at the latest: an earlier plan stands; any thread."""
        deadline = time.monotonic() + (at - utcnow()).total_seconds()
        with self._ready:
            if deadline < self._at:
                self._at = deadline
                self._ready.notify()

    def stop(self, timeout: float) -> None:
        """No run starts after this; a run under way is waited for up to `timeout`."""
        with self._ready:
            self._stopped = True
            self._ready.notify()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._stopped and (wait := self._at - time.monotonic()) > 0:
                    self._ready.wait(wait)
                if self._stopped:
                    return
                self._at = time.monotonic() + self._fallback
            try:
                self._work()
            except Exception as exc:  # the loop's own errors are handled inside; this is a bug
                log.exception("publish loop: %s", exc)
