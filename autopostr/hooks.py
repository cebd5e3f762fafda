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

log = logging.getLogger("autopostr.hooks")
EVENTS = ("published", "failed", "needs_review")
HOOK_TIMEOUT_SECONDS = 10.0


def emit(settings: Settings, event: dict[str, Any]) -> bool:
    """Deliver one event; True when the hook accepted it (or there is no hook)."""
    target = (settings.get("on_event") or "").strip()
    if not target or event.get("event") not in EVENTS:
        return True
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
