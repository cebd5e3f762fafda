"""HTTP plumbing shared by the adapters: one client stack (httpx2), and one place that
turns status codes and rate-limit headers into retryable or permanent errors.
"""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from autopostr.config import Settings
from autopostr.platforms.base import AuthExpired, PermanentError, TransientError

if TYPE_CHECKING:
    import httpx2

DEFAULT_TIMEOUT = 30.0
USER_AGENT = "autopostr"

# URLs that are credentials (webhooks): httpx2 logs every request's URL at INFO, so
# its log records show them only as `redacted_url` does.
_secret_urls: set[str] = set()
_secret_urls_lock = threading.Lock()


def redacted_url(url: str) -> str:
    """A URL with only its scheme and host: the path and query may hold a token."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}/…"


def hide(text: str, secret_url: str) -> str:
    """`text` with `secret_url` in it shown as `redacted_url` (an error message, say)."""
    return text.replace(secret_url, redacted_url(secret_url)) if secret_url else text


class _HideSecretUrls(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        with _secret_urls_lock:
            secrets = sorted(_secret_urls, key=len, reverse=True)
        if not secrets or not isinstance(record.args, tuple):
            return True
        args = []
        for arg in record.args:
            text = str(arg)
            for url in secrets:
                if url in text:
                    text = hide(text, url)
                    arg = text
            args.append(arg)
        record.args = tuple(args)
        return True


def keep_out_of_logs(url: str) -> None:
    """Show `url` in httpx2's request log lines as `redacted_url` does."""
    import httpx2

    with _secret_urls_lock:
        if not _secret_urls:
            logging.getLogger("httpx2").addFilter(_HideSecretUrls())
        # As written and as httpx2 prints it (host lower-cased, characters escaped).
        _secret_urls.update({url, str(httpx2.URL(url))})


def timeout_seconds(settings: Settings) -> float:
    raw = settings.get("http_timeout")
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        from autopostr.errors import ConfigError

        raise ConfigError(f"AUTOPOSTR_HTTP_TIMEOUT: {raw!r} is not a number of seconds") from None


def make_client(
    settings: Settings, base_url: str = "", headers: dict[str, str] | None = None
) -> httpx2.Client:
    import httpx2

    return httpx2.Client(
        base_url=base_url,
        timeout=timeout_seconds(settings),
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        follow_redirects=False,
    )


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def retry_after(headers: Any, now: float | None = None) -> float | None:
    """Seconds to wait, from Retry-After or any of the platforms' rate-limit reset headers."""
    now = time.time() if now is None else now
    value = headers.get("retry-after")
    if value:
        seconds = _number(value)
        if seconds is not None:
            return max(0.0, seconds)
        parsed = email.utils.parsedate_to_datetime(value)
        if parsed is not None:
            return max(0.0, parsed.timestamp() - now)
    # X: epoch seconds; Mastodon: ISO timestamp; draft-polli RateLimit-Reset: delta seconds.
    for name in ("x-rate-limit-reset", "x-ratelimit-reset"):
        value = headers.get(name)
        if value:
            seconds = _number(value)
            if seconds is not None:
                return max(0.0, seconds - now) if seconds > 1e9 else max(0.0, seconds)
            try:
                return max(
                    0.0, datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() - now
                )
            except ValueError:
                continue
    value = headers.get("ratelimit-reset")
    if value:
        seconds = _number(value)
        if seconds is not None:
            # The draft says delta seconds; Bluesky sends an epoch: tell them apart by size.
            return max(0.0, seconds - now) if seconds > 1e9 else max(0.0, seconds)
    return None


def error_message(response: httpx2.Response) -> str:
    """The platform's own words, from the JSON error shapes the platforms use."""
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError):
        text = response.text.strip()
        return text[:300] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error.get("error_user_msg") or error)
        if isinstance(error, str):
            message = body.get("message") or body.get("error_description")
            return f"{error}: {message}" if message else error
        for key in ("message", "detail", "title"):
            if body.get(key):
                return str(body[key])
    return json.dumps(body)[:300]


def raise_for_status(response: httpx2.Response, title: str, *, creates: bool = False) -> None:
    """The PlatformError an error status means. `creates`: the request makes a post, and
    a 5xx can come after the platform made it (a proxy giving up on a slow server), so
    the next attempt asks the platform before sending again."""
    status = response.status_code
    if status < 400:
        return
    message = f"{title} answered {status}: {error_message(response)}"
    if status == 429 or status >= 500 or status == 408:
        raise TransientError(
            message,
            retry_after=retry_after(response.headers),
            maybe_sent=creates and status >= 500,
        )
    if status == 401:
        raise AuthExpired(message)
    raise PermanentError(message)


def send(
    client: httpx2.Client,
    method: str,
    url: str,
    title: str,
    *,
    shown: str | None = None,
    maybe_sent: bool = True,
    check_status: bool = True,
    creates: bool = False,
    **kwargs: Any,
) -> httpx2.Response:
    """One request; network trouble and timeouts become TransientError, and error
    statuses the PlatformError they mean unless the caller reads them itself
    (`check_status=False`).

    `maybe_sent` marks failures after the request may have arrived, so the next
    attempt asks the platform before sending again; `creates` does the same for a 5xx
    answer (see `raise_for_status`); `shown` names the call in messages (default:
    method and URL).
    """
    import httpx2

    try:
        response = client.request(method, url, **kwargs)
    except (httpx2.ConnectError, httpx2.ConnectTimeout) as exc:
        raise TransientError(f"cannot reach {title}: {exc}") from None
    except httpx2.TimeoutException:
        raise TransientError(
            f"{title} did not answer in time ({shown or f'{method} {url}'})",
            maybe_sent=maybe_sent,
        ) from None
    except httpx2.TransportError as exc:
        raise TransientError(
            f"{title}: connection failed mid-request ({exc})", maybe_sent=maybe_sent
        ) from None
    if check_status:
        raise_for_status(response, title, creates=creates)
    return response
