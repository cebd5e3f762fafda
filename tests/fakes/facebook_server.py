"""A fake Graph API that answers like Facebook: the Login dialog and token exchanges,
pages with page tokens, feed/photo/video publishing, the resumable upload, comments,
insights, deletes, and Graph's error shape (HTTP 400 with `{"error": {...}}`).

Where sources disagree, the fake takes both readings: the token in an
`Authorization: Bearer` or `OAuth` header or in the POST body; the token
exchange as GET (query) or POST (form); `/{page}/photos` answering with or
without `post_id` (`photo_post_id`). Tokens seen in a URL query are recorded in
`tokens_in_query` so tests can insist there are none.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import re
import secrets
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fakes.platform_server import FakeOAuth, FakePlatform, Request, Response

V = r"(?:/v\d+\.\d+)?"
ID = r"(?P<id>[0-9]+(?:_[0-9]+)?)"
APP_ID = "1001"
APP_SECRET = "app-secret-123"
LONG_LIVED_SECONDS = 5_183_944


@dataclass
class Page:
    id: str
    name: str
    username: str | None = None
    tasks: list[str] = field(default_factory=lambda: ["CREATE_CONTENT", "MODERATE", "ANALYZE"])
    token: str = field(default_factory=lambda: "page-" + secrets.token_urlsafe(16))


@dataclass
class Upload:
    length: int
    data: bytearray = field(default_factory=bytearray)


def graph_error(
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    status: int = 400,
    kind: str = "OAuthException",
    headers: dict[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {
        "message": message,
        "type": kind,
        "code": code,
        "fbtrace_id": "A" + secrets.token_hex(5),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return Response(status, {"error": error}, headers or {})


def expired_token() -> Response:
    return graph_error(
        190, "Error validating access token: Session has expired on Sunday.", subcode=463
    )


class FakeFacebook(FakePlatform):
    def __init__(self) -> None:
        super().__init__()
        self.oauth = FakeOAuth(
            client_id=APP_ID,
            client_secret=APP_SECRET,
            require_pkce=False,
            issue_refresh=False,
            access_lifetime=3600,
        )
        self.pages: dict[str, Page] = {}
        self.user_tokens: set[str] = set()  # long-lived ones
        self.posts: dict[str, dict[str, Any]] = {}  # id -> what was posted, newest last
        self.photos: dict[str, dict[str, Any]] = {}
        self.videos: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[str]] = {}
        self.uploads: dict[str, Upload] = {}
        self.deleted: list[str] = []
        self.tokens_in_query: list[str] = []
        self.photo_post_id = True  # does /photos answer with `post_id`? (unverified)
        self.video_polls_until_ready = 2
        self.video_fails: str | None = None  # processing error message, if any
        self.accounts_page_size = 25
        self.insights: dict[str, int] = {"views": 1234, "clicks": 56}
        self.metrics_growth = True  # each insights read finds the numbers grown
        self.followers = 321
        self.ids = itertools.count(9000)

        self.route("GET", V + r"/dialog/oauth", lambda r, _m: self.oauth.authorize(r))
        self.route("GET", V + r"/oauth/access_token", self._access_token)
        self.route("POST", V + r"/oauth/access_token", self._access_token)
        self.route("GET", V + r"/me/accounts", self._me_accounts)
        self.route("GET", V + r"/me", self._me)
        self.route("POST", V + r"/(?P<app>[0-9]+)/uploads", self._start_upload)
        self.route("POST", V + r"/(?P<session>upload:[\w-]+)", self._upload)
        self.route("GET", V + r"/(?P<session>upload:[\w-]+)", self._upload_state)
        self.route("POST", V + r"/(?P<page>[0-9]+)/feed", self._feed)
        self.route("GET", V + r"/(?P<page>[0-9]+)/posts", self._page_posts)
        self.route("POST", V + r"/(?P<page>[0-9]+)/photos", self._photo)
        self.route("POST", V + r"/(?P<page>[0-9]+)/videos", self._video)
        self.route("POST", V + "/" + ID + r"/comments", self._comment)
        self.route("GET", V + "/" + ID + r"/insights", self._insights)
        self.route("GET", V + "/" + ID, self._object)
        self.route("DELETE", V + "/" + ID, self._delete)

    def stop(self) -> None:
        """Like the base, without waiting out serve_forever's half-second poll: a
        connection wakes the loop so it sees the shutdown at once."""
        server = self._server
        if server is None:
            return
        stopping = threading.Thread(target=server.shutdown)
        stopping.start()
        while stopping.is_alive():
            try:
                socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=1).close()
            except OSError:
                pass
            stopping.join(0.02)
        server.server_close()
        self._server = None

    # -- test helpers ----------------------------------------------------------

    def add_page(self, page_id: str, name: str, **kwargs: Any) -> Page:
        page = Page(page_id, name, **kwargs)
        self.pages[page_id] = page
        return page

    def invalidate_page_token(self, page_id: str) -> str:
        """What a lost role or a security check does: the old page token stops working;
        asking /me/accounts again gives a new one. Returns the old token."""
        page = self.pages[page_id]
        old, page.token = page.token, "page-" + secrets.token_urlsafe(16)
        return old

    def finish_videos(self) -> None:
        """Facebook is done processing every video uploaded so far."""
        for video in self.videos.values():
            video["ready"] = True

    def live_videos(self) -> list[str]:
        """The videos on their page: a page video appears once it is processed."""
        return [video_id for video_id, video in self.videos.items() if video["ready"]]

    def log_out_everywhere(self) -> None:
        """A password change: every user and page token stops working."""
        self.user_tokens.clear()
        for page in self.pages.values():
            page.token = "page-" + secrets.token_urlsafe(16)

    def throttle(self, pattern: str, code: int = 32, headers: dict[str, str] | None = None) -> None:
        error = graph_error(code, "(#32) Page request limit reached", headers=headers)
        self.fail_next(pattern, error.status, error.body, error.headers)

    # -- tokens ----------------------------------------------------------------

    def token_of(self, request: Request) -> str | None:
        if "access_token" in request.query:
            self.tokens_in_query.append(request.path)
            return request.query["access_token"]
        auth = request.headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() in ("bearer", "oauth") and value:
            return value
        if request.body and "form" in request.headers.get("content-type", ""):
            form_token = _fields(request).get("access_token")
            if form_token:
                return str(form_token)
        return None

    def _user(self, request: Request) -> bool:
        return self.token_of(request) in self.user_tokens

    def _page_for(self, request: Request) -> Page | None:
        token = self.token_of(request)
        return next((p for p in self.pages.values() if p.token == token), None)

    def _access_token(self, request: Request, _match: re.Match[str]) -> Response:
        fields = request.form() if request.body else dict(request.query)
        if fields.get("grant_type") != "fb_exchange_token":
            return self.oauth.token(request)
        if "client_secret" in request.query or "fb_exchange_token" in request.query:
            self.tokens_in_query.append(request.path)
        self.oauth.token_requests.append(fields)
        if fields.get("client_id") != APP_ID or fields.get("client_secret") != APP_SECRET:
            return graph_error(1, "Error validating client secret.")
        if not self.oauth.valid(fields.get("fb_exchange_token")):
            return expired_token()
        token = "user-" + secrets.token_urlsafe(24)
        self.user_tokens.add(token)
        return Response(
            200,
            {"access_token": token, "token_type": "bearer", "expires_in": LONG_LIVED_SECONDS},
        )

    # -- reading -----------------------------------------------------------------

    def _me_accounts(self, request: Request, _match: re.Match[str]) -> Response:
        if not self._user(request):
            return expired_token()
        pages = list(self.pages.values())
        start = int(request.query.get("after") or 0)
        chunk = pages[start : start + self.accounts_page_size]
        data = [
            {
                "id": p.id,
                "name": p.name,
                "access_token": p.token,
                "tasks": p.tasks,
                **({"username": p.username} if p.username else {}),
            }
            for p in chunk
        ]
        body: dict[str, Any] = {"data": data}
        end = start + len(chunk)
        if end < len(pages):
            body["paging"] = {
                "cursors": {"before": str(start), "after": str(end)},
                # Facebook's `next` carries the token in its query: not to be followed.
                "next": f"/me/accounts?access_token={self.token_of(request)}&after={end}",
            }
        return Response(200, body)

    def _me(self, request: Request, _match: re.Match[str]) -> Response:
        page = self._page_for(request)
        if page is not None:
            return Response(200, {"id": page.id, "name": page.name})
        if self._user(request):
            return Response(200, {"id": "77", "name": "Pat Example"})
        return expired_token()

    def _object(self, request: Request, match: re.Match[str]) -> Response:
        object_id = match["id"]
        page = self._page_for(request)
        if page is None:
            return expired_token()
        if object_id in self.pages:
            target = self.pages[object_id]
            return Response(
                200,
                {
                    "id": target.id,
                    "name": target.name,
                    "followers_count": self._followers(),
                    **({"username": target.username} if target.username else {}),
                },
            )
        if object_id in self.videos:
            return Response(200, {"id": object_id, "status": self._video_status(object_id)})
        if object_id in self.posts:
            return Response(
                200,
                {
                    "id": object_id,
                    "shares": {"count": 7},
                    "comments": {
                        "data": [],
                        "summary": {"total_count": len(self.comments.get(object_id, []))},
                    },
                    "reactions": {"data": [], "summary": {"total_count": 40}},
                },
            )
        return _missing(object_id)

    def _followers(self) -> int:
        self.followers += 2
        return self.followers - 2

    def _video_status(self, video_id: str) -> dict[str, Any]:
        video = self.videos[video_id]
        video["polls"] += 1
        if self.video_fails:
            return {
                "video_status": "error",
                "processing_phase": {"status": "error", "errors": [{"message": self.video_fails}]},
            }
        if video["polls"] > self.video_polls_until_ready:
            video["ready"] = True
        if video["ready"]:
            return {"video_status": "ready", "processing_progress": 100}
        return {"video_status": "processing", "processing_progress": 50}

    def _page_posts(self, request: Request, match: re.Match[str]) -> Response:
        page = self._page_for(request)
        if page is None or page.id != match["page"]:
            return expired_token()
        mine = [
            {
                "id": pid,
                "message": post.get("message", ""),
                "created_time": post["created"].strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            for pid, post in reversed(self.posts.items())
            if pid.startswith(page.id + "_")
        ]
        return Response(200, {"data": mine[: int(request.query.get("limit") or 25)]})

    def _insights(self, request: Request, match: re.Match[str]) -> Response:
        if self._page_for(request) is None:
            return expired_token()
        if match["id"] not in self.posts:
            return _missing(match["id"])
        data = []
        for metric in request.query.get("metric", "").split(","):
            if "impressions" in metric or metric.startswith("page_fans"):
                return graph_error(100, "(#100) The value must be a valid insights metric")
            value: Any = {
                "post_total_media_view_unique": self.insights["views"],
                "post_clicks": self.insights["clicks"],
                "post_reactions_by_type_total": {"like": 30, "love": 8, "wow": 2},
            }.get(metric)
            if value is None:
                return graph_error(100, f"(#100) Unknown metric {metric}")
            data.append(
                {"name": metric, "period": "lifetime", "values": [{"value": value}], "id": "x"}
            )
        if self.metrics_growth:
            self.insights = {name: value + 5 for name, value in self.insights.items()}
        return Response(200, {"data": data, "paging": {}})

    # -- writing -------------------------------------------------------------------

    def _page_writer(self, request: Request, page_id: str) -> Page | Response:
        page = self._page_for(request)
        if page is None:
            return expired_token()
        if page.id != page_id:
            return graph_error(200, "(#200) The page token is for another page")
        return page

    def _feed(self, request: Request, match: re.Match[str]) -> Response:
        page = self._page_writer(request, match["page"])
        if isinstance(page, Response):
            return page
        fields = _fields(request)
        attached = fields.get("attached_media")
        if isinstance(attached, str):
            attached = json.loads(attached)
        media = [m["media_fbid"] for m in attached or []]
        for photo in media:
            if photo not in self.photos or self.photos[photo]["published"]:
                return graph_error(100, f"(#100) Invalid attached_media {photo}")
        if not fields.get("message") and not media:
            return graph_error(100, "(#100) A post needs a message or attached media")
        post_id = f"{page.id}_{next(self.ids)}"
        self.posts[post_id] = {
            "message": fields.get("message", ""),
            "attached_media": media,
            "created": datetime.now(UTC),
        }
        return Response(200, {"id": post_id})

    def _photo(self, request: Request, match: re.Match[str]) -> Response:
        page = self._page_writer(request, match["page"])
        if isinstance(page, Response):
            return page
        fields = _fields(request)
        source = fields.get("source")
        if not isinstance(source, bytes) and not fields.get("url"):
            return graph_error(324, "(#324) Requires upload file")
        published = str(fields.get("published", "true")).lower() != "false"
        photo_id = str(next(self.ids))
        self.photos[photo_id] = {"bytes": source, "published": published, "fields": fields}
        if not published:
            return Response(200, {"id": photo_id})
        post_id = f"{page.id}_{next(self.ids)}"
        self.posts[post_id] = {
            "message": fields.get("message", ""),
            "photo": photo_id,
            "created": datetime.now(UTC),
        }
        body: dict[str, Any] = {"id": photo_id}
        if self.photo_post_id:
            body["post_id"] = post_id
        return Response(200, body)

    def _start_upload(self, request: Request, match: re.Match[str]) -> Response:
        if match["app"] != APP_ID:
            return graph_error(100, "(#100) Unknown app")
        if not self._user(request):
            return expired_token()
        params = {**request.query, **_fields(request)}
        session = "upload:" + secrets.token_urlsafe(8)
        self.uploads[session] = Upload(int(params["file_length"]))
        return Response(200, {"id": session})

    def _upload(self, request: Request, match: re.Match[str]) -> Response:
        if not self._user(request):
            return expired_token()
        upload = self.uploads.get(match["session"])
        if upload is None:
            return _missing(match["session"])
        offset = int(request.headers.get("file_offset") or 0)
        if offset != len(upload.data):
            return graph_error(100, f"(#100) file_offset must be {len(upload.data)}")
        upload.data += request.body
        if len(upload.data) < upload.length:
            return Response(200, {"id": match["session"], "file_offset": len(upload.data)})
        return Response(200, {"h": "handle-" + match["session"][7:]})

    def _upload_state(self, request: Request, match: re.Match[str]) -> Response:
        if not self._user(request):
            return expired_token()
        upload = self.uploads[match["session"]]
        return Response(200, {"id": match["session"], "file_offset": len(upload.data)})

    def _video(self, request: Request, match: re.Match[str]) -> Response:
        page = self._page_writer(request, match["page"])
        if isinstance(page, Response):
            return page
        fields = _fields(request)
        handle = fields.get("fbuploader_video_file_chunk")
        if isinstance(handle, str):
            session = "upload:" + handle.removeprefix("handle-")
            upload = self.uploads.get(session)
            if upload is None or len(upload.data) != upload.length:
                return graph_error(100, "(#100) Invalid file handle")
            data = bytes(upload.data)
        elif isinstance(fields.get("source"), bytes):
            data = fields["source"]
        else:
            return graph_error(100, "(#100) No video file")
        video_id = str(next(self.ids))
        self.videos[video_id] = {
            "bytes": data,
            "description": fields.get("description", ""),
            "polls": 0,
            "ready": False,
            "via": "resumable" if handle else "source",
        }
        return Response(200, {"id": video_id})

    def _comment(self, request: Request, match: re.Match[str]) -> Response:
        if self._page_for(request) is None:
            return expired_token()
        target = match["id"]
        if target not in self.posts and target not in self.videos:
            return _missing(target)
        message = str(_fields(request).get("message") or "")
        self.comments.setdefault(target, []).append(message)
        return Response(200, {"id": f"{target}_{next(self.ids)}"})

    def _delete(self, request: Request, match: re.Match[str]) -> Response:
        if self._page_for(request) is None:
            return expired_token()
        target = match["id"]
        if target not in self.posts:
            return _missing(target)
        del self.posts[target]
        self.deleted.append(target)
        return Response(200, {"success": True})


def _missing(object_id: str) -> Response:
    return graph_error(
        100,
        f"Unsupported request - Object with ID '{object_id}' does not exist",
        subcode=33,
        kind="GraphMethodException",
    )


def _fields(request: Request) -> dict[str, Any]:
    """POST fields from a form, a JSON body or multipart (file parts as bytes)."""
    content_type = request.headers.get("content-type", "")
    if not request.body:
        return {}
    if content_type.startswith("application/json"):
        body = request.json()
        return dict(body) if isinstance(body, dict) else {}
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.body
        )
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            fields[str(name)] = payload if part.get_filename() else payload.decode()
        return fields
    if content_type.startswith("application/x-www-form-urlencoded"):
        return request.form()
    return {}
