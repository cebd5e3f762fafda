"""Which daemons are alive, from their heartbeats (the `daemons` table): read by
`daemon status` and doctor, written by the daemon itself and by `daemon run --once`."""

from __future__ import annotations

from datetime import datetime, timedelta

from autopostr.db import Database
from autopostr.models import Daemon, utcnow

# A daemon beats every 10 s by default; three missed beats and it counts as gone.
STALE_AFTER = timedelta(seconds=60)
# A cron job (`daemon run --once`) counts as the publisher while its last run is this recent.
CRON_FRESH = timedelta(minutes=15)
CRON_MARK = "once"


def state_of(row: Daemon, now: datetime) -> str:
    if row.stopped_at is not None:
        return "stopped"
    return "alive" if now - row.heartbeat_at <= STALE_AFTER else "silent"


def list_daemons(db: Database, include_dead: bool = False) -> list[Daemon]:
    from sqlmodel import col, select

    now = utcnow()
    with db.session() as session:
        rows = list(session.exec(select(Daemon).order_by(col(Daemon.started_at))))
    return [r for r in rows if include_dead or state_of(r, now) == "alive"]


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
