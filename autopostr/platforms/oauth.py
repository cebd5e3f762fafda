"""`accounts connect`: the OAuth 2.0 authorization-code flow, for every platform alike.

`state` is always sent and checked, PKCE (S256) is used where the platform takes
it, and the code comes back to a loopback server on 127.0.0.1 (RFC 8252). With
`--no-browser` the user opens the URL anywhere and pastes the address the
browser was sent to. The platform adapter supplies the endpoints (`oauth`) and
turns the token response into accounts (`connected_accounts`).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from autopostr.config import Settings
from autopostr.errors import ExternalServiceError, InvalidInput
from autopostr.platforms.base import ConnectedAccount, OAuthSpec, Platform, PlatformError

DEFAULT_PORT = 8765
CALLBACK_PATH = "/callback"
DEFAULT_WAIT_SECONDS = 300.0

PAGE_DONE = (
    b"<!doctype html><meta charset=utf-8><title>autopostr</title>"
    b"<p>autopostr has the authorization. You can close this tab.</p>"
)


@dataclass
class Prompter:
    """How the flow talks to the person: the CLI passes terminal functions, tests their own."""

    show_url: Callable[[str], None]
    # Opens the URL in a browser and says whether one was found; None means --no-browser.
    open_browser: Callable[[str], bool] | None
    read_pasted_url: Callable[[], str]
    # Told when no browser could be opened; the loopback server keeps waiting.
    no_browser_found: Callable[[], None] = lambda: None


class _Callback:
    """A one-shot loopback server that waits for the browser's redirect."""

    def __init__(self, port: int) -> None:
        self.url: str | None = None
        self.arrived = threading.Event()
        callback = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass  # the query holds the code: keep it out of every log

            def do_GET(self) -> None:
                if urlsplit(self.path).path != CALLBACK_PATH:
                    self.send_error(404)
                    return
                callback.url = f"http://127.0.0.1:{callback.port}{self.path}"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(PAGE_DONE)))
                self.end_headers()
                self.wfile.write(PAGE_DONE)
                callback.arrived.set()

        try:
            self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        except OSError as exc:
            raise InvalidInput(
                f"--port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror}); "
                "pick another port registered as a redirect URI of your OAuth app"
            ) from None
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def wait(self, seconds: float) -> str:
        if not self.arrived.wait(seconds):
            raise InvalidInput(
                f"no authorization arrived within {seconds:g} s: run the command again "
                "(or use --no-browser and paste the address you were sent to)"
            )
        assert self.url is not None
        return self.url

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def configured_port(settings: Settings) -> int:
    """`--port`'s default: AUTOPOSTR_OAUTH_PORT where the OAuth app's redirect URI uses
    another port, so the printed `accounts connect` fixes run as printed there too."""
    return settings.integer("oauth_port", DEFAULT_PORT, maximum=65535)


def redirect_uri(port: int) -> str:
    return f"http://127.0.0.1:{port}{CALLBACK_PATH}"


def authorization_code(redirected_url: str, state: str) -> str:
    """The code from the address the platform sent the browser to, after checking `state`."""
    if not redirected_url.strip():
        raise InvalidInput(
            "nothing was pasted: open the link, approve, then paste the whole address the "
            "browser was sent to (it starts with http://127.0.0.1)"
        )
    query = parse_qs(urlsplit(redirected_url.strip()).query)
    if "error" in query:
        reason = query.get("error_description", query["error"])[0]
        raise InvalidInput(f"the platform refused the authorization: {reason}")
    if query.get("state", [""])[0] != state:
        raise InvalidInput(
            "the redirect's state does not match this request (an old or foreign link): "
            "run the command again and use the new link"
        )
    code = query.get("code", [""])[0]
    if not code:
        raise InvalidInput(
            "the pasted address has no authorization code: paste the whole address "
            "the browser was sent to (it starts with http://127.0.0.1)"
        )
    return code


def exchange_code(
    settings: Settings, spec: OAuthSpec, redirect: str, code: str, verifier: str | None
) -> dict[str, Any]:
    """Trade the code for tokens at the platform's token endpoint (authlib does the form)."""
    import httpx2
    from authlib.integrations.base_client import OAuthError

    client = _client(settings, spec, redirect)
    try:
        with client:
            token = client.fetch_token(
                spec.token_url,
                grant_type="authorization_code",
                code=code,
                code_verifier=verifier,
            )
    except OAuthError as exc:
        reason = exc.description or exc.error
        raise ExternalServiceError(f"the token exchange failed: {reason}") from None
    except httpx2.HTTPError as exc:
        raise ExternalServiceError(
            f"cannot reach the token endpoint: {type(exc).__name__}"
        ) from None
    except ValueError:
        raise ExternalServiceError("the token endpoint did not answer with a token") from None
    return dict(token)


def _client(settings: Settings, spec: OAuthSpec, redirect: str) -> Any:
    from authlib.integrations.httpx_client import OAuth2Client

    from autopostr.platforms.http import timeout_seconds

    return OAuth2Client(
        client_id=spec.client_id,
        client_secret=spec.client_secret,
        scope=spec.scope_separator.join(spec.scopes) or None,
        redirect_uri=redirect,
        code_challenge_method="S256" if spec.pkce else None,
        token_endpoint_auth_method=spec.token_auth,
        timeout=timeout_seconds(settings),
    )


def connect(
    settings: Settings,
    platform: Platform,
    options: dict[str, str],
    prompter: Prompter,
    *,
    port: int = DEFAULT_PORT,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
) -> list[ConnectedAccount]:
    """Run the whole flow and return the accounts it grants (nothing is stored here)."""
    callback = _Callback(port) if prompter.open_browser is not None else None
    try:
        redirect = redirect_uri(callback.port if callback else port)
        try:
            spec = platform.oauth(options, redirect)
        except PlatformError as exc:
            # --page and --instance are the user's: a refusal of them is theirs to fix.
            raise exc.as_error(given="") from None
        verifier = secrets.token_urlsafe(48) if spec.pkce else None
        state = secrets.token_urlsafe(24)
        with _client(settings, spec, redirect) as client:
            url, _ = client.create_authorization_url(
                spec.authorize_url,
                state=state,
                code_verifier=verifier,
                **spec.extra_authorize_params,
            )
        prompter.show_url(url)
        if callback is not None and prompter.open_browser is not None:
            if not prompter.open_browser(url):
                prompter.no_browser_found()
            redirected = callback.wait(wait_seconds)
        else:
            redirected = prompter.read_pasted_url()
        code = authorization_code(redirected, state)
    finally:
        if callback is not None:
            callback.close()
    token = exchange_code(settings, spec, redirect, code, verifier)
    try:
        granted = platform.connected_accounts(token, options)
    except PlatformError as exc:
        raise exc.as_error(given="") from None
    if not granted:
        raise InvalidInput(f"the authorization gave no {platform.title} account to connect")
    return granted
