"""What the publishing machinery tells whoever measures it: named events with labels.

The domain calls `emit` at the moments worth counting (a platform call finished, a
token refresh, a periodic job ran); nothing listens unless a daemon serves metrics,
which adds a sink (`daemon/metrics.py`). So the domain never imports a metrics
library, and a command that measures nothing pays one empty loop per event.

Events (value, labels):
- `platform_call` (seconds; platform, result): one publish call.
- `publish` (1; platform, result): a destination's outcome (published, retrying,
  failed, needs_review, lost).
- `due_to_call` (seconds; platform): from a destination's due time to its call.
- `retry` (1; platform): a destination will be tried again.
- `token_refresh` (1; platform, result): ok | failed.
- `job_run` (seconds; job, result): a periodic job (analytics sync, billing …) ran.
"""

from __future__ import annotations

from collections.abc import Callable

Sink = Callable[[str, float, dict[str, str]], None]

_sinks: list[Sink] = []


def add_sink(sink: Sink) -> None:
    _sinks.append(sink)


def remove_sink(sink: Sink) -> None:
    if sink in _sinks:
        _sinks.remove(sink)


def emit(event: str, value: float = 1.0, **labels: str) -> None:
    """Tell every sink; a sink that fails never breaks the work it measures."""
    for sink in list(_sinks):
        try:
            sink(event, value, labels)
        except Exception:  # pragma: no cover - a broken sink is its own problem
            pass
