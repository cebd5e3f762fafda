"""Times and durations people type: 2026-12-01T09:00, '2026-12-01 09:00', +90m, 30d.

Times are stored in UTC; a wall-clock time is read in a zone and refused when
DST makes it nonexistent or ambiguous, naming both readings. They are written
out one way (`iso`): ISO 8601 in UTC, with its offset.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from autopostr.errors import InvalidInput

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def parse_duration(text: str, field: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        raise InvalidInput(f"{field}: {text!r} is not a duration; use e.g. 90m, 12h, 30d or 2w")
    amount, unit = int(match.group(1)), match.group(2).lower()
    if amount <= 0:
        raise InvalidInput(f"{field}: the duration must be greater than zero")
    return timedelta(**{_UNITS[unit]: amount})


_RELATIVE = re.compile(r"^\s*\+\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")


# Zone abbreviations people type, and the IANA zone they usually mean. Those zoneinfo
# knows (EST, MST, HST, CET, EET, WET, MET) are fixed offsets or one country's rules,
# which puts a New York summer post an hour off: say so, and name the zone to use.
ABBREVIATIONS = {
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "CST": "America/Chicago",
    "CDT": "America/Chicago",
    "MST": "America/Denver",
    "MDT": "America/Denver",
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "HST": "Pacific/Honolulu",
    "CET": "Europe/Berlin",
    "CEST": "Europe/Berlin",
    "MET": "Europe/Berlin",
    "EET": "Europe/Athens",
    "EEST": "Europe/Athens",
    "WET": "Europe/Lisbon",
    "WEST": "Europe/Lisbon",
    "BST": "Europe/London",
    "IST": "Asia/Kolkata",
}


def abbreviation_warning(name: str, field: str) -> str | None:
    """A warning for a zone given as an abbreviation (`EST`), naming the IANA zone."""
    suggested = ABBREVIATIONS.get(name.strip().upper())
    if suggested is None:
        return None
    return (
        f"{field}: {name.strip()} is an abbreviation, a fixed offset that is an hour off "
        f"half the year; use an IANA name such as {suggested}"
    )


def zone(name: str, field: str = "--tz") -> ZoneInfo:
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        suggested = ABBREVIATIONS.get(name.strip().upper())
        example = suggested or "Europe/Berlin or UTC"
        raise InvalidInput(
            f"{field}: {name!r} is not a time zone; use an IANA name such as {example}"
        ) from None


def system_zone_name() -> str:
    """The machine's zone name (DST-aware), falling back to UTC."""
    import os

    tz = os.environ.get("TZ", "").lstrip(":")
    if tz:
        return tz
    try:
        target = os.path.realpath("/etc/localtime")
        marker = "/zoneinfo/"
        if marker in target:
            return target.split(marker, 1)[1]
    except OSError:
        pass
    return "UTC"


def _describe(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local.isoformat(timespec='minutes')} ({local.tzname()})"


def localize(naive: datetime, tz: ZoneInfo, field: str) -> datetime:
    """Attach a zone to a wall-clock time, refusing times that do not exist or occur twice."""
    earlier = naive.replace(tzinfo=tz, fold=0)
    later = naive.replace(tzinfo=tz, fold=1)
    if earlier.utcoffset() == later.utcoffset():
        return earlier.astimezone(UTC)
    shown = naive.isoformat(sep=" ", timespec="minutes")
    a = earlier.astimezone(UTC)
    b = later.astimezone(UTC)
    round_trip = a.astimezone(tz).replace(tzinfo=None)
    if round_trip != naive:
        # In a gap both folds map to real instants on either side of the jump.
        first, second = sorted((a, b))
        raise InvalidInput(
            f"{field}: {shown} does not exist in {tz.key} (the clocks skip it); "
            f"did you mean {_describe(first, tz)} or {_describe(second, tz)}? "
            "Give the time with its offset to choose"
        )
    raise InvalidInput(
        f"{field}: {shown} happens twice in {tz.key} (the clocks go back); "
        f"use {naive.replace(tzinfo=tz, fold=0).isoformat(timespec='minutes')} for the first "
        f"or {naive.replace(tzinfo=tz, fold=1).isoformat(timespec='minutes')} for the second"
    )


def parse_when(text: str, tz_name: str, now: datetime, field: str = "--at") -> datetime:
    """A moment in UTC from ISO 8601, a local date-time in `tz_name`, or +90m/+2h/+1d."""
    raw = text.strip()
    if not raw:
        raise InvalidInput(
            f"{field}: give a time such as 2026-12-01T09:00, '2026-12-01 09:00' or +2h"
        )
    relative = _RELATIVE.match(raw)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2).lower()
        return (now + timedelta(**{_UNITS[unit]: amount})).astimezone(UTC).replace(microsecond=0)
    candidate = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        parsed = None
        for fmt in _LOCAL_FORMATS:
            try:
                parsed = datetime.strptime(raw, fmt)
                break
            except ValueError:
                continue
    if parsed is None or (len(raw) <= 10 and "T" not in raw and " " not in raw):
        hint = ""
        if "/" in raw or "." in raw[:6]:
            hint = "; for a spreadsheet's dates give --date-format, e.g. '%m/%d/%Y %H:%M'"
        raise InvalidInput(
            f"{field}: {raw!r} is not a time; use ISO 8601 (2026-12-01T09:00 or "
            f"2026-12-01T09:00+01:00), '2026-12-01 09:00', or +90m/+2h/+1d{hint}"
        )
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    return localize(parsed, zone(tz_name), field)


def parse_with_format(
    text: str, date_format: str, tz_name: str, now: datetime, field: str
) -> datetime:
    """A spreadsheet's date (`03/22/2027 9:00 PM`) read with an explicit strftime format
    in `tz_name`; ISO 8601 and +2h are still understood. Nothing is guessed."""
    raw = text.strip()
    try:
        parsed = datetime.strptime(raw, date_format)
    except ValueError:
        try:
            return parse_when(raw, tz_name, now, field)
        except InvalidInput:
            raise InvalidInput(
                f"{field}: {raw!r} does not match --date-format {date_format} "
                f"(today would be {now.astimezone(zone(tz_name)).strftime(date_format)})"
            ) from None
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    return localize(parsed, zone(tz_name), field)


def default_zone_name(configured: str | None, user_zone: str | None) -> str:
    """--tz's default: the configured zone, else the user's, else the machine's."""
    return configured or user_zone or system_zone_name()


def describe_duration(seconds: float) -> str:
    """`3h 5m`, `2d 4h`, `45s`: a duration as people say it, to two units."""
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = [(days, "d"), (hours, "h"), (minutes, "m")]
    shown = [f"{n}{unit}" for n, unit in units if n][:2]
    return " ".join(shown) if shown else f"{secs}s"
