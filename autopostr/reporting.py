"""Error reporting to Sentry: unexpected exceptions, with the logs' context, scrubbed.

Active only when `SENTRY_DSN` is set and the optional extra is installed
(`pip install 'autopostr[sentry]'`); without the extra the setting is a doctor warning,
never a crash. `sentry_sdk` is imported only here and only then, so no command pays
for it otherwise.

Every event passes `scrub` before it leaves: each string in it goes through the same
redaction as the logs (known secret values, credentials after their names, bearer
tokens, URL passwords), request data and local variables are never attached.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from autopostr import logsetup

DSN_VARIABLE = "SENTRY_DSN"

_lock = threading.Lock()
_state: dict[str, bool] = {}


def dsn() -> str | None:
    return os.environ.get(DSN_VARIABLE) or None


def extra_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("sentry_sdk") is not None


def scrub(value: Any) -> Any:
    """A copy of an event (any JSON-like value) with every string redacted."""
    if isinstance(value, str):
        return logsetup.REDACT(value)
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def _before_send(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    event.pop("request", None)
    return scrub(event)  # type: ignore[no-any-return]


def init(component: str) -> bool:
    """Start reporting (once per process) when SENTRY_DSN is set and the extra is there.

    `component` (cli, daemon) is a tag on every event."""
    with _lock:
        if "on" in _state:
            return _state["on"]
        address = dsn()
        if not address or not extra_installed():
            _state["on"] = False
            return False
        import sentry_sdk

        from autopostr import __version__

        logsetup.REDACT.add(address)
        sentry_sdk.init(
            dsn=address,
            release=f"autopostr@{__version__}",
            environment=os.environ.get("SENTRY_ENVIRONMENT") or "production",
            # Only what we report ourselves: no hooks into logging, threads or HTTP clients,
            # no local variables, no personal data.
            default_integrations=False,
            auto_enabling_integrations=False,
            include_local_variables=False,
            send_default_pii=False,
            before_send=_before_send,  # type: ignore[arg-type]
        )
        sentry_sdk.set_tag("component", component)
        _state["on"] = True
        return True


def report(exc: BaseException, component: str = "daemon") -> None:
    """Send an unexpected exception with the context the logs carry here; never raises."""
    try:
        if not init(component):
            return
        import sentry_sdk

        fields = logsetup.current_context()
        with sentry_sdk.new_scope() as scope:
            for key, value in fields.items():
                scope.set_tag(key, str(value))
            scope.set_context("autopostr", fields)
            sentry_sdk.capture_exception(exc)
    except Exception:  # reporting must never be why something else fails
        pass


def flush(timeout: float = 2.0) -> None:
    """Wait (a little) for queued events: before a command exits."""
    if _state.get("on"):
        import sentry_sdk

        sentry_sdk.flush(timeout=timeout)
