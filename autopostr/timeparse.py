"""Durations people type: 90m, 12h, 30d, 2w."""

from __future__ import annotations

import re
from datetime import timedelta

from autopostr.errors import InvalidInput

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_duration(text: str, field: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        raise InvalidInput(f"{field}: {text!r} is not a duration; use e.g. 90m, 12h, 30d or 2w")
    amount, unit = int(match.group(1)), match.group(2).lower()
    if amount <= 0:
        raise InvalidInput(f"{field}: the duration must be greater than zero")
    return timedelta(**{_UNITS[unit]: amount})
