"""Periodic jobs the daemon runs besides publishing; later features register theirs here.

A job gets the daemon's `stopping` event: one that works through many accounts looks
at it between them, so a daemon asked to stop is not held for minutes by a sync (what
it did not get to is picked up by the next run, here or in another daemon).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from autopostr.config import Settings
from autopostr.db import Database


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    run: Callable[[Database, Settings, threading.Event], object]
    # A beat that depends on settings (the analytics sync's): overrides `every`.
    beat: Callable[[Settings], timedelta] | None = None

    def interval(self, settings: Settings) -> timedelta:
        return self.beat(settings) if self.beat is not None else self.every


def _cleanup_sessions(db: Database, _settings: Settings, _stopping: threading.Event) -> int:
    from autopostr.identity import cleanup_expired_sessions

    with db.session() as session:
        return cleanup_expired_sessions(session)


def _cleanup_media(db: Database, settings: Settings, _stopping: threading.Event) -> int:
    """Orphaned media (no post refers to it) untouched for 24 h, in every team."""
    from autopostr.media import DEFAULT_GRACE, cleanup

    with db.session() as session:
        return len(cleanup(session, settings, older_than=DEFAULT_GRACE).items)


def _refresh_tokens(db: Database, settings: Settings, stopping: threading.Event) -> object:
    from autopostr.tokens import refresh_expiring

    return refresh_expiring(db, settings, stopping=stopping)


def _sync_analytics(db: Database, settings: Settings, stopping: threading.Event) -> object:
    from autopostr.analytics.sync import run_job

    return run_job(db, settings, stopping)


def _analytics_beat(settings: Settings) -> timedelta:
    from autopostr.analytics.sync import check_every

    return check_every(settings)


def _sync_billing(db: Database, settings: Settings, _stopping: threading.Event) -> object:
    from autopostr.billing.events import run_job

    return run_job(db, settings)


def _schedule(db: Database, settings: Settings, stopping: threading.Event) -> object:
    from autopostr.schedule.tick import run_job

    return run_job(db, settings, stopping=stopping)


JOBS: list[PeriodicJob] = [
    PeriodicJob("session-cleanup", timedelta(hours=1), _cleanup_sessions),
    # Hourly against a 24 h horizon: every token gets many chances before it runs out.
    PeriodicJob("token-refresh", timedelta(hours=1), _refresh_tokens),
    PeriodicJob("media-cleanup", timedelta(days=1), _cleanup_media),
    # Looks every 15 minutes; each post and account is fetched once per
    # AUTOPOSTR_ANALYTICS_INTERVAL period, however many daemons look.
    PeriodicJob("analytics-sync", timedelta(minutes=15), _sync_analytics, _analytics_beat),
    # Stripe's events since the last one seen; does nothing (no Stripe call) with billing off.
    PeriodicJob("billing-sync", timedelta(minutes=5), _sync_billing),
    # Series' posts within the horizon, evergreen picks within the lead time, due feeds.
    PeriodicJob("schedule", timedelta(minutes=5), _schedule),
]


def register(job: PeriodicJob) -> None:
    """Add a job (token refresh, analytics sync, media cleanup …) to every daemon."""
    if any(existing.name == job.name for existing in JOBS):
        raise ValueError(f"a daemon job named {job.name!r} exists already")
    JOBS.append(job)
