"""HTTP plumbing shared by the adapters: one client stack (httpx2), one place that
turns status codes and rate-limit headers into retryable or permanent errors (and
decides when a failed request may have posted), and one loop that waits for media
to be processed.
"""

from __future__ import annotations

import email.utils
import enum
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from autopostr.config import Settings
from autopostr.platforms.base import (
    AuthExpired,
    PermanentError,
    Platform,
    PlatformError,
    Processing,
    TransientError,
)

if TYPE_CHECKING:
    import httpx2

S = TypeVar("S")
R = TypeVar("R")

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
    return settings.seconds("http_timeout", DEFAULT_TIMEOUT)


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


def may_have_posted(status: int, *, creates: bool, server_failed: bool = False) -> bool:
    """Whether an error answer to a request may hide a post that went out: only a request
    that makes one (`creates`), and only when the server failed while handling it (a
    5xx, or a failure the platform reports in its body: `server_failed`), which can come
    after the post was made (a proxy giving up on a slow server). Then the next attempt
    asks the platform before sending again. A 429 is a refusal: nothing was made."""
    return creates and status != 429 and (status >= 500 or server_failed)


def raise_for_status(
    response: httpx2.Response,
    title: str,
    *,
    creates: bool = False,
    refusal: Callable[[httpx2.Response], PlatformError | None] | None = None,
) -> None:
    """The PlatformError an error status means. `creates`: the request makes a post (see
    `may_have_posted`). `refusal` reads the platform's own error body first, for
    platforms whose body says more than the status (Graph); None leaves it to the status.
    """
    status = response.status_code
    if status < 400:
        return
    error = refusal(response) if refusal is not None else None
    if error is not None:
        raise error
    message = f"{title} answered {status}: {error_message(response)}"
    if status == 429 or status >= 500 or status == 408:
        raise TransientError(
            message,
            retry_after=retry_after(response.headers),
            maybe_sent=may_have_posted(status, creates=creates),
        )
    if status == 401:
        raise AuthExpired(message)
    raise PermanentError(message)


# Longest a call waits for a rate-limit window to reset; a longer wait is a retry later
# (the destination holds no slot meanwhile), with nothing sent.
PACE_MAX_WAIT = 10.0


class Pacer:
    """What each platform said of its rate limit (remaining calls, when the window
    resets), per host, credential, method and path: the next calls share what remains,
    so a burst waits for the reset instead of running into 429s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._left: dict[tuple[str, ...], tuple[int, float]] = {}  # key -> (left, reset)

    @staticmethod
    def key(client: Any, method: str, url: str, kwargs: dict[str, Any]) -> tuple[str, ...]:
        import hashlib

        full = client.build_request(method, url).url if hasattr(client, "build_request") else url
        headers = {**dict(getattr(client, "headers", {}) or {}), **(kwargs.get("headers") or {})}
        auth = next((str(v) for k, v in headers.items() if k.lower() == "authorization"), "")
        who = hashlib.sha256(auth.encode()).hexdigest()[:16] if auth else ""
        return (
            f"{getattr(full, 'host', '')}:{getattr(full, 'port', '')}",
            who,
            method.upper(),
            str(getattr(full, "path", url)),
        )

    def take(self, key: tuple[str, ...], title: str, now: float | None = None) -> float:
        """Reserve a call: the seconds to wait before it (0: go); raises TransientError,
        nothing sent, when the window resets later than PACE_MAX_WAIT."""
        now = time.time() if now is None else now
        with self._lock:
            found = self._left.get(key)
            if found is None:
                return 0.0
            left, reset = found
            if reset <= now:
                del self._left[key]
                return 0.0
            if left > 0:
                self._left[key] = (left - 1, reset)
                return 0.0
            wait = reset - now
            if wait > PACE_MAX_WAIT:
                raise TransientError(
                    f"{title}'s rate limit is used up until it resets in {wait:.0f} s",
                    retry_after=wait,
                )
            # Past the reset the window is new: this call is the first of it.
            del self._left[key]
            return wait

    def observe(self, key: tuple[str, ...], headers: Any, now: float | None = None) -> None:
        """Remember what a response said of the limit."""
        now = time.time() if now is None else now
        raw = next(
            (
                headers.get(name)
                for name in (
                    "x-rate-limit-remaining",
                    "x-ratelimit-remaining",
                    "ratelimit-remaining",
                )
                if headers.get(name)
            ),
            None,
        )
        left = _number(raw) if raw else None
        if left is None:
            return
        seconds = retry_after(headers, now)
        if seconds is None:
            return
        with self._lock:
            self._left[key] = (int(left), now + seconds)


PACER = Pacer()


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
    refusal: Callable[[httpx2.Response], PlatformError | None] | None = None,
    **kwargs: Any,
) -> httpx2.Response:
    """One request; network trouble and timeouts become TransientError, and error
    statuses the PlatformError they mean unless the caller reads them itself
    (`check_status=False`).

    `maybe_sent` marks failures after the request may have arrived, so the next
    attempt asks the platform before sending again; `creates` does the same for a 5xx
    answer, and `refusal` reads the platform's error bodies (see `raise_for_status`);
    `shown` names the call in messages (default: method and URL).
    """
    import httpx2

    key = Pacer.key(client, method, url, kwargs)
    wait = PACER.take(key, title)
    if wait:
        time.sleep(wait)
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
    if response.status_code < 400:  # a refusal carries its own retry time already
        PACER.observe(key, response.headers)
    if check_status:
        raise_for_status(response, title, creates=creates, refusal=refusal)
    return response


class StillProcessing(TransientError):
    """The platform was still processing media when our wait ran out; `last` is what it
    said last."""

    def __init__(self, message: str, *, retry_after: float | None, last: object) -> None:
        super().__init__(message, retry_after=retry_after)
        self.last = last


class _Unset(enum.Enum):
    UNSET = 0


# A call waits on the platform's processing itself this long; past it, a publish that
# can be carried on later (`resume=`) hands the wait to the daemon (`Processing`).
INLINE_WAIT_SECONDS = 2.0
PROCESSING_SINCE = "processing_since"  # in a resume state: when the processing began


def poll_until(
    platform: Platform,
    finished: Callable[[S], R | None],
    read: Callable[[], S],
    *,
    what: str,
    wait: float,
    every: float,
    first: S | _Unset = _Unset.UNSET,
    hint: Callable[[S], Any] | None = None,
    retry_after: float | None = None,
    resume: dict[str, Any] | None = None,
) -> R:
    """Ask the platform (`read`) until `finished` gives a result; `finished` raises when
    processing failed, and a wait that runs out is StillProcessing ("… was still
    processing `what` after N s").

    The wait and the pause between asks are the platform's `<name>_media_wait_seconds`
    and `<name>_media_poll_seconds`, `wait` and `every` when unset; `hint` reads the
    pause the platform suggests, used unless the setting is made. `first` is what the
    platform said already (the upload's answer), looked at before asking.

    With `resume` (what the adapter's `resume` needs to carry on, JSON-able), the call
    waits at most INLINE_WAIT_SECONDS itself, then raises Processing with it: the daemon
    comes back after the next pause holding no slot. The wait counts from when the
    processing began (`resume["processing_since"]`, kept across hand-overs).
    """
    settings, name = platform.settings, platform.name
    patience = settings.seconds(f"{name}_media_wait_seconds", wait)
    pause = settings.seconds(f"{name}_media_poll_seconds", every)
    hinted = hint if not settings.get(f"{name}_media_poll_seconds") else None
    since = float((resume or {}).get(PROCESSING_SINCE) or time.time())
    inline_until = time.monotonic() + INLINE_WAIT_SECONDS
    state = read() if isinstance(first, _Unset) else first
    while True:
        result = finished(state)
        if result is not None:
            return result
        if time.time() - since >= patience:
            raise StillProcessing(
                f"{platform.title} was still processing {what} after {patience:g} s",
                retry_after=retry_after,
                last=state,
            )
        suggested = _number(str(hinted(state))) if hinted is not None else None
        next_ask = suggested or pause
        if resume is not None and time.monotonic() + next_ask > inline_until:
            raise Processing(what, {**resume, PROCESSING_SINCE: since}, check_after=next_ask)
        time.sleep(next_ask)
        state = read()
