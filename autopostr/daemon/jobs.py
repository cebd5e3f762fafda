"""Periodic jobs the daemon runs besides publishing; later features register theirs here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from autopostr.config import Settings
from autopostr.db import Database


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    run: Callable[[Database, Settings], object]


def _cleanup_sessions(db: Database, _settings: Settings) -> int:
    from autopostr.identity import cleanup_expired_sessions

    with db.session() as session:
        return cleanup_expired_sessions(session)


JOBS: list[PeriodicJob] = [PeriodicJob("session-cleanup", timedelta(hours=1), _cleanup_sessions)]


def register(job: PeriodicJob) -> None:
    """Add a job (token refresh, analytics sync, media cleanup …) to every daemon."""
    if any(existing.name == job.name for existing in JOBS):
        raise ValueError(f"a daemon job named {job.name!r} exists already")
    JOBS.append(job)
