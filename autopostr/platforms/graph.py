"""Graph API pieces the Facebook and Instagram adapters share.

Both sign in with Facebook Login, so both meet the same error bodies (whose `code`
matters more than the HTTP status: throttling and refused tokens come back as 400),
the same usage headers, the same page listings and the same long-lived tokens.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autopostr.platforms.base import (
    AuthExpired,
    PermanentError,
    PlatformError,
    TransientError,
)
from autopostr.platforms.http import retry_after

if TYPE_CHECKING:
    import httpx2

# Throttling (app, user, page, custom rate, Pages business use case), temporary
# trouble, and a token Facebook no longer accepts.
THROTTLE_CODES = frozenset({4, 17, 32, 613, 80001})
TEMPORARY_CODES = frozenset({1, 2})
TOKEN_CODES = frozenset({102, 190})
# Listings come 100 pages at a time: 5000 pages is more than any login manages.
MAX_PAGE_LISTINGS = 50


class GraphError(PermanentError):
    """A Graph refusal that retrying cannot fix, with its codes kept for callers."""

    def __init__(self, message: str, *, code: int | None, subcode: int | None) -> None:
        super().__init__(message)
        self.code = code
        self.subcode = subcode


@dataclass(frozen=True)
class ErrorBody:
    """The `error` object of a Graph answer."""

    code: int | None
    subcode: int | None
    message: str
    user_message: str
    transient: bool
    trace_id: str

    def describe(self) -> str:
        """Graph's words, then the codes and trace id Meta's support asks for."""
        text = self.message or "no message"
        if self.user_message and self.user_message != self.message:
            text += f" ({self.user_message})"
        reference = [f"code {self.code}"] if self.code is not None else []
        if self.subcode:
            reference.append(f"subcode {self.subcode}")
        if self.trace_id:
            reference.append(f"fbtrace_id {self.trace_id}")
        return f"{text} ({', '.join(reference)})" if reference else text


def read_error(response: httpx2.Response) -> ErrorBody | None:
    """The Graph error in an answer, or None when the body is not Graph's shape."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    return ErrorBody(
        code=to_int(error.get("code")),
        subcode=to_int(error.get("error_subcode")),
        message=str(error.get("message") or ""),
        user_message=str(error.get("error_user_msg") or ""),
        transient=bool(error.get("is_transient")),
        trace_id=str(error.get("fbtrace_id") or ""),
    )


def refusal(
    response: httpx2.Response,
    title: str,
    *,
    secrets: Iterable[str] = (),
    throttle_codes: frozenset[int] = THROTTLE_CODES,
    throttle_default: float | None = None,
    specific: Callable[[ErrorBody, str], PlatformError | None] | None = None,
    maybe_sent: bool = False,
) -> PlatformError | None:
    """The error class a Graph error body means, so the publisher knows whether to
    retry, renew the token or give up; None when the body is not Graph's shape.

    `specific` maps the adapter's own codes (after throttling and refused tokens,
    which mean the same everywhere); `secrets` are blanked out of the message, since
    Graph's messages can quote what was sent. `maybe_sent` marks a request that makes a
    post: a server error or "unknown error" is no refusal, so the post may be out.
    """
    error = read_error(response)
    if error is None:
        return None
    text = scrub(f"{title} answered {response.status_code}: {error.describe()}", secrets)
    if error.code in throttle_codes:
        wait = throttle_wait(response.headers)
        return TransientError(
            f"{text}: throttled", retry_after=wait if wait is not None else throttle_default
        )
    if error.code in TOKEN_CODES or (error.code is None and response.status_code == 401):
        return AuthExpired(text)
    found = specific(error, text) if specific is not None else None
    if found is not None:
        return found
    status = response.status_code
    if error.transient or error.code in TEMPORARY_CODES or status >= 500 or status == 429:
        return TransientError(
            text, retry_after=retry_after(response.headers), maybe_sent=maybe_sent and status != 429
        )
    return GraphError(text, code=error.code, subcode=error.subcode)


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def secrets_sent(token: str | None, data: Any) -> list[str]:
    """The token and any token or secret in a form: what an error message must not show."""
    found = [token] if token else []
    if isinstance(data, dict):
        found += [str(v) for k, v in data.items() if "token" in k or "secret" in k]
    return [s for s in found if s]


def throttle_wait(headers: Any) -> float | None:
    """The longer of what the usage headers and Retry-After say; None when neither does."""
    waits = [w for w in (usage_wait(headers), retry_after(headers)) if w]
    return max(waits) if waits else None


def usage_wait(headers: Any) -> float | None:
    """Seconds until Meta lets us back in, from `estimated_time_to_regain_access`
    (minutes) in X-Business-Use-Case-Usage or X-App-Usage; None when neither says."""
    minutes: list[float] = []
    for name in ("x-business-use-case-usage", "x-app-usage"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            usage = json.loads(raw)
        except ValueError:
            continue
        for entry in _usage_entries(usage):
            value = entry.get("estimated_time_to_regain_access")
            if isinstance(value, int | float) and not isinstance(value, bool):
                minutes.append(float(value))
    longest = max(minutes, default=0.0)
    return longest * 60 if longest > 0 else None


def _usage_entries(usage: Any) -> Iterator[dict[str, Any]]:
    """X-App-Usage is one object; X-Business-Use-Case-Usage maps ids to lists of them."""
    if isinstance(usage, dict):
        if "estimated_time_to_regain_access" in usage:
            yield usage
        for value in usage.values():
            if isinstance(value, list):
                yield from (v for v in value if isinstance(v, dict))
            elif isinstance(value, dict):
                yield value


def managed_pages(
    fetch: Callable[[dict[str, str]], dict[str, Any]], fields: str, title: str
) -> list[dict[str, Any]]:
    """Every page a login manages (`fetch` GETs /me/accounts with the params given),
    following the `after` cursor: never the `next` URL, which carries the token."""
    pages: list[dict[str, Any]] = []
    params = {"fields": fields, "limit": "100"}
    for _ in range(MAX_PAGE_LISTINGS):
        answer = fetch(params)
        data = answer.get("data")
        if not isinstance(data, list):
            raise TransientError(f"{title} listed the pages without `data`")
        pages.extend(p for p in data if isinstance(p, dict) and p.get("id"))
        paging = as_dict(answer.get("paging"))
        after = as_dict(paging.get("cursors")).get("after")
        if not paging.get("next") or not after:
            break
        params = {**params, "after": str(after)}
    return pages


def long_lived_form(client_id: str, secret: str, token: str) -> dict[str, str]:
    """The POST form that trades a user token for a long-lived one (~60 days), which is
    also how a long-lived one is renewed. A form, so the token never sits in a URL."""
    return {
        "grant_type": "fb_exchange_token",
        "client_id": client_id,
        "client_secret": secret,
        "fb_exchange_token": token,
    }


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def to_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
