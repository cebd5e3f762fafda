"""Event hooks: tell a command or a URL when a destination is published, fails or needs review.

`AUTOPOSTR_ON_EVENT` is either an http(s) URL, which receives the event as a
JSON POST, or a command, run with the JSON event on stdin. A hook that fails
is logged and never changes what was published.
"""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
from typing import Any

from autopostr.config import Settings
from autopostr.states import HOOK_EVENTS

log = logging.getLogger("autopostr.hooks")
EVENTS = HOOK_EVENTS
HOOK_TIMEOUT_SECONDS = 10.0


class Dispatcher:
    """Delivers a daemon's events in order on a thread of their own, so a slow hook
    (up to its 10 s timeout) never holds a publishing slot."""

    def __init__(self) -> None:
        import queue
        import threading

        self._events: queue.SimpleQueue[tuple[Settings, dict[str, Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="hooks", daemon=True)
        self._thread.start()

    def put(self, settings: Settings, event: dict[str, Any]) -> None:
        self._events.put((settings, event))

    def close(self, timeout: float) -> None:
        """Deliver what is queued, for at most `timeout` seconds."""
        self._events.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._events.get()) is not None:
            deliver(*item)


_dispatcher: Dispatcher | None = None


def start_background_delivery() -> None:
    """From now on `emit` queues events for a background thread (the daemon)."""
    global _dispatcher
    if _dispatcher is None:
        _dispatcher = Dispatcher()


def stop_background_delivery(timeout: float = 30.0) -> None:
    global _dispatcher
    dispatcher, _dispatcher = _dispatcher, None
    if dispatcher is not None:
        dispatcher.close(timeout)


def emit(settings: Settings, event: dict[str, Any]) -> bool:
    """Deliver one event now, or queue it in a daemon; False when the hook refused it."""
    target = (settings.get("on_event") or "").strip()
    if not target or event.get("event") not in EVENTS:
        return True
    dispatcher = _dispatcher
    if dispatcher is not None:
        dispatcher.put(settings, event)
        return True
    return deliver(settings, event)


def deliver(settings: Settings, event: dict[str, Any]) -> bool:
    """Run the hook for one event; True when it accepted it."""
    target = (settings.get("on_event") or "").strip()
    body = json.dumps(event, default=str, sort_keys=True)
    try:
        if target.startswith(("http://", "https://")):
            import httpx2

            response = httpx2.post(
                target,
                content=body,
                headers={"Content-Type": "application/json", "User-Agent": "autopostr"},
                timeout=HOOK_TIMEOUT_SECONDS,
            )
            if response.status_code >= 400:
                log.warning("event hook %s answered %s", _where(target), response.status_code)
                return False
            return True
        completed = subprocess.run(
            shlex.split(target),
            input=body,
            text=True,
            capture_output=True,
            timeout=HOOK_TIMEOUT_SECONDS,
            check=False,
        )
        if completed.returncode != 0:
            log.warning(
                "event hook command exited %s: %s",
                completed.returncode,
                completed.stderr.strip()[:200],
            )
            return False
        return True
    except Exception as exc:  # a broken hook must never break publishing
        # The type only: messages of HTTP errors carry the URL, whose path may hold a token.
        log.warning("event hook %s failed: %s", _where(target), type(exc).__name__)
        return False


def _where(target: str) -> str:
    """A hook named without what may be secret in it (Slack-style URLs carry a token in
    their path, commands may carry one in their arguments)."""
    if target.startswith(("http://", "https://")):
        from urllib.parse import urlsplit

        parts = urlsplit(target)
        return f"{parts.scheme}://{parts.hostname or ''}"
    words = shlex.split(target)
    return words[0] if words else "command"
