"""Which daemons are alive, from their heartbeats."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from autopostr.db import Database
from autopostr.models import Daemon, utcnow
from autopostr.views import iso

# A daemon beats every 10 s by default; three missed beats and it counts as gone.
STALE_AFTER = timedelta(seconds=60)


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


def daemon_json(row: Daemon) -> dict[str, Any]:
    return {
        "id": row.id,
        "host": row.host,
        "pid": row.pid,
        "version": row.version,
        "state": state_of(row, utcnow()),
        "started_at": iso(row.started_at),
        "heartbeat_at": iso(row.heartbeat_at),
        "stopped_at": iso(row.stopped_at),
        "in_flight": row.in_flight,
    }
