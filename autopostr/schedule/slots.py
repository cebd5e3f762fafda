"""Weekly posting slots: wall-clock times in an account's IANA zone.

A slot is a weekday and a local time ("mon-fri 09:00,13:00; sat 10:30"). It keeps
its wall-clock time across DST changes: 09:00 stays 09:00 local. A slot time the
clocks skip (a DST gap) moves forward to the first instant that exists after it;
one the clocks repeat (a DST overlap) is taken at its first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from autopostr.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ALIASES = {
    "daily": tuple(range(7)),
    "everyday": tuple(range(7)),
    "weekdays": tuple(range(5)),
    "weekends": (5, 6),
}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class WeeklySlots:
    """Local slot times per weekday (Monday = 0), sorted and without repeats."""

    days: tuple[tuple[time, ...], ...]

    @property
    def empty(self) -> bool:
        return not any(self.days)

    def per_week(self) -> int:
        return sum(len(times) for times in self.days)

    def spec(self) -> str:
        """The canonical text of these slots, as `parse` reads it back."""
        groups: dict[tuple[time, ...], list[int]] = {}
        for day, times in enumerate(self.days):
            if times:
                groups.setdefault(times, []).append(day)
        parts = []
        for times, days in groups.items():
            parts.append(f"{_days_text(days)} {','.join(t.strftime('%H:%M') for t in times)}")
        return "; ".join(parts)


def _days_text(days: list[int]) -> str:
    runs: list[str] = []
    start = prev = days[0]
    for day in [*days[1:], None]:
        if day is not None and day == prev + 1:
            prev = day
            continue
        runs.append(DAYS[start] if start == prev else f"{DAYS[start]}-{DAYS[prev]}")
        if day is not None:
            start = prev = day
    return ",".join(runs)


def _parse_days(text: str, field: str) -> list[int]:
    days: list[int] = []
    for piece in text.lower().split(","):
        piece = piece.strip()
        if piece in _DAY_ALIASES:
            days.extend(_DAY_ALIASES[piece])
            continue
        first, sep, last = piece.partition("-")
        try:
            a = DAYS.index(first[:3]) if len(first) >= 3 else -1
            b = DAYS.index(last[:3]) if sep and len(last) >= 3 else a
        except ValueError:
            a = b = -1
        if a < 0 or b < 0:
            raise InvalidInput(
                f"{field}: {piece!r} is not a day; use mon…sun, a range such as mon-fri, "
                "or daily/weekdays/weekends"
            )
        days.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return days


def parse(spec: str, field: str = "SLOTS") -> WeeklySlots:
    """ "mon-fri 09:00,13:00; sat 10:30" → the slots of each weekday."""
    per_day: list[set[time]] = [set() for _ in DAYS]
    for group in spec.split(";"):
        group = group.strip()
        if not group:
            continue
        day_text, _, times_text = group.partition(" ")
        if not times_text.strip():
            raise InvalidInput(
                f"{field}: {group!r} needs days and times, e.g. 'mon-fri 09:00,13:00'"
            )
        days = _parse_days(day_text, field)
        for raw in times_text.replace(" ", "").split(","):
            match = _TIME.match(raw)
            if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
                raise InvalidInput(f"{field}: {raw!r} is not a time of day; use HH:MM, e.g. 09:30")
            slot = time(int(match.group(1)), int(match.group(2)))
            for day in days:
                per_day[day].add(slot)
    slots = WeeklySlots(tuple(tuple(sorted(times)) for times in per_day))
    if slots.empty:
        raise InvalidInput(f"{field}: no slots given; e.g. 'mon-fri 09:00,13:00; sat 10:30'")
    return slots


def to_instant(naive: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock time in `tz` as a UTC instant: a time the clocks skip becomes the
    first instant after the gap, a repeated time its first occurrence."""
    first = naive.replace(tzinfo=tz)  # fold=0: the earlier reading
    instant = first.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == naive:
        return instant
    # In a gap: fold=0 read the time with the offset before the jump, which lands
    # after it; fold=1 read it with the offset after, which lands before it. The
    # jump lies between; the first instant that exists after the time is the jump.
    low = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = instant
    offset_before = low.astimezone(tz).utcoffset()
    while high - low > timedelta(minutes=1):
        mid = (low + (high - low) / 2).replace(second=0, microsecond=0)
        if mid <= low:
            break
        if mid.astimezone(tz).utcoffset() == offset_before:
            low = mid
        else:
            high = mid
    return high


def instants(
    slots: WeeklySlots, tz: ZoneInfo, start: datetime, end: datetime
) -> Iterator[datetime]:
    """Every slot instant in [start, end), in order, each once (UTC)."""
    day: date = start.astimezone(tz).date() - timedelta(days=1)
    last: date = end.astimezone(tz).date() + timedelta(days=1)
    previous: datetime | None = None
    midnight = time()
    offset = datetime.combine(day, midnight, tzinfo=tz).utcoffset()
    while day <= last:
        times = slots.days[day.weekday()]
        following = day + timedelta(days=1)
        next_offset = datetime.combine(following, midnight, tzinfo=tz).utcoffset()
        # A day whose offset is the same at both ends has no DST change (the usual
        # case): its slots are the wall times less that offset. Otherwise each slot
        # goes through the DST rule.
        steady = offset == next_offset and offset is not None
        for slot in times:
            naive = datetime.combine(day, slot)
            if steady:
                assert offset is not None
                at = (naive - offset).replace(tzinfo=UTC)
            else:
                at = to_instant(naive, tz)
            if at < start or (previous is not None and at <= previous):
                continue
            if at >= end:
                return
            previous = at
            yield at
        day, offset = following, next_offset
