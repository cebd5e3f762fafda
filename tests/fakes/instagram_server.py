"""A fake Graph API for Instagram professional accounts (Facebook Login variant).

It answers like graph.facebook.com: the Facebook login dialog and token endpoint
(no PKCE; client id and secret in the form), `fb_exchange_token`, `/me/accounts`,
`/{page-id}?fields=instagram_business_account{…}`, media containers with
`status_code`, `media_publish`, comments, insights, `content_publishing_limit`,
the account's media list and DELETE. Errors use the Graph shape
(`{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`, HTTP 400)
with the real codes: 190 for a refused token, 4/17/32/613/80002 for throttling
with `X-Business-Use-Case-Usage`, 9007/2207027 for a container not yet ready.

Like Meta, it downloads every media URL it is given (`image_url`, `video_url`):
`host(name, data)` serves files under `/cdn/`, standing in for the public host
AUTOPOSTR_INSTAGRAM_MEDIA_BASE_URL points at. Images must be JPEG; a video is
IN_PROGRESS for `video_polls` status checks, then FINISHED (or ERROR when the
bytes are no MP4/MOV).

Where sources disagree it takes both readings: the token in `Authorization:
Bearer` or `Authorization: OAuth`; parameters as a form, JSON or query string;
`children` as a comma-separated string or a list; insights in the `values` or
the `total_value` shape (`insights_total_value`); DELETE either works
(`delete_supported`) or answers "Unsupported delete request".
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.platform_server import FakeOAuth, FakePlatform, Request, Response

VERSION = r"/v\d+\.\d+"
LONG_LIVED = 5183944
IG_TIME = "%Y-%m-%dT%H:%M:%S%z"


def graph_error(
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    kind: str = "OAuthException",
    status: int = 400,
    user_msg: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {
        "message": message,
        "type": kind,
        "code": code,
        "fbtrace_id": "A" + secrets.token_hex(8),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    if user_msg:
        error["error_user_title"] = "Error"
        error["error_user_msg"] = user_msg
    return Response(status, {"error": error}, headers or {})


def throttle_body(code: int = 80002) -> dict[str, Any]:
    return {
        "error": {
            "message": "(#80002) There have been too many calls to this Instagram account. "
            "Wait a bit and try again.",
            "type": "OAuthException",
            "code": code,
            "fbtrace_id": "Athrottle",
        }
    }


def usage_header(minutes: int, kind: str = "instagram") -> dict[str, str]:
    usage = {
        "17841400000000001": [
            {
                "type": kind,
                "call_count": 100,
                "total_cputime": 30,
                "total_time": 40,
                "estimated_time_to_regain_access": minutes,
            }
        ]
    }
    return {"X-Business-Use-Case-Usage": json.dumps(usage)}


@dataclass
class Page:
    id: str
    name: str
    ig_id: str | None = None
    username: str | None = None


@dataclass
class Container:
    id: str
    owner: str
    params: dict[str, Any]
    status: str = "FINISHED"
    status_text: str = ""
    polls_left: int = 0
    children: list[str] = field(default_factory=list)


@dataclass
class Media:
    id: str
    owner: str
    caption: str
    timestamp: datetime
    container: str
    comments: list[str] = field(default_factory=list)
    likes: int = 0

    @property
    def permalink(self) -> str:
        return f"https://www.instagram.com/p/{self.id}/"


class FakeInstagram(FakePlatform):
    def __init__(self, *, video_polls: int = 2) -> None:
        super().__init__()
        self.oauth = FakeOAuth(require_pkce=False, issue_refresh=False, access_lifetime=3600)
        self.pages = [
            Page("101", "Acme Coffee", "17841400000000001", "acme.coffee"),
            Page("102", "Side Project"),
            Page("103", "Acme Bakery", "17841400000000003", "acme.bakery"),
        ]
        self.video_polls = video_polls
        self.quota_total = 100
        self.quota_duration = 86400
        self.delete_supported = True
        self.insights_total_value = False
        self.too_few_viewers: set[str] = set()
        self.metrics_growth = True  # each insights read finds the post liked once more
        self.followers = 1234
        self.strict_exchange = False  # True: an expired token cannot be exchanged (Meta's rule)
        self.hosted: dict[str, bytes] = {}
        self.fetched: list[str] = []
        self.containers: dict[str, Container] = {}
        self.media: dict[str, Media] = {}
        self.exchanges: list[dict[str, str]] = []
        self._ids = 17900000000000000
        self._id_lock = threading.Lock()

        def route(method: str, path: str, handler: Any) -> None:
            self.route(method, VERSION + path, handler)

        route("GET", "/dialog/oauth", lambda r, _m: self.oauth.authorize(r))
        route("GET", "/oauth/access_token", self._token)
        route("POST", "/oauth/access_token", self._token)
        route("GET", "/me/accounts", self._pages)
        route("GET", r"/(?P<ig>\d+)/content_publishing_limit", self._limit)
        route("POST", r"/(?P<ig>\d+)/media", self._create)
        route("GET", r"/(?P<ig>\d+)/media", self._list)
        route("POST", r"/(?P<ig>\d+)/media_publish", self._publish)
        route("POST", r"/(?P<id>\d+)/comments", self._comment)
        route("GET", r"/(?P<id>\d+)/insights", self._insights)
        route("GET", r"/(?P<id>\d+)", self._object)
        route("DELETE", r"/(?P<id>\d+)", self._delete)
        self.route("GET", r"/cdn/(?P<name>[^/]+)", self._cdn)

    def stop(self) -> None:
        """Shut down in the background: `shutdown()` waits out serve_forever's 0.5 s poll,
        which would add half a second to every test."""
        server, self._server = self._server, None
        if server is not None:

            def close() -> None:
                server.shutdown()
                server.server_close()

            threading.Thread(target=close, daemon=True).start()

    # -- test helpers ---------------------------------------------------------

    def host(self, name: str, data: bytes) -> str:
        self.hosted[name] = data
        return f"{self.url}/cdn/{name}"

    def user_token(self, lifetime: int = LONG_LIVED) -> str:
        token = self.oauth.issue(lifetime)
        return str(token["access_token"])

    def publish_calls(self) -> list[Request]:
        return self.calls("POST", VERSION + r"/\d+/media_publish")

    def container_calls(self) -> list[Request]:
        return self.calls("POST", VERSION + r"/\d+/media")

    def add_media(self, owner: str, caption: str, age: timedelta = timedelta(0)) -> Media:
        item = Media(self._new_id(), owner, caption, datetime.now(UTC) - age, "")
        self.media[item.id] = item
        return item

    # -- plumbing -------------------------------------------------------------

    def _new_id(self) -> str:
        with self._id_lock:
            self._ids += 1
            return str(self._ids)

    @staticmethod
    def params(request: Request) -> dict[str, Any]:
        """Query, form or JSON parameters: the Graph API takes them all."""
        merged: dict[str, Any] = dict(request.query)
        if request.body:
            if request.headers.get("content-type", "").startswith("application/json"):
                merged.update(request.json())
            else:
                merged.update(request.form())
        return merged

    def _token_of(self, request: Request) -> str | None:
        value = request.headers.get("authorization", "")
        for scheme in ("bearer ", "oauth "):
            if value.lower().startswith(scheme):
                return value[len(scheme) :]
        return None

    def _refused(self, request: Request) -> Response | None:
        token = self._token_of(request)
        if token is None:
            return graph_error(
                2500, "An active access token must be used to query information about the user."
            )
        if not self.oauth.valid(token):
            return graph_error(
                190,
                "Error validating access token: Session has expired on Monday, 01-Jan-24.",
                subcode=463,
            )
        return None

    def _ig_owner(self, ig: str) -> Page | None:
        return next((p for p in self.pages if p.ig_id == ig), None)

    @staticmethod
    def _missing(object_id: str, verb: str = "get") -> Response:
        return graph_error(
            100,
            f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation.",
            subcode=33,
            kind="GraphMethodException",
        )

    def _fetch(self, url: str) -> bytes | None:
        """What Meta does with image_url / video_url: download it."""
        self.fetched.append(url)
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return bytes(answer.read())
        except (urllib.error.URLError, ValueError, OSError):
            return None

    # -- OAuth ----------------------------------------------------------------

    def _token(self, request: Request, _m: re.Match[str]) -> Response:
        form = self.params(request)
        if form.get("grant_type") != "fb_exchange_token":
            return self.oauth.token(request)
        self.exchanges.append(form)
        if form.get("client_id") != self.oauth.client_id or (
            form.get("client_secret") != self.oauth.client_secret
        ):
            return graph_error(101, "Error validating application. Invalid application ID.")
        old = form.get("fb_exchange_token", "")
        usable = self.oauth.valid(old) or (
            not self.strict_exchange and self.oauth.known(old) and old not in self.oauth.revoked
        )
        if not usable:
            return graph_error(
                190, "Error validating access token: Session has expired.", subcode=463
            )
        fresh = self.oauth.issue(LONG_LIVED)
        return Response(
            200,
            {
                "access_token": fresh["access_token"],
                "token_type": "bearer",
                "expires_in": LONG_LIVED,
            },
        )

    # -- pages ----------------------------------------------------------------

    def _pages(self, request: Request, _m: re.Match[str]) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        # Cursor paging two pages at a time, so clients must follow `after`.
        start = int(request.query.get("after") or 0)
        chunk = self.pages[start : start + 2]
        data = [
            {
                "id": p.id,
                "name": p.name,
                "access_token": "page-" + p.id,
                "tasks": ["CREATE_CONTENT"],
            }
            for p in chunk
        ]
        paging: dict[str, Any] = {"cursors": {"before": str(start), "after": str(start + 2)}}
        if start + 2 < len(self.pages):
            # Like Meta, `next` repeats the token in its query: clients must not follow it.
            paging["next"] = f"{self.url}/v23.0/me/accounts?access_token=LEAK&after={start + 2}"
        return Response(200, {"data": data, "paging": paging})

    # -- objects --------------------------------------------------------------

    def _object(self, request: Request, match: re.Match[str]) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        object_id = match["id"]
        fields = request.query.get("fields", "")
        page = next((p for p in self.pages if p.id == object_id), None)
        if page is not None:
            body: dict[str, Any] = {"id": page.id}
            if "instagram_business_account" in fields and page.ig_id:
                linked: dict[str, Any] = {"id": page.ig_id}
                if "username" in fields:
                    linked["username"] = page.username
                if "name" in fields.split("{", 1)[-1]:
                    linked["name"] = page.name
                body["instagram_business_account"] = linked
            return Response(200, body)
        owner = self._ig_owner(object_id)
        if owner is not None:
            media_count = sum(1 for m in self.media.values() if m.owner == object_id)
            return Response(
                200,
                {
                    "id": object_id,
                    "username": owner.username,
                    "name": owner.name,
                    "followers_count": self._followers(),
                    "media_count": media_count,
                },
            )
        container = self.containers.get(object_id)
        if container is not None:
            return Response(200, self._status(container))
        item = self.media.get(object_id)
        if item is not None:
            return Response(
                200,
                {
                    "id": item.id,
                    "permalink": item.permalink,
                    "caption": item.caption,
                    "timestamp": item.timestamp.strftime(IG_TIME),
                    "like_count": item.likes,
                    "comments_count": len(item.comments),
                },
            )
        return self._missing(object_id)

    def _followers(self) -> int:
        self.followers += 4
        return self.followers - 4

    def _status(self, container: Container) -> dict[str, Any]:
        if container.status == "IN_PROGRESS":
            if container.polls_left > 0:
                container.polls_left -= 1
            else:
                container.status = "FINISHED"
        if container.children and container.status == "FINISHED":
            if any(self.containers[c].status != "FINISHED" for c in container.children):
                container.status = "IN_PROGRESS"
        body = {"id": container.id, "status_code": container.status}
        if container.status_text:
            body["status"] = container.status_text
        return body

    # -- containers -----------------------------------------------------------

    def _create(self, request: Request, match: re.Match[str]) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        ig = match["ig"]
        if self._ig_owner(ig) is None:
            return self._missing(ig, "post")
        params = self.params(request)
        if len(str(params.get("caption") or "")) > 2200:
            return graph_error(100, "The caption is too long.", subcode=2207010)
        kind = str(params.get("media_type") or "IMAGE")
        carousel_item = str(params.get("is_carousel_item", "")).lower() == "true"
        container = Container(self._new_id(), ig, params)
        if kind == "CAROUSEL":
            children = params.get("children") or ""
            ids = children if isinstance(children, list) else str(children).split(",")
            ids = [str(c).strip() for c in ids if str(c).strip()]
            if not 2 <= len(ids) <= 10 or any(c not in self.containers for c in ids):
                return graph_error(100, "The carousel children are invalid.", subcode=2207021)
            container.children = ids
        elif kind == "VIDEO" and not carousel_item:
            return graph_error(
                100,
                "The VIDEO media type is no longer supported for feed posts: use REELS.",
                subcode=2207065,
            )
        elif kind in ("REELS", "VIDEO", "STORIES") and params.get("video_url"):
            data = self._fetch(str(params["video_url"]))
            if data is None:
                return self._download_failed(str(params["video_url"]))
            container.status, container.polls_left = "IN_PROGRESS", self.video_polls
            if b"ftyp" not in data[:64]:
                container.status, container.status_text = (
                    "ERROR",
                    "Error: The video format is not supported. (2207026)",
                )
        elif params.get("image_url"):
            data = self._fetch(str(params["image_url"]))
            if data is None:
                return self._download_failed(str(params["image_url"]))
            if not data.startswith(b"\xff\xd8"):
                return graph_error(
                    9004,
                    "Only photo or video can be accepted as media type.",
                    subcode=2207083,
                    user_msg="The image format is not supported. Use a JPEG image.",
                )
        else:
            return graph_error(100, "(#100) The parameter image_url is required.")
        self.containers[container.id] = container
        return Response(200, {"id": container.id})

    def _download_failed(self, url: str) -> Response:
        return graph_error(
            9004,
            "Only photo or video can be accepted as media type.",
            subcode=2207052,
            user_msg=f"The media could not be fetched from this uri: {url}",
        )

    def _cdn(self, request: Request, match: re.Match[str]) -> Response:
        data = self.hosted.get(match["name"])
        if data is None:
            return Response(404, b"not found")
        kind = "video/mp4" if match["name"].endswith(".mp4") else "image/jpeg"
        return Response(200, data, {"Content-Type": kind})

    def _published_in_window(self, ig: str) -> int:
        since = datetime.now(UTC) - timedelta(seconds=self.quota_duration)
        return sum(1 for m in self.media.values() if m.owner == ig and m.timestamp > since)

    def _publish(self, request: Request, match: re.Match[str]) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        ig = match["ig"]
        container = self.containers.get(str(self.params(request).get("creation_id") or ""))
        if container is None or container.owner != ig:
            return graph_error(100, "(#100) The parameter creation_id is required.")
        if self._published_in_window(ig) >= self.quota_total:
            return graph_error(
                9,
                "Application request limit reached",
                subcode=2207042,
                user_msg="You have reached the maximum number of posts allowed in 24 hours.",
            )
        self._status(container)
        if container.status == "PUBLISHED":
            return graph_error(100, "The media has already been published.", subcode=2207008)
        if container.status != "FINISHED":
            return graph_error(
                9007,
                "Media ID is not available",
                subcode=2207027,
                user_msg="The media is not ready for publishing, please wait for a moment.",
            )
        container.status = "PUBLISHED"
        item = Media(
            self._new_id(),
            ig,
            str(container.params.get("caption") or ""),
            datetime.now(UTC),
            container.id,
        )
        self.media[item.id] = item
        return Response(200, {"id": item.id})

    def _list(self, request: Request, match: re.Match[str]) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        limit = int(request.query.get("limit") or 25)
        own = sorted(
            (m for m in self.media.values() if m.owner == match["ig"]),
            key=lambda m: m.timestamp,
            reverse=True,
        )[:limit]
        wanted = request.query.get("fields", "id").split(",")
        data = []
        for item in own:
            row = {
                "id": item.id,
                "caption": item.caption,
                "timestamp": item.timestamp.strftime(IG_TIME),
                "permalink": item.permalink,
            }
            data.append({k: v for k, v in row.items() if k in wanted or k == "id"})
        return Response(200, {"data": data})

    def _limit(self, request: Request, match: re.Match[str]) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        usage = self._published_in_window(match["ig"])
        config = {"quota_total": self.quota_total, "quota_duration": self.quota_duration}
        return Response(200, {"data": [{"quota_usage": usage, "config": config}]})

    # -- after publishing -----------------------------------------------------

    def _comment(self, request: Request, match: re.Match[str]) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        item = self.media.get(match["id"])
        if item is None:
            return self._missing(match["id"], "post")
        message = str(self.params(request).get("message") or "")
        if not message:
            return graph_error(100, "(#100) The parameter message is required.")
        item.comments.append(message)
        return Response(200, {"id": self._new_id()})

    def _insights(self, request: Request, match: re.Match[str]) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        item = self.media.get(match["id"])
        if item is None:
            return self._missing(match["id"])
        if item.id in self.too_few_viewers:
            return graph_error(
                10, "(#10) Not enough viewers for the media to show insights", kind="OAuthException"
            )
        names = request.query.get("metric", "").split(",")
        for gone in ("impressions", "plays", "video_views"):
            if gone in names:
                return graph_error(
                    100,
                    f"(#100) {gone} metric is no longer supported for media created after "
                    "July 2, 2024",
                )
        numbers = {
            "views": 900 + item.likes,
            "reach": 700,
            "likes": item.likes,
            "comments": len(item.comments),
            "shares": 4,
            "saved": 6,
            "total_interactions": item.likes + len(item.comments) + 10,
        }
        data = []
        for name in names:
            if name not in numbers:
                return graph_error(100, f"(#100) metric must be one of the known metrics: {name}")
            entry: dict[str, Any] = {
                "name": name,
                "period": "lifetime",
                "title": name.title(),
                "id": f"{item.id}/insights/{name}/lifetime",
            }
            if self.insights_total_value:
                entry["total_value"] = {"value": numbers[name]}
            else:
                entry["values"] = [{"value": numbers[name]}]
            data.append(entry)
        if self.metrics_growth:
            item.likes += 1
        return Response(200, {"data": data})

    def _delete(self, request: Request, match: re.Match[str]) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        if not self.delete_supported or match["id"] not in self.media:
            return self._missing(match["id"], "delete")
        del self.media[match["id"]]
        return Response(200, {"success": True})
