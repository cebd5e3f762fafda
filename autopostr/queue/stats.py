"""The queue at a glance, for metrics: destinations by state and how many are due but unclaimed.

A daemon serving metrics reads them at most once per scrape (cached a few seconds),
however many gauges show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from autopostr.db import Database
from autopostr.models import PostDestination, utcnow
from autopostr.queue.claims import UNSENT


@dataclass(frozen=True)
class QueueCounts:
    by_state: dict[str, int]
    due_unclaimed: int  # due now, waiting for a publisher


def queue_counts(db: Database, now: datetime | None = None) -> QueueCounts:
    """Two reads in one transaction: a count per state, and the due-but-unclaimed count
    through the partial index on unsent rows' due times."""
    from sqlalchemy import func, or_, select, text
    from sqlmodel import col

    now = now or utcnow()
    with db.session() as session:
        rows = session.execute(
            select(col(PostDestination.status), func.count()).group_by(col(PostDestination.status))
        ).all()
        due = session.execute(
            select(func.count())
            .select_from(PostDestination)
            .where(
                text(UNSENT),
                col(PostDestination.due_at) <= now,
                or_(
                    col(PostDestination.next_attempt_at).is_(None),
                    col(PostDestination.next_attempt_at) <= now,
                ),
            )
        ).scalar_one()
    return QueueCounts({str(state): int(count) for state, count in rows}, int(due))
