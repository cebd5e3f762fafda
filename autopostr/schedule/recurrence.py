"""Recurring series: --every 1w|2d|1m, an RFC 5545 RRULE, or a cron expression.

A rule is read in the series' zone from a local start time; its local wall-clock
times become instants with the slots' DST rule (a skipped time moves to the first
instant after the gap, a repeated one takes its first occurrence). `--until` and
`--count` end it. Each occurrence becomes a post of its own, created ahead by the
daemon (`series.py`); this module only says when.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from autopostr.errors import InvalidInput
from autopostr.schedule.slots import to_instant

KINDS = ("every", "rrule", "cron")
_EVERY = re.compile(r"^\s*(\d+)\s*([hdwmy])\s*$", re.IGNORECASE)
_EVERY_FREQ = {"h": "HOURLY", "d": "DAILY", "w": "WEEKLY", "m": "MONTHLY", "y": "YEARLY"}


@dataclass(frozen=True)
class Rule:
    kind: str  # one of KINDS
    expr: str  # "2d", "FREQ=WEEKLY;BYDAY=MO", "0 9 * * MON"
    zone: str
    start: datetime  # local wall-clock time (naive) the rule counts from
    until: datetime | None = None  # UTC, inclusive
    count: int | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)


def every_to_rrule(expr: str, field: str = "--every") -> str:
    match = _EVERY.match(expr)
    if not match or int(match.group(1)) <= 0:
        raise InvalidInput(
            f"{field}: {expr!r} is not an interval; use e.g. 1w, 2d, 12h, 1m (a month) or 1y"
        )
    return f"FREQ={_EVERY_FREQ[match.group(2).lower()]};INTERVAL={int(match.group(1))}"


def validate(rule: Rule, field: str) -> None:
    """Refuse a rule that cannot be read, before anything is stored."""
    if rule.kind not in KINDS:
        raise InvalidInput(f"{field}: unknown kind {rule.kind!r}")
    if rule.count is not None and rule.count <= 0:
        raise InvalidInput("--count: give a number of posts greater than zero")
    try:
        next(iter(_local_times(rule)), None)
    except InvalidInput:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"{field}: {rule.expr!r} cannot be read: {exc}") from None


def _rrule_text(rule: Rule) -> str:
    text = rule.expr.strip()
    if rule.kind == "every":
        return every_to_rrule(text)
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    for forbidden in ("DTSTART", "UNTIL", "COUNT"):
        if re.search(rf"(^|;){forbidden}=", text, re.IGNORECASE):
            raise InvalidInput(
                f"--rrule: leave {forbidden} out; use --at for the start, --until and --count"
            )
    return text


def _local_times(rule: Rule, skip_to: datetime | None = None) -> Iterator[datetime]:
    """The rule's wall-clock times from its start (or from `skip_to` on, when nothing
    counts them), in order, unbounded unless counted."""
    if rule.kind == "cron":
        from croniter import croniter

        if not croniter.is_valid(rule.expr):
            raise InvalidInput(
                f"--cron: {rule.expr!r} is not a cron expression; e.g. '0 9 * * MON'"
            )
        begin = max(rule.start, skip_to) if skip_to is not None else rule.start
        it = croniter(rule.expr, begin - timedelta(seconds=1))
        while True:
            yield it.get_next(datetime)
    else:
        from dateutil.rrule import rrulestr

        try:
            recurrence = rrulestr(_rrule_text(rule), dtstart=rule.start)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"--rrule: {rule.expr!r} cannot be read: {exc}") from None
        if skip_to is not None and skip_to > rule.start:
            yield from recurrence.xafter(skip_to, inc=True)
        else:
            yield from recurrence


def occurrences(rule: Rule, start: datetime, end: datetime) -> Iterator[datetime]:
    """The rule's instants in [start, end) (UTC), each once, honouring --until/--count."""
    tz = rule.tz
    produced = 0
    previous: datetime | None = None
    # Walk from the rule's own start: --count counts from there, whatever the window.
    local_end = end.astimezone(tz).replace(tzinfo=None) + timedelta(days=1)
    skip_to = None
    if rule.count is None:
        skip_to = start.astimezone(tz).replace(tzinfo=None) - timedelta(days=1)
    for local in _local_times(rule, skip_to):
        if rule.count is not None and produced >= rule.count:
            return
        produced += 1
        at = to_instant(local, tz)
        if rule.until is not None and at > rule.until:
            return
        if local > local_end:
            return
        if previous is not None and at <= previous:
            continue
        previous = at
        if start <= at < end:
            yield at


def first_after(
    rule: Rule, after: datetime, horizon: timedelta = timedelta(days=3660)
) -> datetime | None:
    return next(occurrences(rule, after, after + horizon), None)


def local_start(at: datetime, tz: ZoneInfo) -> datetime:
    """The naive wall-clock time a rule counts from, from a UTC instant."""
    return at.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)
