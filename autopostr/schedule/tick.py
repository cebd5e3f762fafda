"""The daemon's schedule job: make the series' posts within the horizon, fill empty
slots from the evergreen pool within the lead time, and check the feeds that are due.
Each step commits on its own, so a failure in one never holds back the others."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from autopostr.config import Settings
from autopostr.db import Database
from autopostr.models import utcnow

log = logging.getLogger(__name__)


@dataclass
class TickResult:
    series_posts: int = 0
    evergreen_posts: int = 0
    feed_posts: int = 0


def run_job(
    db: Database,
    settings: Settings,
    now: datetime | None = None,
    stopping: threading.Event | None = None,
) -> TickResult:
    from autopostr.schedule import feeds, pool, series

    now = now or utcnow()
    result = TickResult()
    with db.session() as session:
        result.series_posts = series.materialize(session, settings, now)
    with db.session() as session:
        result.evergreen_posts = pool.fill(session, settings, now)
    result.feed_posts = feeds.check_due(db, settings, now, stopping)
    return result
