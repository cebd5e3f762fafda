"""Blackout windows: nothing is placed in a slot, a series or the evergreen pool inside.

A pause is [start, end) in UTC, for one account or (account None) for all of a team's.
Slots and occurrences inside are skipped, never fired afterwards: a pause makes
nothing "catch up".
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    account_id: int | None = None  # None: every account
    reason: str = ""


class Blackouts:
    """The windows that apply to one account, merged, answering `covers` in O(log n)."""

    def __init__(self, windows: Iterable[Window], account_id: int | None = None) -> None:
        spans = sorted(
            (w.start, w.end)
            for w in windows
            if w.end > w.start and (w.account_id is None or w.account_id == account_id)
        )
        merged: list[tuple[datetime, datetime]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                if end > merged[-1][1]:
                    merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        self._starts = [start for start, _ in merged]
        self._spans = merged

    def covers(self, at: datetime) -> bool:
        index = bisect_right(self._starts, at) - 1
        return index >= 0 and at < self._spans[index][1]

    def __bool__(self) -> bool:
        return bool(self._spans)


def for_account(windows: Iterable[Window], account_id: int) -> Blackouts:
    return Blackouts(windows, account_id)
