"""The base of every fake platform: a real HTTP server on 127.0.0.1 with routes,
a record of each request, injected faults, and an OAuth 2.0 authorization server.

A platform fake subclasses `FakePlatform`, calls `self.route(method, pattern,
handler)` for its API, and gets for free:

- `self.oauth`: `/authorize` (auto-approves, redirects with `code` and `state`),
  the token endpoint (checks the client, `redirect_uri` and the PKCE verifier
  against the S256 challenge, issues and rotates tokens) and revocation;
- `self.fail_next(pattern, status, body, headers, times)`: the next matching
  requests get that answer instead (429 with reset headers, 503, 401 …);
- `self.requests`: every request received, for assertions.

`browse(url)` plays the user's browser: it follows the authorize redirect to the
loopback server, as a person clicking "Allow" would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass
class Request:
    method: str
    path: str  # without the query
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    # Every value of each query parameter, in order (`?uris=a&uris=b`): `query` keeps one.
    query_all: dict[str, list[str]] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode("utf-8")))

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value[7:] if value.lower().startswith("bearer ") else None


@dataclass
class Response:
    status: int = 200
    body: Any = field(default_factory=dict)  # dict/list -> JSON, bytes/str as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Handler = Callable[[Request, re.Match[str]], Response]


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    response: Response
    times: int


@dataclass
class Grant:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    challenge: str | None
    method: str | None
    issued: float


class FakeOAuth:
    """An authorization server: codes, PKCE, access/refresh tokens, rotation, revocation."""

    def __init__(
        self,
        *,
        client_id: str = "test-client",
        client_secret: str | None = "test-secret",
        require_pkce: bool = True,
        access_lifetime: int = 7200,
        rotate_refresh: bool = True,
        issue_refresh: bool = True,
        code_lifetime: float = 30.0,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.require_pkce = require_pkce
        self.access_lifetime = access_lifetime
        self.rotate_refresh = rotate_refresh
        self.issue_refresh = issue_refresh
        self.code_lifetime = code_lifetime
        self.grants: dict[str, Grant] = {}
        self.access_tokens: dict[str, float] = {}  # token -> expiry (epoch)
        self.refresh_tokens: set[str] = set()
        self.revoked: set[str] = set()
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.pkce_verified = 0
        self.lock = threading.Lock()

    # -- tokens tests hand out or inspect ------------------------------------

    def issue(self, lifetime: int | None = None) -> dict[str, Any]:
        access = "at-" + secrets.token_urlsafe(24)
        lifetime = self.access_lifetime if lifetime is None else lifetime
        with self.lock:
            self.access_tokens[access] = time.time() + lifetime
            token: dict[str, Any] = {
                "access_token": access,
                "token_type": "bearer",
                "expires_in": lifetime,
            }
            if self.issue_refresh:
                refresh = "rt-" + secrets.token_urlsafe(24)
                self.refresh_tokens.add(refresh)
                token["refresh_token"] = refresh
        return token

    def expire(self, access_token: str) -> None:
        with self.lock:
            self.access_tokens[access_token] = time.time() - 1

    def valid(self, access_token: str | None) -> bool:
        with self.lock:
            expiry = self.access_tokens.get(access_token or "")
            return expiry is not None and expiry > time.time() and access_token not in self.revoked

    def known(self, access_token: str | None) -> bool:
        with self.lock:
            return (access_token or "") in self.access_tokens

    # -- endpoints -----------------------------------------------------------

    def authorize(self, request: Request) -> Response:
        q = request.query
        self.authorize_requests.append(dict(q))
        if q.get("client_id") != self.client_id:
            return Response(400, {"error": "invalid_client"})
        redirect = q.get("redirect_uri", "")
        if not redirect.startswith("http://127.0.0.1:"):
            return Response(400, {"error": "invalid_request", "error_description": "redirect_uri"})
        challenge = q.get("code_challenge")
        if self.require_pkce and (not challenge or q.get("code_challenge_method") != "S256"):
            return Response(400, {"error": "invalid_request", "error_description": "PKCE needed"})
        if not q.get("state"):
            return Response(400, {"error": "invalid_request", "error_description": "no state"})
        code = "code-" + secrets.token_urlsafe(16)
        self.grants[code] = Grant(
            code,
            q["client_id"],
            redirect,
            q.get("scope", ""),
            challenge,
            q.get("code_challenge_method"),
            time.time(),
        )
        target = redirect + ("&" if "?" in redirect else "?")
        target += urllib.parse.urlencode({"code": code, "state": q["state"]})
        return Response(302, b"", {"Location": target})

    def _client_ok(self, request: Request, form: dict[str, str]) -> bool:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            user, password = urllib.parse.unquote(user), urllib.parse.unquote(password)
            return user == self.client_id and (
                self.client_secret is None or password == self.client_secret
            )
        if form.get("client_id") != self.client_id:
            return False
        return self.client_secret is None or form.get("client_secret") == self.client_secret

    def token(self, request: Request) -> Response:
        form = request.form() if request.body else dict(request.query)
        self.token_requests.append(form)
        if not self._client_ok(request, form):
            return Response(401, {"error": "invalid_client"})
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            grant = self.grants.pop(form.get("code", ""), None)
            if grant is None or time.time() - grant.issued > self.code_lifetime:
                return Response(400, {"error": "invalid_grant", "error_description": "bad code"})
            if form.get("redirect_uri") != grant.redirect_uri:
                return Response(400, {"error": "invalid_grant", "error_description": "redirect"})
            if grant.challenge:
                verifier = form.get("code_verifier", "")
                digest = hashlib.sha256(verifier.encode()).digest()
                expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                if expected != grant.challenge:
                    return Response(
                        400, {"error": "invalid_grant", "error_description": "PKCE failed"}
                    )
                self.pkce_verified += 1
            token = self.issue()
            if grant.scope:
                token["scope"] = grant.scope
            return Response(200, token)
        if grant_type == "refresh_token":
            refresh = form.get("refresh_token", "")
            with self.lock:
                if refresh not in self.refresh_tokens or refresh in self.revoked:
                    return Response(
                        400, {"error": "invalid_grant", "error_description": "refresh revoked"}
                    )
                if self.rotate_refresh:
                    self.refresh_tokens.discard(refresh)
            token = self.issue()
            if not self.rotate_refresh:
                with self.lock:
                    self.refresh_tokens.discard(token["refresh_token"])
                token["refresh_token"] = refresh
            return Response(200, token)
        return Response(400, {"error": "unsupported_grant_type"})

    def revoke(self, request: Request) -> Response:
        form = request.form() if request.body else dict(request.query)
        token = form.get("token") or request.bearer or ""
        with self.lock:
            self.revoked.add(token)
        return Response(200, {"revoked": True})


class FakePlatform:
    """A routed fake HTTP server; use as a context manager or call start()/stop()."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.faults: list[_Fault] = []
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- set-up --------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method.upper(), re.compile(pattern + r"\Z"), handler))

    def fail_next(
        self,
        pattern: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        method: str = "*",
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """The next `times` requests whose path matches `pattern` get this answer."""
        with self.lock:
            self.faults.append(
                _Fault(
                    method.upper(),
                    re.compile(pattern),
                    Response(status, {} if body is None else body, headers or {}, delay),
                    times,
                )
            )

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def calls(self, method: str, pattern: str) -> list[Request]:
        regex = re.compile(pattern + r"\Z")
        return [r for r in self.requests if r.method == method and regex.match(r.path)]

    # -- serving -------------------------------------------------------------

    def _fault_for(self, request: Request) -> Response | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method in ("*", request.method):
                    if fault.pattern.search(request.path):
                        fault.times -= 1
                        return fault.response
        return None

    def dispatch(self, request: Request) -> Response:
        with self.lock:
            self.requests.append(request)
        fault = self._fault_for(request)
        if fault is not None:
            return fault
        allowed = False
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if match:
                if method == request.method:
                    return handler(request, match)
                allowed = True
        if allowed:
            return Response(405, {"error": "method not allowed"})
        return Response(404, {"error": f"no route {request.method} {request.path}"})

    def start(self) -> Self:
        fake = self

        class HTTPHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall on kept-alive connections

            def log_message(self, *_args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urllib.parse.urlsplit(self.path)
                request = Request(
                    self.command,
                    split.path,
                    dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    urllib.parse.parse_qs(split.query, keep_blank_values=True),
                )
                try:
                    response = fake.dispatch(request)
                except Exception as exc:  # a bug in the fake must show, not hang the client
                    response = Response(500, {"error": f"fake crashed: {exc!r}"})
                if response.delay:
                    time.sleep(response.delay)
                payload = response.body
                content_type = "application/json"
                if isinstance(payload, str):
                    payload, content_type = payload.encode(), "text/plain"
                elif not isinstance(payload, bytes):
                    payload = json.dumps(payload).encode()
                try:
                    self.send_response(response.status)
                    headers = {"Content-Type": content_type, **response.headers}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), HTTPHandler)
        self._server.daemon_threads = True
        # A short poll so stop() returns at once instead of after half a second.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


def browse(url: str) -> str:
    """Play the browser: open the authorize URL, follow its redirect to the loopback
    server (which receives the code) and return the address it redirected to."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        response = opener.open(url, timeout=10)
        raise AssertionError(f"authorize did not redirect: {response.status} {response.read()!r}")
    except urllib.error.HTTPError as exc:
        if exc.code not in (301, 302, 303, 307):
            raise AssertionError(f"authorize failed: {exc.code} {exc.read()!r}") from None
        location = exc.headers["Location"]
    with urllib.request.urlopen(location, timeout=10) as done:
        assert done.status == 200
    return str(location)
