"""A fake Mastodon instance: app registration, OAuth with PKCE, statuses with
Idempotency-Key, v2 media with async processing, the instance's limits, and
rate-limit headers, answering with Mastodon's own shapes and error bodies.

Statuses are rendered to HTML `content` the way Mastodon does (paragraphs,
`<br />`, links with hidden `https://` spans, mentions reduced to `@user`), so
an adapter that reads its statuses back must undo that like it would for real.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import html
import itertools
import re
import secrets
import socket
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import regex

from tests.fakes.platform_server import FakeOAuth, FakePlatform, Request, Response

TEN_YEARS = 10 * 365 * 24 * 3600
USERNAME = "alice"
ACCOUNT_ID = "109000000000000001"


@dataclass
class App:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    scopes: set[str]
    name: str
    website: str


def iso(moment: datetime) -> str:
    """Mastodon's timestamps: ISO 8601 in UTC with milliseconds and a Z."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


class MastodonOAuth(FakeOAuth):
    """Doorkeeper as Mastodon runs it: any number of registered apps, tokens without
    expiry or refresh token, client credentials for app tokens, revoke needing the client."""

    def __init__(self, *, require_pkce: bool = True) -> None:
        super().__init__(
            client_id="",
            client_secret="",
            require_pkce=require_pkce,
            access_lifetime=TEN_YEARS,
            issue_refresh=False,
        )
        self.apps: dict[str, App] = {}
        self.app_tokens: set[str] = set()

    def register(self, form: dict[str, Any]) -> Response:
        name = str(form.get("client_name") or "")
        uris = form.get("redirect_uris") or form.get("redirect_uris[]") or ""
        redirect_uris = uris if isinstance(uris, list) else str(uris).split()
        if not name:
            return Response(422, {"error": "Validation failed: Application name can't be blank"})
        if not redirect_uris:
            return Response(422, {"error": "Validation failed: Redirect URI can't be blank"})
        scopes = set(str(form.get("scopes") or "read").split())
        app = App(
            client_id=secrets.token_urlsafe(32),
            client_secret=secrets.token_urlsafe(32),
            redirect_uris=redirect_uris,
            scopes=scopes,
            name=name,
            website=str(form.get("website") or ""),
        )
        self.apps[app.client_id] = app
        return Response(
            200,
            {
                "id": str(len(self.apps)),
                "name": name,
                "website": app.website or None,
                "scopes": sorted(scopes),
                "redirect_uri": "\n".join(redirect_uris),
                "redirect_uris": redirect_uris,
                "vapid_key": "BCk-QqERU0q-CfYZjcuB6lnyyOYfJ2AifKqfeGIm7Z-HiTU5T9eTG5GxVA0_OH5mMlI4UkkDTpaZwozy0TzdZ2M=",
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "client_secret_expires_at": 0,
            },
        )

    def forget_apps(self) -> None:
        """What a server whose database was reset (or that pruned the app) knows."""
        self.apps.clear()

    def authorize(self, request: Request) -> Response:
        app = self.apps.get(request.query.get("client_id", ""))
        if app is None:
            return Response(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "Client authentication failed due to unknown client.",
                },
            )
        if request.query.get("redirect_uri") not in app.redirect_uris:
            return Response(
                400,
                {
                    "error": "invalid_redirect_uri",
                    "error_description": "The requested redirect uri is malformed or doesn't "
                    "match client redirect URI.",
                },
            )
        requested = set(request.query.get("scope", "read").split())
        if not requested <= app.scopes:
            return Response(400, {"error": "invalid_scope"})
        with self.lock:
            self.client_id, self.client_secret = app.client_id, app.client_secret
            return super().authorize(request)

    def _client_ok(self, request: Request, form: dict[str, str]) -> bool:
        return self._client_app(request, form) is not None

    def _client_app(self, request: Request, form: dict[str, str]) -> App | None:
        """The app authenticating (form fields or HTTP Basic), if its secret is right."""
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            client_id, secret = urllib.parse.unquote(user), urllib.parse.unquote(password)
        app = self.apps.get(client_id)
        return app if app is not None and secret == app.client_secret else None

    def token(self, request: Request) -> Response:
        form = request.form() if request.body else dict(request.query)
        if form.get("grant_type") == "client_credentials":
            self.token_requests.append(form)
            app = self._client_app(request, form)
            if app is None:
                return Response(401, {"error": "invalid_client"})
            if not set(form.get("scope", "read").split()) <= app.scopes:
                return Response(400, {"error": "invalid_scope"})
            issued = self.issue()
            self.app_tokens.add(issued["access_token"])
            return Response(200, self._mastodon_token(issued, form.get("scope", "read")))
        answer = super().token(request)
        if answer.status == 200 and isinstance(answer.body, dict):
            answer.body = self._mastodon_token(answer.body, answer.body.get("scope", "read"))
        return answer

    @staticmethod
    def _mastodon_token(issued: dict[str, Any], scope: str) -> dict[str, Any]:
        return {
            "access_token": issued["access_token"],
            "token_type": "Bearer",
            "scope": scope,
            "created_at": int(time.time()),
        }

    def revoke(self, request: Request) -> Response:
        form = request.form()
        if not self._client_ok(request, form):
            return Response(
                403,
                {
                    "error": "unauthorized_client",
                    "error_description": "You are not authorized to revoke this token",
                },
            )
        with self.lock:
            self.revoked.add(form.get("token", ""))
        return Response(200, {})


@dataclass
class Media:
    id: str
    filename: str
    mime_type: str
    data: bytes
    description: str | None
    polls_left: int
    failed: bool = False
    attached: bool = False

    @property
    def kind(self) -> str:
        if self.mime_type.startswith("video/"):
            return "video"
        return "gifv" if self.mime_type == "image/gif" else "image"


@dataclass
class InstanceConfig:
    max_characters: int = 500
    max_media_attachments: int = 4
    characters_reserved_per_url: int = 23
    image_size_limit: int = 16_777_216
    video_size_limit: int = 103_809_024
    description_limit: int = 1500
    supported_mime_types: list[str] = field(
        default_factory=lambda: [
            "image/jpeg",
            "image/png",
            "image/gif",
            "image/heic",
            "image/heif",
            "image/webp",
            "image/avif",
            "video/webm",
            "video/mp4",
            "video/quicktime",
            "video/ogg",
            "audio/wave",
            "audio/mpeg",
            "audio/ogg",
        ]
    )


_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,:;!?'\")\]]", re.IGNORECASE)
_MENTION = re.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_])?)(?:@([\w.-]+\w))?", re.IGNORECASE
)
_HASHTAG = re.compile(r"(?<![=/\w])#(\w+)")


def length(text: str, url_chars: int = 23) -> int:
    """StatusLengthValidator: URLs weigh `url_chars`, mentions their local part, the rest
    grapheme clusters."""
    text = _URL.sub("x" * url_chars, text)
    text = _MENTION.sub(lambda m: "@" + m.group(1), text)
    return len(regex.findall(r"\X", text))


class FakeMastodon(FakePlatform):
    """One instance with one user, @alice; `domain` is how the instance names itself."""

    def __init__(self, *, require_pkce: bool = True) -> None:
        super().__init__()
        self.oauth = MastodonOAuth(require_pkce=require_pkce)
        self.config = InstanceConfig()
        self.statuses: dict[str, dict[str, Any]] = {}
        self.deleted: dict[str, dict[str, Any]] = {}
        self.media: dict[str, Media] = {}
        self.idempotency: dict[str, tuple[str, float]] = {}  # key -> (status id, when)
        self.processing_polls = 2  # 206 answers before an async upload is ready
        self.async_images = False  # images are processed at once, like small ones are
        self.remaining = 300
        self.created = 0
        self.cut: tuple[int, Response] | None = None
        self.lost_answer: Response | None = None  # the next status is made, this is answered
        self.metrics_growth = True  # each look at a status finds it favourited once more
        self.metric_reads: Counter[str] = Counter()
        self.followers = 42
        self._ids = itertools.count(111_000_000_000_000_001)
        self._id_lock = threading.Lock()
        self.route("POST", "/api/v1/apps", self._apps)
        self.route("GET", "/oauth/authorize", lambda r, _m: self.oauth.authorize(r))
        self.route("POST", "/oauth/token", lambda r, _m: self.oauth.token(r))
        self.route("POST", "/oauth/revoke", lambda r, _m: self.oauth.revoke(r))
        self.route("GET", "/api/v2/instance", self._instance)
        self.route("GET", "/api/v1/accounts/verify_credentials", self._authed(self._me))
        self.route(
            "GET", r"/api/v1/accounts/(?P<id>[^/]+)/statuses", self._authed(self._account_statuses)
        )
        self.route("POST", "/api/v1/statuses", self._authed(self._create))
        self.route("GET", r"/api/v1/statuses/(?P<id>\d+)", self._authed(self._show))
        self.route("DELETE", r"/api/v1/statuses/(?P<id>\d+)", self._authed(self._delete))
        self.route("GET", r"/api/v1/statuses/(?P<id>\d+)/context", self._authed(self._context))
        self.route("POST", "/api/v2/media", self._authed(self._upload))
        self.route("GET", r"/api/v1/media/(?P<id>\d+)", self._authed(self._media_status))

    # -- what tests use -------------------------------------------------------

    @property
    def domain(self) -> str:
        return urllib.parse.urlsplit(self.url).netloc

    @property
    def handle(self) -> str:
        return f"{USERNAME}@{self.domain}"

    def user_token(self) -> str:
        """A token as the server's Development page hands one out."""
        return str(self.oauth.issue()["access_token"])

    def revoke_all(self) -> None:
        """The user revoked autopostr under Preferences > Account > Authorized apps."""
        with self.oauth.lock:
            self.oauth.revoked.update(self.oauth.access_tokens)

    def throttle(self, pattern: str, seconds: float, *, method: str = "*") -> datetime:
        """The next matching request is rate limited; returns the reset moment."""
        reset = datetime.now(UTC) + timedelta(seconds=seconds)
        self.fail_next(
            pattern,
            429,
            {"error": "Too many requests"},
            {
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": reset.isoformat(timespec="microseconds").replace(
                    "+00:00", "Z"
                ),
            },
            method=method,
        )
        return reset

    def stop(self) -> None:
        """Stop at once: the base server notices a shutdown only between requests or every
        0.5 s, so connections keep waking it until it has stopped."""
        server = self._server
        if server is None:
            return
        host, port = server.server_address[:2]
        address = (str(host), int(port))  # an AF_INET server: (host, port)
        stopped = threading.Event()

        def wake() -> None:
            while not stopped.is_set():
                try:
                    socket.create_connection(address, timeout=0.2).close()
                except OSError:
                    return
                stopped.wait(0.01)

        threading.Thread(target=wake, daemon=True).start()
        try:
            super().stop()
        finally:
            stopped.set()

    def cut_after(self, count: int, status: int, body: Any) -> None:
        """Once `count` statuses are made, new ones get this answer (a thread cut short)."""
        self.cut = (count, Response(status, body))

    def forget_idempotency_keys(self) -> None:
        """What the server knows once its hour of keeping Idempotency-Keys is over."""
        self.idempotency.clear()

    def posted(self) -> list[dict[str, Any]]:
        """Live statuses, oldest first."""
        return sorted(self.statuses.values(), key=lambda s: int(s["id"]))

    # -- plumbing -------------------------------------------------------------

    def _next_id(self) -> str:
        with self._id_lock:
            return str(next(self._ids))

    def _rate_headers(self) -> dict[str, str]:
        self.remaining = max(0, self.remaining - 1)
        now = datetime.now(UTC)
        reset = now + timedelta(seconds=300 - now.timestamp() % 300)
        return {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": reset.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        }

    def _authed(self, handler: Any) -> Any:
        def wrapped(request: Request, match: re.Match[str]) -> Response:
            token = request.bearer
            if not self.oauth.known(token):
                return Response(401, {"error": "The access token is invalid"})
            if token in self.oauth.app_tokens:
                return Response(422, {"error": "This method requires an authenticated user"})
            if not self.oauth.valid(token):
                return Response(401, {"error": "The access token was revoked"})
            response: Response = handler(request, match)
            response.headers = {**self._rate_headers(), **response.headers}
            return response

        return wrapped

    @staticmethod
    def _fields(request: Request) -> dict[str, Any]:
        """A form (with `name[]` lists) or a JSON body, as Rails reads either."""
        content_type = request.headers.get("content-type", "")
        if "application/json" in content_type:
            body = request.json()
            return body if isinstance(body, dict) else {}
        fields: dict[str, Any] = {}
        for key, value in urllib.parse.parse_qsl(request.body.decode(), keep_blank_values=True):
            if key.endswith("[]"):
                fields.setdefault(key[:-2], []).append(value)
            else:
                fields[key] = value
        return fields

    def _apps(self, request: Request, _match: re.Match[str]) -> Response:
        return self.oauth.register(self._fields(request))

    def _account(self) -> dict[str, Any]:
        return {
            "id": ACCOUNT_ID,
            "username": USERNAME,
            "acct": USERNAME,
            "display_name": "Alice Example",
            "locked": False,
            "bot": False,
            "created_at": "2022-11-01T00:00:00.000Z",
            "note": "<p>Posting from the terminal.</p>",
            "url": f"{self.url}/@{USERNAME}",
            "avatar": f"{self.url}/avatars/original/missing.png",
            "followers_count": self.followers,
            "following_count": 7,
            "statuses_count": len(self.statuses),
        }

    def _me(self, _request: Request, _match: re.Match[str]) -> Response:
        me = self._account()
        self.followers += 1
        me["source"] = {"privacy": "public", "sensitive": False, "language": "en", "note": ""}
        return Response(200, me)

    def _instance(self, _request: Request, _match: re.Match[str]) -> Response:
        c = self.config
        return Response(
            200,
            {
                "domain": self.domain,
                "title": "Fake Mastodon",
                "version": "4.3.2",
                "source_url": "https://github.com/mastodon/mastodon",
                "configuration": {
                    "urls": {"streaming": "wss://" + self.domain},
                    "accounts": {"max_featured_tags": 10},
                    "statuses": {
                        "max_characters": c.max_characters,
                        "max_media_attachments": c.max_media_attachments,
                        "characters_reserved_per_url": c.characters_reserved_per_url,
                    },
                    "media_attachments": {
                        "supported_mime_types": c.supported_mime_types,
                        "description_limit": c.description_limit,
                        "image_size_limit": c.image_size_limit,
                        "image_matrix_limit": 33_177_600,
                        "video_size_limit": c.video_size_limit,
                        "video_frame_rate_limit": 120,
                        "video_matrix_limit": 8_294_400,
                    },
                    "polls": {"max_options": 4},
                },
                "registrations": {"enabled": False},
            },
        )

    # -- statuses -------------------------------------------------------------

    def _render(self, text: str) -> str:
        def link(match: re.Match[str]) -> str:
            url = html.unescape(match.group(0))
            scheme, _, rest = url.partition("://")
            shown, hidden = rest[:30], rest[30:]
            return (
                f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" '
                f'translate="no"><span class="invisible">{scheme}://</span>'
                f'<span class="{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>'
                f'<span class="invisible">{html.escape(hidden)}</span></a>'
            )

        def mention(match: re.Match[str]) -> str:
            user, domain = match.group(1), match.group(2) or self.domain
            return (
                f'<span class="h-card" translate="no"><a href="https://{domain}/@{user}" '
                f'class="u-url mention">@<span>{user}</span></a></span>'
            )

        def tag(match: re.Match[str]) -> str:
            return (
                f'<a href="{self.url}/tags/{match.group(1)}" class="mention hashtag" '
                f'rel="tag">#<span>{match.group(1)}</span></a>'
            )

        paragraphs = []
        for paragraph in re.split(r"\n{2,}", text.strip()):
            escaped = html.escape(paragraph, quote=False)
            # URLs first, then mentions and tags outside the links made.
            pieces = re.split(r"(<a .*?</a>)", _URL.sub(link, escaped))
            pieces = [
                p if p.startswith("<a ") else _HASHTAG.sub(tag, _MENTION.sub(mention, p))
                for p in pieces
            ]
            paragraphs.append("<p>" + "".join(pieces).replace("\n", "<br />") + "</p>")
        return "".join(paragraphs)

    def _create(self, request: Request, _match: re.Match[str]) -> Response:
        fields = self._fields(request)
        key = request.headers.get("idempotency-key")
        if key:
            seen = self.idempotency.get(key)
            if seen is not None and time.time() - seen[1] < 3600:
                original = self.statuses.get(seen[0]) or self.deleted.get(seen[0])
                if original is not None:
                    return Response(200, original)
        if self.cut is not None and self.created >= self.cut[0]:
            return self.cut[1]
        text = str(fields.get("status") or "")
        media_ids = [str(i) for i in fields.get("media_ids") or []]
        if not text.strip() and not media_ids:
            return Response(422, {"error": "Validation failed: Text can't be blank"})
        if len(media_ids) > self.config.max_media_attachments:
            return Response(
                422,
                {"error": f"Cannot attach more than {self.config.max_media_attachments} files"},
            )
        attached = [self.media[i] for i in media_ids if i in self.media]
        if any(m.polls_left > 0 or m.failed for m in attached):
            return Response(
                422,
                {
                    "error": "Cannot attach files that have not finished processing. "
                    "Try again in a moment!"
                },
            )
        if len(attached) > 1 and any(m.kind == "video" for m in attached):
            return Response(
                422, {"error": "Cannot attach a video to a post that already contains images"}
            )
        if length(text, self.config.characters_reserved_per_url) > self.config.max_characters:
            return Response(
                422,
                {
                    "error": "Validation failed: Text character limit of "
                    f"{self.config.max_characters} exceeded"
                },
            )
        reply_to = fields.get("in_reply_to_id")
        parent = None
        if reply_to:
            parent = self.statuses.get(str(reply_to))
            if parent is None:
                return Response(404, {"error": "Record not found"})
        status_id = self._next_id()
        for item in attached:
            item.attached = True
        status = {
            "id": status_id,
            "created_at": iso(datetime.now(UTC)),
            "in_reply_to_id": parent["id"] if parent else None,
            "in_reply_to_account_id": parent["account"]["id"] if parent else None,
            "sensitive": bool(fields.get("sensitive") in (True, "true", "1")),
            "spoiler_text": str(fields.get("spoiler_text") or ""),
            "visibility": str(fields.get("visibility") or "public"),
            "language": str(fields.get("language") or "en"),
            "uri": f"{self.url}/users/{USERNAME}/statuses/{status_id}",
            "url": f"{self.url}/@{USERNAME}/{status_id}",
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "quotes_count": 0,
            "edited_at": None,
            "content": self._render(text),
            "reblog": None,
            "application": {"name": "autopostr", "website": None},
            "account": self._account(),
            "media_attachments": [self._media_json(m) for m in attached],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
        }
        self.statuses[status_id] = status
        self.created += 1
        if parent is not None:
            parent["replies_count"] += 1
        if key:
            self.idempotency[key] = (status_id, time.time())
        if self.lost_answer is not None:
            answer, self.lost_answer = self.lost_answer, None
            return answer
        return Response(200, status)

    def _show(self, _request: Request, match: re.Match[str]) -> Response:
        status = self.statuses.get(match["id"])
        if status is None:
            return Response(404, {"error": "Record not found"})
        answer = Response(200, dict(status))
        self.metric_reads[status["id"]] += 1
        if self.metrics_growth:  # favourites keep coming between two looks
            status["favourites_count"] = status.get("favourites_count", 0) + 1
        return answer

    def _delete(self, _request: Request, match: re.Match[str]) -> Response:
        status = self.statuses.pop(match["id"], None)
        if status is None:
            return Response(404, {"error": "Record not found"})
        self.deleted[status["id"]] = status
        return Response(200, {**status, "text": "(source text for redraft)"})

    def _context(self, _request: Request, match: re.Match[str]) -> Response:
        if match["id"] not in self.statuses:
            return Response(404, {"error": "Record not found"})
        descendants: list[dict[str, Any]] = []

        def walk(parent: str) -> None:
            for status in self.posted():
                if status["in_reply_to_id"] == parent:
                    descendants.append(status)
                    walk(status["id"])

        walk(match["id"])
        return Response(200, {"ancestors": [], "descendants": descendants})

    def _account_statuses(self, request: Request, match: re.Match[str]) -> Response:
        if match["id"] != ACCOUNT_ID:
            return Response(404, {"error": "Record not found"})
        limit = min(int(request.query.get("limit") or 20), 40)
        statuses = list(reversed(self.posted()))
        if request.query.get("exclude_replies") in ("true", "1"):
            statuses = [s for s in statuses if s["in_reply_to_id"] is None]
        return Response(200, statuses[:limit])

    # -- media ----------------------------------------------------------------

    def _media_json(self, item: Media) -> dict[str, Any]:
        ready = item.polls_left <= 0 and not item.failed
        return {
            "id": item.id,
            "type": item.kind,
            "url": f"{self.url}/system/media_attachments/files/{item.id}/original"
            if ready
            else None,
            "preview_url": f"{self.url}/system/media_attachments/files/{item.id}/small",
            "remote_url": None,
            "text_url": None,
            "meta": {},
            "description": item.description,
            "blurhash": "UFBWY:8_0Jxv4mx]t8t64.%M-:IUWGWAt6M}",
        }

    def _upload(self, request: Request, _match: re.Match[str]) -> Response:
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return Response(422, {"error": "Validation failed: File can't be blank"})
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
        )
        upload: tuple[str, str, bytes] | None = None
        description = None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes), "a form field that is not a multipart itself"
            if name == "file":
                upload = (part.get_filename() or "file", part.get_content_type(), payload)
            elif name == "description":
                description = payload.decode("utf-8")
        if upload is None:
            return Response(422, {"error": "Validation failed: File can't be blank"})
        filename, mime_type, data = upload
        if mime_type not in self.config.supported_mime_types:
            return Response(
                422, {"error": "Validation failed: File content type is invalid, File is invalid"}
            )
        limit = (
            self.config.video_size_limit
            if mime_type.startswith("video/")
            else self.config.image_size_limit
        )
        if len(data) > limit:
            return Response(
                422,
                {
                    "error": f"Validation failed: File file size must be less than {limit // 2**20} MB"
                },
            )
        if description is not None and len(description) > self.config.description_limit:
            return Response(
                422,
                {
                    "error": "Validation failed: Description is too long (maximum is "
                    f"{self.config.description_limit} characters)"
                },
            )
        asynchronous = (
            mime_type.startswith("video/") or mime_type == "image/gif" or self.async_images
        )
        item = Media(
            id=self._next_id(),
            filename=filename,
            mime_type=mime_type,
            data=data,
            description=description,
            polls_left=self.processing_polls if asynchronous else 0,
        )
        self.media[item.id] = item
        return Response(202 if asynchronous else 200, self._media_json(item))

    def _media_status(self, _request: Request, match: re.Match[str]) -> Response:
        item = self.media.get(match["id"])
        if item is None:
            return Response(404, {"error": "Record not found"})
        if item.failed:
            return Response(422, {"error": "Error processing thumbnail for uploaded media"})
        if item.polls_left > 0:
            item.polls_left -= 1
            return Response(206, self._media_json(item) | {"url": None})
        return Response(200, self._media_json(item))

    def digest(self, media_id: str) -> str:
        return hashlib.sha256(self.media[media_id].data).hexdigest()
