"""What /healthz and /readyz answer: is the loop alive, and can this daemon do its work?

- live (/healthz): the daemon is not stopping, its heartbeat job ran within three
  intervals (a stuck scheduler stops beating) and its outcome writer is not stalled
  (see `DaemonRunner.heartbeat`). Restart it when this fails.
- ready (/readyz): the database answers, its schema is the one this version needs, and
  this machine's keys open the database's secrets. Route work elsewhere (or alert)
  when this fails; it comes back by itself when they do.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from autopostr.config import Settings
from autopostr.db import Database
from autopostr.errors import AutopostrError

MISSED_BEATS = 3


class Health:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        heartbeat: float,
        stopping: threading.Event,
        writer_stalled: threading.Event,
    ):
        self.settings = settings
        self.db = db
        self.heartbeat = heartbeat
        self.stopping = stopping
        self.writer_stalled = writer_stalled
        self.started = time.monotonic()
        self.last_beat: float | None = None

    def beat(self) -> None:
        """The heartbeat job ran (whether or not the database took the beat)."""
        self.last_beat = time.monotonic()

    def live(self) -> tuple[bool, dict[str, Any]]:
        since = time.monotonic() - (self.last_beat or self.started)
        limit = MISSED_BEATS * self.heartbeat + 5
        if self.stopping.is_set():
            return False, {"status": "stopping"}
        if since > limit:
            return False, {"status": "stuck", "seconds_since_heartbeat": round(since, 1)}
        if self.writer_stalled.is_set():
            return False, {"status": "stalled", "reason": "outcomes wait to be written"}
        return True, {"status": "ok", "seconds_since_heartbeat": round(since, 1)}

    def ready(self) -> tuple[bool, dict[str, Any]]:
        from autopostr.db import SCHEMA_HEAD
        from autopostr.keys import load_keyset, require_database_key

        checks: dict[str, str] = {}
        try:
            revision = self.db.revision()
            checks["database"] = "ok"
        except AutopostrError as exc:
            checks["database"] = exc.message
            return False, {"status": "not ready", "checks": checks}
        except Exception as exc:  # a driver error of another kind: unreachable all the same
            checks["database"] = f"cannot reach the database: {type(exc).__name__}"
            return False, {"status": "not ready", "checks": checks}
        checks["schema"] = (
            "ok" if revision == SCHEMA_HEAD else f"at {revision}, this version needs {SCHEMA_HEAD}"
        )
        try:
            require_database_key(self.db, load_keyset(self.settings))
            checks["key"] = "ok"
        except AutopostrError as exc:
            checks["key"] = exc.message
        except Exception as exc:  # the database went away between the two reads
            checks["key"] = f"could not check: {type(exc).__name__}"
        ok = all(value == "ok" for value in checks.values())
        return ok, {"status": "ready" if ok else "not ready", "checks": checks}
