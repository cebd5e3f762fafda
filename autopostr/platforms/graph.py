"""Graph API pieces the Facebook and Instagram adapters share.

Both sign in with Facebook Login, so both make their calls the same way (`call`),
meet the same error bodies (whose `code` matters more than the HTTP status:
throttling and refused tokens come back as 400), the same usage headers, the same
page listings and the same long-lived tokens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autopostr.platforms.base import (
    AuthExpired,
    PermanentError,
    PlatformError,
    TransientError,
)
from autopostr.platforms.http import may_have_posted, retry_after, send

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


@dataclass(frozen=True)
class Dialect:
    """What one adapter's Graph answers mean: the throttling codes it meets (and the
    wait to assume when no header says one), and its own codes (`specific`, see
    `refusal`)."""

    title: str
    throttle_codes: frozenset[int] = THROTTLE_CODES
    throttle_default: float | None = None
    specific: Callable[[ErrorBody, str], PlatformError | None] | None = None


def call(
    dialect: Dialect,
    client: httpx2.Client,
    method: str,
    url: str,
    *,
    token: str | None = None,
    auth_scheme: str = "Bearer",
    creates: bool = False,
    **kwargs: Any,
) -> dict[str, Any]:
    """One Graph call: its JSON object, or the PlatformError its answer means.

    `token` goes in the Authorization header (`auth_scheme`: the upload endpoint wants
    "OAuth"), where the client does not carry one already. `creates` marks a request
    that makes a post: a failure after it arrived (a timeout, a server failure, an
    unreadable success) may hide a post that went out, so the next attempt asks before
    sending again. The token and any secret in the form are blanked out of messages,
    since Graph's messages can quote what was sent.
    """
    headers = dict(kwargs.pop("headers", None) or {})
    if token:
        headers["Authorization"] = f"{auth_scheme} {token}"
    carried = client.headers.get("authorization", "").partition(" ")[2]
    hidden = secrets_sent(token or carried, kwargs.get("data"))
    shown = f"{method} {path_of(url)}"
    response = send(
        client,
        method,
        url,
        dialect.title,
        shown=shown,
        maybe_sent=creates,
        creates=creates,
        refusal=lambda answer: refusal(answer, dialect, secrets=hidden, creates=creates),
        headers=headers,
        **kwargs,
    )
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise TransientError(
            scrub(
                f"{dialect.title} gave a malformed answer to {shown} (HTTP "
                f"{response.status_code}, not a JSON object): {snippet(response.text)}",
                hidden,
            ),
            maybe_sent=creates,
        )
    return body


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
    dialect: Dialect,
    *,
    secrets: Iterable[str] = (),
    creates: bool = False,
) -> PlatformError | None:
    """The error class a Graph error body means, so the publisher knows whether to
    retry, renew the token or give up; None when the body is not Graph's shape.

    The dialect's `specific` maps the adapter's own codes (after throttling and refused
    tokens, which mean the same everywhere); `secrets` are blanked out of the message,
    since Graph's messages can quote what was sent. `creates` marks a request that
    makes a post: Graph's "unknown error" and other temporary trouble are the server
    failing, not refusing, so the post may be out (`may_have_posted`).
    """
    error = read_error(response)
    if error is None:
        return None
    status = response.status_code
    text = scrub(f"{dialect.title} answered {status}: {error.describe()}", secrets)
    if error.code in dialect.throttle_codes:
        wait = throttle_wait(response.headers)
        return TransientError(
            f"{text}: throttled", retry_after=wait if wait is not None else dialect.throttle_default
        )
    if error.code in TOKEN_CODES or (error.code is None and status == 401):
        return AuthExpired(text)
    found = dialect.specific(error, text) if dialect.specific is not None else None
    if found is not None:
        return found
    if error.transient or error.code in TEMPORARY_CODES or status >= 500 or status == 429:
        return TransientError(
            text,
            retry_after=retry_after(response.headers),
            maybe_sent=may_have_posted(status, creates=creates, server_failed=True),
        )
    return GraphError(text, code=error.code, subcode=error.subcode)


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def path_of(url: str) -> str:
    """A URL without scheme, host and query, for messages."""
    return re.sub(r"^https?://[^/]+", "", url).split("?", 1)[0]


def snippet(text: str) -> str:
    text = " ".join(text.split())
    return (text[:200] + "…") if len(text) > 200 else (text or "(empty)")


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
