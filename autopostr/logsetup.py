"""Logging for operators: text or one JSON object per line, context on every line, secrets
redacted by one filter that every handler carries, and an optional rotating file.

Built on the standard library: `logging` with a `json.dumps` formatter. A JSON line
holds `ts`, `level`, `logger`, `message`, the context keys that apply (`daemon`, `team`,
`post`, `destination`, `account`, `platform`, `attempt`, `duration_ms`) and `exc` for
a traceback. Context comes from `context(...)` (a context variable, so each publish
worker thread carries its own), from `bind(...)` (the whole process: the daemon's
id), or from `extra={...}` on one call.

Settings: AUTOPOSTR_LOG_FORMAT (text | json), AUTOPOSTR_LOG_FILE (also write there,
rotated by size), AUTOPOSTR_LOG_FILE_MAX_BYTES, AUTOPOSTR_LOG_FILE_BACKUPS.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any

from autopostr.config import Settings, is_secret

CONTEXT_KEYS = (
    "daemon",
    "team",
    "post",
    "destination",
    "account",
    "platform",
    "attempt",
    "duration_ms",
)
FORMATS = ("text", "json")
DEFAULT_FILE_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_FILE_BACKUPS = 5
REDACTED = "[redacted]"

_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("log_context")
_process: dict[str, Any] = {}
_installed: list[logging.Handler] = []

# Shapes a secret takes in a message, whatever its value: a credential after its name
# (`access_token=…`, `"client_secret": "…"`), an Authorization scheme, a password in a
# URL, our own personal access and session tokens. Each: (before)(secret)(after).
_PATTERNS = (
    re.compile(r"(?i)(\b(?:bearer|basic)\s+)([A-Za-z0-9._~+/=-]{8,})()"),
    re.compile(
        r"(?i)((?:access|refresh|id|api|auth|client|session)?[_-]?"
        r"(?:token|secret|password|passwd|api[_-]?key|key|dsn|authorization)"
        r"[\"']?\s*[:=]\s*[\"']?)([^\s\"'&,;}]{4,})()"
    ),
    re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/\s@]+:)([^@\s/]+)(@)"),
    re.compile(r"(\b)(ap[st]_[A-Za-z0-9_-]{16,})()"),
)
# What every one of those shapes contains: text without any is left alone after one
# search, not four substitutions (a daemon logs a line or two per publish).
_MAYBE_SECRET = re.compile(r"(?i)bearer|basic|token|secret|passw|key|dsn|authorization|://|ap[st]_")


class Redactor:
    """Known secret values (from the settings and the environment) and secret-shaped text."""

    def __init__(self) -> None:
        self.values: set[str] = set()
        self._longest_first: tuple[str, ...] = ()

    def add(self, value: str | None) -> None:
        if value and len(value) >= 6 and value not in self.values:
            self.values.add(value)
            self._longest_first = tuple(sorted(self.values, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for value in self._longest_first:
            if value in text:
                text = text.replace(value, REDACTED)
        if _MAYBE_SECRET.search(text) is None:
            return text
        for pattern in _PATTERNS:
            text = pattern.sub(rf"\g<1>{REDACTED}\g<3>", text)
        return text


REDACT = Redactor()


class RedactFilter(logging.Filter):
    """The one filter every handler carries: the message, its arguments, the traceback and
    string context values leave with secrets replaced by `[redacted]`."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is
            message = str(record.msg)
        record.msg, record.args = REDACT(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = REDACT(record.exc_text)
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if isinstance(value, str):
                setattr(record, key, REDACT(value))
        return True


def context_of(record: logging.LogRecord) -> dict[str, Any]:
    """The context keys that apply to a record: process-wide, then the current context,
    then the call's own `extra`."""
    fields: dict[str, Any] = {**_process, **_context.get({})}
    for key in CONTEXT_KEYS:
        value = getattr(record, key, None)
        if value is not None:
            fields[key] = value
    return {k: v for k, v in fields.items() if v is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per line (`json.dumps`, never hand-built)."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **context_of(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            document["exc"] = record.exc_text
        return json.dumps(document, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`2026-12-02 10:00:00,000 INFO autopostr.daemon: message [post=3 account=x:@a]`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = context_of(record)
        fields.pop("daemon", None)  # one per process: in the start-up line, not every line
        if not fields:
            return line
        first, _, rest = line.partition("\n")
        tail = " ".join(f"{k}={v}" for k, v in fields.items())
        return f"{first} [{tail}]" + (f"\n{rest}" if rest else "")


@contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Context keys for every line logged inside (in this thread or task)."""
    token = _context.set({**_context.get({}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Context keys for every line of this process (the daemon's id)."""
    _process.update(fields)


def current_context() -> dict[str, Any]:
    """The context keys in force here (for error reports that carry the same context)."""
    return {k: v for k, v in {**_process, **_context.get({})}.items() if v is not None}


def reset() -> None:
    """Remove the handlers `configure` installed (and the process-wide context)."""
    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed.clear()
    _process.clear()
    logging.getLogger("autopostr").setLevel(logging.NOTSET)


def log_format(settings: Settings, override: str | None = None) -> str:
    from autopostr.errors import ConfigError

    chosen = (override or settings.get("log_format") or "text").strip().lower()
    if chosen not in FORMATS:
        raise ConfigError(
            f"log format {chosen!r} is not one of {', '.join(FORMATS)}: "
            "set AUTOPOSTR_LOG_FORMAT (or --log-format) to text or json"
        )
    return chosen


def learn_secrets(settings: Settings, environ: dict[str, str] | None = None) -> None:
    """Every secret the settings and the environment hold, so that no line can show it."""
    for name, resolved in settings.items():
        if is_secret(name):
            REDACT.add(resolved.value)
    env = os.environ if environ is None else environ
    for name in ("SENTRY_DSN", "OPENAI_API_KEY"):
        REDACT.add(env.get(name))


def configure(
    settings: Settings,
    *,
    fmt: str | None = None,
    level: int = logging.INFO,
    stream: IO[str] | None = None,
    stream_level: int | None = None,
) -> str:
    """Install autopostr's handlers on the root logger (again: replacing its own earlier
    ones): stderr (from `stream_level`, default `level`) and AUTOPOSTR_LOG_FILE when set.
    Returns the format in use."""
    chosen = log_format(settings, fmt)
    learn_secrets(settings)
    reset()
    root = logging.getLogger()
    formatter: logging.Formatter = JsonFormatter() if chosen == "json" else TextFormatter()
    redact = RedactFilter()
    to_stream = logging.StreamHandler(stream or sys.stderr)
    to_stream.setLevel(stream_level or level)
    handlers: list[logging.Handler] = [to_stream]
    path = settings.get("log_file")
    if path:
        from logging.handlers import RotatingFileHandler
        from pathlib import Path

        target = Path(path).expanduser()
        target.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            RotatingFileHandler(
                target,
                maxBytes=settings.size("log_file_max_bytes", DEFAULT_FILE_MAX_BYTES),
                backupCount=settings.integer("log_file_backups", DEFAULT_FILE_BACKUPS),
                encoding="utf-8",
            )
        )
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(redact)
        root.addHandler(handler)
        _installed.append(handler)
    # Our own loggers at `level`; the root (libraries) stays at its WARNING, so that no
    # client library's request lines (URLs that may carry a webhook's token) are written.
    logging.getLogger("autopostr").setLevel(level)
    return chosen
