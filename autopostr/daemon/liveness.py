"""A daemon's liveness lock: held for its whole life, so the others know at once when it is gone.

PostgreSQL: a session-level advisory lock `(LOCK_NAMESPACE, key)` on a connection of
its own, its key written in the daemon's `daemons` row. The server frees it when the
session ends, so when the process dies (SIGKILL, OOM, power); another daemon that sees
the key free takes over the claims at once (`queue.claims.gone_daemons`) instead of
waiting out their leases, and still asks the platform before re-sending.

SQLite: the `fcntl` lock on a file beside the database, one daemon per file. The
daemon that gets it knows every other daemon of that file is gone, so it takes over
their claims at start-up.

A daemon only judges others once it has held its own lock for a heartbeat interval (5 s
at least): after a database restart every daemon has lost its lock for a moment, and
the others must have had time to take theirs again.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from typing import Any

from autopostr.db import Database
from autopostr.errors import Conflict
from autopostr.queue.claims import LOCK_NAMESPACE

log = logging.getLogger("autopostr.daemon")

# Lock keys are random positive int4s; a taken one (another daemon's) is skipped.
_KEY_RANGE = (1, 2**31 - 1)


class Liveness:
    """The lock interface the runner uses; `key` goes into the daemon's row."""

    key: int | None = None

    def acquire(self) -> None:
        """Take the lock before the daemon registers, or raise Conflict."""

    def may_judge(self) -> bool:
        """True when this daemon may treat others whose lock is free as gone."""
        return False

    def release(self) -> None:
        """Give the lock up (the process ending does it as well)."""


class SqliteLock(Liveness):
    """One long-running daemon per SQLite file (its single writer would serialise them anyway)."""

    def __init__(self, db: Database):
        path = db.url.sqlite_path
        self.path = path.with_name(path.name + ".daemon.lock") if path else None
        self.handle: Any = None
        self.key = 0

    def acquire(self) -> None:
        if self.path is None:
            return
        import fcntl

        self.handle = self.path.open("a+")
        try:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "another process"
            self.handle.close()
            raise Conflict(
                f"a daemon already runs on this SQLite database ({holder}); use PostgreSQL to run "
                "several, or `autopostr daemon run --once` alongside"
            ) from None
        self.handle.truncate(0)
        self.handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        self.handle.flush()

    def may_judge(self) -> bool:
        return self.handle is not None

    def release(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


class PostgresLock(Liveness):
    """A session-level advisory lock on a connection of its own, watched every second.

    When the connection drops (a database restart), the watcher reconnects and takes
    the same key again; if someone else holds it by then, this daemon has been given up
    for dead and stops (`on_lost`), its late results fenced out by the claims' tokens."""

    def __init__(self, db: Database, settle: float, on_lost: Any, every: float = 1.0):
        self.db = db
        self.settle = settle  # seconds held before judging others
        self.on_lost = on_lost
        self.every = every
        self.conn: Any = None
        self.held_since: float | None = None
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def _connect(self) -> Any:
        import psycopg

        url = self.db.url.url.replace("postgresql+psycopg://", "postgresql://", 1)
        # A killed process's session ends at once; keepalives make the server notice a
        # vanished host or a cut network too (in about 25 s) and free the lock.
        return psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=5,
            application_name="autopostr daemon lock",
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )

    def _try(self, conn: Any, key: int) -> bool:
        row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_NAMESPACE, key)).fetchone()
        return bool(row and row[0])

    def acquire(self) -> None:
        self.conn = self._connect()
        for _ in range(20):
            key = random.randint(*_KEY_RANGE)
            if self._try(self.conn, key):
                self.key = key
                break
        else:  # pragma: no cover - twenty taken keys in a row
            raise Conflict("could not take a daemon lock on PostgreSQL: try again")
        self.held_since = time.monotonic()
        self._thread = threading.Thread(target=self._watch, name="liveness", daemon=True)
        self._thread.start()

    def may_judge(self) -> bool:
        since = self.held_since
        return since is not None and time.monotonic() - since >= self.settle

    def _watch(self) -> None:
        while not self.stopping.wait(self.every):
            try:
                self.conn.execute("SELECT 1")
                continue
            except Exception as exc:
                self.held_since = None
                log.warning("daemon lock connection lost (%s); taking the lock again", exc)
            self._retake()

    def _retake(self) -> None:
        delay = 0.5
        while not self.stopping.is_set():
            try:
                try:
                    self.conn.close()
                except Exception:
                    pass
                self.conn = self._connect()
                assert self.key is not None
                if self._try(self.conn, self.key):
                    self.held_since = time.monotonic()
                    log.info("daemon lock taken again")
                    return
                log.error("another daemon holds this daemon's lock: it was given up for dead")
                self.on_lost()
                return
            except Exception as exc:
                log.warning("daemon lock: %s; retrying in %.1f s", exc, delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, 2.0)

    def release(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.held_since = None


def liveness_for(db: Database, settle: float, on_lost: Any) -> Liveness:
    if db.url.dialect == "postgresql":
        return PostgresLock(db, settle, on_lost)
    return SqliteLock(db)
