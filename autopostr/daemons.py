"""Which daemons are alive, from their heartbeats (the `daemons` table): read by
`daemon status` and doctor, written by the daemon itself and by `daemon run --once`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from autopostr.config import Settings
from autopostr.db import Database
from autopostr.models import Daemon, utcnow

# A daemon counts as silent after missing this many heartbeats (its interval is the
# `heartbeat_seconds` setting, 10 s by default).
MISSED_BEATS = 3
DEFAULT_HEARTBEAT_SECONDS = 10.0
# A cron job (`daemon run --once`) counts as the publisher while its last run is this recent.
CRON_FRESH = timedelta(minutes=15)
CRON_MARK = "once"


def stale_after(settings: Settings) -> timedelta:
    """How long without a heartbeat before a daemon counts as silent: follows the interval."""
    beat = settings.seconds("heartbeat_seconds", DEFAULT_HEARTBEAT_SECONDS, above=0)
    return timedelta(seconds=MISSED_BEATS * beat)


def state_of(row: Daemon, now: datetime, stale: timedelta, gone: bool = False) -> str:
    """alive, silent (no recent heartbeat, or its liveness lock is free) or stopped."""
    if row.stopped_at is not None:
        return "stopped"
    return "alive" if now - row.heartbeat_at <= stale and not gone else "silent"


@dataclass
class DaemonView:
    row: Daemon
    state: str


def list_daemons(db: Database, settings: Settings, include_dead: bool = False) -> list[DaemonView]:
    """The daemons with their state; on PostgreSQL one whose lock is free is silent at once."""
    from sqlmodel import col, select

    from autopostr.queue.claims import gone_daemons

    now, stale = utcnow(), stale_after(settings)
    with db.session() as session:
        rows = list(session.exec(select(Daemon).order_by(col(Daemon.started_at))))
        gone = (
            set(session.execute(gone_daemons(db, "")).scalars())
            if db.url.dialect == "postgresql"
            else set()
        )
    views = [DaemonView(r, state_of(r, now, stale, r.id in gone)) for r in rows]
    return [v for v in views if include_dead or v.state == "alive"]


def record_cron_run(db: Database, worker: str, started: datetime) -> None:
    """`daemon run --once` leaves a stopped heartbeat row, so `doctor` can see cron at work."""
    import os
    import socket

    from autopostr import __version__

    now = utcnow()
    with db.session() as session:
        session.add(
            Daemon(
                id=worker,
                host=socket.gethostname(),
                pid=os.getpid(),
                version=f"{__version__} {CRON_MARK}",
                started_at=started,
                heartbeat_at=now,
                stopped_at=now,
                in_flight=0,
            )
        )


def last_cron_run(db: Database) -> datetime | None:
    from sqlalchemy import func
    from sqlmodel import col, select

    with db.session() as session:
        return session.exec(
            select(func.max(Daemon.heartbeat_at)).where(
                col(Daemon.version).endswith(f" {CRON_MARK}")
            )
        ).one()
