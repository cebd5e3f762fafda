"""Writing a day's numbers: one snapshot row per post (or account) and day, rewritten
by a second sync the same day, with each metric's gain counted as it is written.

A platform reports running totals. What a day added to a total is the day's figure
less the last figure known before that day, which the target row remembers
(`baseline`: totals before its last snapshot day; `latest`: the totals of that day).
The first figure of a post followed from its start counts whole (all of it came since
publishing); the first figure of a post or account found already running counts
nothing (it came before autopostr looked, on days it cannot tell). Summing gains over
days then gives exactly the growth seen between two days, whichever days were missed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from autopostr.platforms.base import METRICS, Metrics

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

    from autopostr.db import Database

Totals = dict[str, int]


@dataclass
class Tracker:
    """What a target remembers of its last snapshot."""

    day: date | None = None
    first_day: date | None = None
    baseline: Totals = field(default_factory=dict)
    latest: Totals = field(default_factory=dict)

    @classmethod
    def read(
        cls, day: date | None, first_day: date | None, baseline: str | None, latest: str | None
    ) -> Tracker:
        return cls(day, first_day, _totals(baseline), _totals(latest))


@dataclass
class Written:
    """One snapshot to write and the target's memory after it."""

    values: dict[str, int | None]
    gains: dict[str, int | None]
    tracker: Tracker


def count_gains(metrics: Metrics, day: date, tracker: Tracker, started: date | None) -> Written:
    """The day's snapshot of `metrics` and what each total gained. `started` is the day
    the post went out (None for an account, whose first figure counts nothing)."""
    values = metrics.values()
    if tracker.day is None:
        before: Totals = {}
    elif tracker.day < day:
        before = {**tracker.baseline, **tracker.latest}
    else:  # a second sync the same day: against the same figures as the first
        before = dict(tracker.baseline)
    first_day = tracker.first_day or day
    from_start = started is not None and first_day <= started + timedelta(days=1)
    gains: dict[str, int | None] = {}
    for name, value in values.items():
        if value is None:
            gains[name] = None
        elif name in before:
            gains[name] = value - before[name]
        else:
            gains[name] = value if from_start else 0
    latest = {name: value for name, value in values.items() if value is not None}
    return Written(values, gains, Tracker(day, first_day, before, latest))


def upsert(session: DbSession, db: Database, rows: list[dict[str, Any]], *, posts: bool) -> None:
    """Insert the day's rows, or rewrite those a sync wrote earlier the same day."""
    if not rows:
        return
    from sqlalchemy import text

    from autopostr.models import AnalyticsSnapshot

    if db.url.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]

    key = "destination_id" if posts else "account_id"
    where = "destination_id IS NOT NULL" if posts else "destination_id IS NULL"
    statement = insert(AnalyticsSnapshot.__table__)  # type: ignore[attr-defined]
    updated = [*METRICS, *(f"{name}_gain" for name in METRICS), "raw", "fetched_at"]
    statement = statement.on_conflict_do_update(
        index_elements=[key, "day"],
        index_where=text(where),
        set_={name: statement.excluded[name] for name in updated},
    )
    session.connection().execute(statement, rows)


def row(
    account_id: int,
    destination_id: int | None,
    day: date,
    written: Written,
    raw: dict[str, Any],
    fetched_at: datetime,
) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "destination_id": destination_id,
        "day": day,
        **written.values,
        **{f"{name}_gain": gain for name, gain in written.gains.items()},
        "raw": json.dumps(raw, ensure_ascii=False, sort_keys=True, default=str) if raw else None,
        "fetched_at": fetched_at,
    }


def dump(totals: Totals) -> str:
    return json.dumps(totals, sort_keys=True)


def _totals(text: str | None) -> Totals:
    try:
        loaded = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {k: v for k, v in loaded.items() if k in METRICS and isinstance(v, int)}


def delete_older_than(db: Database, cutoff: date) -> int:
    """Retention: snapshots (and daily sums) of days before `cutoff` go."""
    from sqlalchemy import delete
    from sqlmodel import col

    from autopostr.models import AnalyticsDaily, AnalyticsSnapshot

    with db.session() as session:
        session.execute(delete(AnalyticsDaily).where(col(AnalyticsDaily.day) < cutoff))
        result = session.execute(
            delete(AnalyticsSnapshot).where(col(AnalyticsSnapshot.day) < cutoff)
        )
        return int(getattr(result, "rowcount", 0) or 0)


FLOWS = tuple(m for m in METRICS if m != "followers")


def write(
    session: DbSession,
    db: Database,
    day: date,
    post_rows: list[dict[str, Any]],
    account_rows: list[dict[str, Any]],
    fetched_at: datetime,
) -> None:
    """The day's snapshots (see `row`), and what they change in each account's daily
    sums (`analytics_daily`): a rewrite the same day adds only its difference."""
    from sqlalchemy import select
    from sqlmodel import col

    from autopostr.models import AnalyticsSnapshot as Snap

    gains = [f"{m}_gain" for m in FLOWS]
    before: dict[int, tuple[Any, ...]] = {}
    ids = [r["destination_id"] for r in post_rows]
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        for dest, *earlier in session.execute(
            select(col(Snap.destination_id), *(getattr(Snap, g) for g in gains)).where(
                col(Snap.destination_id).in_(chunk), col(Snap.day) == day
            )
        ).all():
            before[int(dest)] = tuple(earlier)
    sums: dict[int, dict[str, Any]] = {}
    for new in post_rows:
        total = sums.setdefault(
            new["account_id"],
            {"account_id": new["account_id"], "day": day, "posts": 0, "fetched_at": fetched_at,
             **dict.fromkeys(gains)},
        )  # fmt: skip
        had = before.get(new["destination_id"])
        if had is None:
            total["posts"] += 1
        for n, name in enumerate(gains):
            value, was = new[name], (had[n] if had is not None else None)
            if value is None and was is None:
                continue
            total[name] = (total[name] or 0) + (value or 0) - (was or 0)
    upsert(session, db, post_rows, posts=True)
    upsert(session, db, account_rows, posts=False)
    _add_daily(session, db, [sums[k] for k in sorted(sums)])


def _add_daily(session: DbSession, db: Database, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    from sqlalchemy import case, literal_column

    from autopostr.models import AnalyticsDaily

    if db.url.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]

    table = AnalyticsDaily.__table__  # type: ignore[attr-defined]
    statement = insert(table)
    added: dict[str, Any] = {"posts": table.c.posts + statement.excluded.posts}
    for name in (f"{m}_gain" for m in FLOWS):
        mine, theirs = table.c[name], statement.excluded[name]
        # A metric this write says nothing about keeps its sum (NULL stays NULL).
        added[name] = case(
            (theirs.is_(None), mine), else_=literal_column("0") + _coalesce(mine) + theirs
        )
    added["fetched_at"] = statement.excluded.fetched_at
    statement = statement.on_conflict_do_update(index_elements=["account_id", "day"], set_=added)
    session.connection().execute(statement, rows)


def _coalesce(column: Any) -> Any:
    from sqlalchemy import func

    return func.coalesce(column, 0)
