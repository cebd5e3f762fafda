"""A fake LinkedIn: OAuth (no PKCE needed, 60-day tokens, refresh tokens that keep
their value), `/v2/userinfo`, organization ACLs, and the versioned `/rest/*` API with
its headers, error shapes, image and multi-part video uploads, comments and statistics.

Where sources disagree it takes both readings: PKCE is verified when sent and not
required; upload URLs work with or without the Bearer token; DELETE works with or
without `X-RestLi-Method`; deleting a missing post answers `missing_delete_status`
(204, or 404 as some samples show); a URN in a path may be encoded or not.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import re
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.platform_server import FakeOAuth, FakePlatform, Request, Response

SIXTY_DAYS = 60 * 24 * 3600
YEAR = 365 * 24 * 3600
MEMBER_ID = "abc123XYZ"
MEMBER = f"urn:li:person:{MEMBER_ID}"
RESERVED = set("\\|{}@[]()<>#*_~")
REQUIRED_POST_FIELDS = ("author", "commentary", "visibility", "distribution", "lifecycleState")


def unescape_little_text(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def truncate_like_linkedin(commentary: str) -> str:
    """A bare reserved character silently ends the commentary."""
    escaped = False
    for index, char in enumerate(commentary):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in RESERVED:
            return commentary[:index]
    return commentary


@dataclass
class Video:
    urn: str
    owner: str
    size: int
    upload_token: str
    parts: list[tuple[int, int]]
    received: dict[int, bytes] = field(default_factory=dict)
    etags: dict[int, str] = field(default_factory=dict)
    status: str = "WAITING_UPLOAD"
    polls_left: int = 0


@dataclass
class Post:
    urn: str
    author: str
    commentary: str
    body: dict[str, Any]
    created: float
    comments: list[dict[str, Any]] = field(default_factory=list)


class FakeLinkedIn(FakePlatform):
    def __init__(self) -> None:
        super().__init__()
        self.oauth = FakeOAuth(
            require_pkce=False,
            access_lifetime=SIXTY_DAYS,
            rotate_refresh=False,
        )
        self.member = {
            "sub": MEMBER_ID,
            "name": "Jane Doe",
            "given_name": "Jane",
            "family_name": "Doe",
            "picture": "https://media.licdn.test/jane.png",
            "locale": {"country": "US", "language": "en"},
        }
        self.organizations = {
            "1001": {"id": 1001, "localizedName": "Acme Coffee", "vanityName": "acme-coffee"},
            "1002": {"id": 1002, "localizedName": "Read Only Inc", "vanityName": "read-only"},
        }
        self.roles = {"1001": "ADMINISTRATOR", "1002": "ANALYST"}
        self.images: dict[str, bytes | None] = {}
        self.videos: dict[str, Video] = {}
        self.posts: dict[str, Post] = {}
        self.deleted: list[str] = []
        self.part_size = 4 * 1024 * 1024
        self.processing_polls = 1
        self.processing_fails = False
        self.missing_delete_status = 204
        self.omit_post_id = False
        self.social = {"likes": 7, "comments": 2}
        self.share_stats = {
            "impressionCount": 1200,
            "uniqueImpressionsCount": 900,
            "clickCount": 31,
            "likeCount": 40,
            "commentCount": 6,
            "shareCount": 3,
            "engagement": 0.066,
        }
        self.metrics_growth = True  # each read of a post's numbers finds them grown
        self.followers = 5400
        self._ids = itertools.count(7100000000000000001)

        self.route("GET", "/oauth/v2/authorization", lambda r, _m: self.oauth.authorize(r))
        self.route("POST", "/oauth/v2/accessToken", self._token)
        self.route("POST", "/oauth/v2/revoke", self._revoke)
        self.route("GET", "/v2/userinfo", self._userinfo)
        self.route("GET", "/rest/organizationAcls", self._rest(self._acls))
        self.route("GET", r"/rest/organizations/(?P<id>\d+)", self._rest(self._organization))
        self.route("POST", "/rest/posts", self._rest(self._create_post))
        self.route("GET", "/rest/posts", self._rest(self._posts_by_author))
        self.route("DELETE", r"/rest/posts/(?P<urn>[^/]+)", self._rest(self._delete_post))
        self.route("POST", "/rest/images", self._rest(self._images_action))
        self.route("PUT", r"/upload/images/(?P<id>\w+)", self._put_image)
        self.route("POST", "/rest/videos", self._rest(self._videos_action))
        self.route("PUT", r"/upload/videos/(?P<id>\w+)/(?P<part>\d+)", self._put_video_part)
        self.route("GET", r"/rest/videos/(?P<urn>[^/]+)", self._rest(self._video_status))
        self.route(
            "POST", r"/rest/socialActions/(?P<urn>[^/]+)/comments", self._rest(self._comment)
        )
        self.route("GET", r"/rest/socialActions/(?P<urn>[^/]+)", self._rest(self._social_actions))
        self.route(
            "GET", "/rest/organizationalEntityShareStatistics", self._rest(self._share_statistics)
        )
        self.route("GET", r"/rest/networkSizes/(?P<urn>[^/]+)", self._rest(self._network_size))

    def stop(self) -> None:
        """As the base, without waiting out serve_forever's half-second poll: a connection
        wakes the loop, which then sees the shutdown request (keeps the tests fast)."""
        if self._server is None:
            return
        port = self._server.server_address[1]
        stopping = threading.Thread(target=super().stop)
        stopping.start()
        while stopping.is_alive():
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
                pass
            stopping.join(0.02)

    # -- helpers for tests -----------------------------------------------------

    def member_token(self, lifetime: int = SIXTY_DAYS) -> dict[str, Any]:
        return self.oauth.issue(lifetime)

    def add_post(self, commentary: str, *, author: str = MEMBER, age_hours: float = 0.0) -> Post:
        """A post the author made earlier (commentary as LinkedIn stores it)."""
        urn = f"urn:li:share:{self._next_id()}"
        body = {"author": author, "commentary": commentary}
        post = Post(urn, author, commentary, body, time.time() - age_hours * 3600)
        self.posts[urn] = post
        return post

    def post_by_commentary(self, text: str) -> Post:
        [post] = [p for p in self.posts.values() if unescape_little_text(p.commentary) == text]
        return post

    def _next_id(self) -> str:
        return str(next(self._ids))

    @staticmethod
    def _error(status: int, message: str, code: int | str | None = None) -> Response:
        body: dict[str, Any] = {"message": message, "status": status}
        if code is not None:
            body["serviceErrorCode"] = code
        return Response(status, body)

    def _refusal(self, request: Request) -> Response | None:
        token = request.bearer
        if not token:
            return self._error(401, "Empty oauth2_access_token", 65600)
        if token in self.oauth.revoked:
            return self._error(401, "The token used in the request has been revoked", 65601)
        if not self.oauth.known(token):
            return self._error(401, "Invalid access token", 65600)
        if not self.oauth.valid(token):
            return self._error(401, "The token used in the request has expired", 65602)
        return None

    def _rest(self, handler: Any) -> Any:
        """Every /rest/* call: a valid token, a version, Rest.li 2.0."""

        def checked(request: Request, match: re.Match[str]) -> Response:
            refused = self._refusal(request)
            if refused is not None:
                return refused
            version = request.headers.get("linkedin-version", "")
            if not re.fullmatch(r"20\d{4}", version):
                return self._error(
                    426,
                    "A version must be present. Please specify a version by adding the "
                    "LinkedIn-Version header.",
                    "VERSION_MISSING",
                )
            if request.headers.get("x-restli-protocol-version") != "2.0.0":
                return self._error(400, "X-Restli-Protocol-Version 2.0.0 expected")
            return handler(request, match)

        return checked

    @staticmethod
    def upload_signature(path: str) -> str:
        return hashlib.sha256(b"upload:" + path.encode()).hexdigest()[:32]

    def _upload_url(self, path: str) -> str:
        """Signed like LinkedIn's: the query is what lets the upload in."""
        query = f"ca=vector_feedshare&cn=uploads&sync=0&v=beta&ut={self.upload_signature(path)}"
        return f"{self.url}{path}?{query}"

    def _unsigned(self, request: Request) -> Response | None:
        if request.query.get("ut") != self.upload_signature(request.path):
            return self._error(403, "upload URL signature does not match")
        return None

    # -- OAuth -----------------------------------------------------------------

    def _token(self, request: Request, _match: re.Match[str]) -> Response:
        response = self.oauth.token(request)
        if response.status == 200 and isinstance(response.body, dict):
            if "refresh_token" in response.body:
                response.body["refresh_token_expires_in"] = YEAR
        return response

    def _revoke(self, request: Request, _match: re.Match[str]) -> Response:
        form = request.form()
        if form.get("client_id") != self.oauth.client_id:
            return Response(401, {"error": "invalid_client"})
        if form.get("client_secret") != self.oauth.client_secret:
            return Response(401, {"error": "invalid_client"})
        return self.oauth.revoke(request)

    def _userinfo(self, request: Request, _match: re.Match[str]) -> Response:
        return self._refusal(request) or Response(200, dict(self.member))

    # -- organizations ---------------------------------------------------------

    def _acls(self, request: Request, _match: re.Match[str]) -> Response:
        if request.query.get("q") != "roleAssignee":
            return self._error(400, "q=roleAssignee expected")
        elements = [
            {
                "roleAssignee": MEMBER,
                "organization": f"urn:li:organization:{org_id}",
                "role": role,
                "state": "APPROVED",
            }
            for org_id, role in self.roles.items()
        ]
        return Response(200, {"elements": elements, "paging": {"start": 0, "count": 10}})

    def _organization(self, _request: Request, match: re.Match[str]) -> Response:
        org = self.organizations.get(match["id"])
        if org is None:
            return self._error(404, "Organization not found")
        return Response(200, dict(org))

    def _may_author(self, author: str) -> bool:
        if author == MEMBER:
            return True
        org_id = author.removeprefix("urn:li:organization:")
        return self.roles.get(org_id) in {"ADMINISTRATOR", "CONTENT_ADMIN"}

    # -- posts -----------------------------------------------------------------

    def _create_post(self, request: Request, _match: re.Match[str]) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            return self._error(400, "body must be a JSON object")
        for name in REQUIRED_POST_FIELDS:
            if name not in body:
                return self._error(422, f"ERROR :: /{name} :: field is required but not found")
        if not self._may_author(body["author"]):
            return self._error(403, f"Not enough permissions to post as {body['author']}", 100)
        media_problem = self._check_content(body.get("content"))
        if media_problem:
            return self._error(400, media_problem)
        commentary = truncate_like_linkedin(str(body["commentary"]))
        urn = f"urn:li:share:{self._next_id()}"
        self.posts[urn] = Post(urn, body["author"], commentary, body, time.time())
        headers = {} if self.omit_post_id else {"x-restli-id": urn}
        return Response(201, b"", headers)

    def _check_content(self, content: Any) -> str | None:
        if content is None:
            return None
        ids: list[str] = []
        if "media" in content:
            ids = [content["media"]["id"]]
        elif "multiImage" in content:
            ids = [image["id"] for image in content["multiImage"]["images"]]
            if not 2 <= len(ids) <= 20:
                return "multiImage takes 2 to 20 images"
        for media_id in ids:
            if media_id.startswith("urn:li:image:"):
                if self.images.get(media_id) is None:
                    return f"image {media_id} was not uploaded"
            elif media_id.startswith("urn:li:video:"):
                video = self.videos.get(media_id)
                if video is None or video.status != "AVAILABLE":
                    return f"video {media_id} is not available"
            else:
                return f"unknown media {media_id}"
        return None

    def _posts_by_author(self, request: Request, _match: re.Match[str]) -> Response:
        if request.query.get("q") != "author":
            return self._error(400, "q=author expected")
        author = request.query.get("author", "")
        count = int(request.query.get("count", "10"))
        mine = sorted(
            (p for p in self.posts.values() if p.author == author),
            key=lambda p: p.created,
            reverse=True,
        )[:count]
        elements = [
            {
                "id": p.urn,
                "author": p.author,
                "commentary": p.commentary,
                "createdAt": int(p.created * 1000),
                "lifecycleState": "PUBLISHED",
                "visibility": "PUBLIC",
            }
            for p in mine
        ]
        return Response(200, {"elements": elements, "paging": {"start": 0, "count": count}})

    def _delete_post(self, _request: Request, match: re.Match[str]) -> Response:
        urn = urllib.parse.unquote(match["urn"])
        if self.posts.pop(urn, None) is None:
            if self.missing_delete_status == 404:
                return self._error(404, f"Post {urn} not found")
            return Response(204, b"")
        self.deleted.append(urn)
        return Response(204, b"")

    # -- images ----------------------------------------------------------------

    def _images_action(self, request: Request, _match: re.Match[str]) -> Response:
        if request.query.get("action") != "initializeUpload":
            return self._error(400, "unknown action")
        owner = (request.json() or {}).get("initializeUploadRequest", {}).get("owner", "")
        if not self._may_author(owner):
            return self._error(403, "Not enough permissions to upload for this owner", 100)
        image_id = "D4E10AQ" + self._next_id()
        urn = f"urn:li:image:{image_id}"
        self.images[urn] = None
        return Response(
            200,
            {
                "value": {
                    "uploadUrlExpiresAt": int((time.time() + 3600) * 1000),
                    "uploadUrl": self._upload_url(f"/upload/images/{image_id}"),
                    "image": urn,
                }
            },
        )

    def _put_image(self, request: Request, match: re.Match[str]) -> Response:
        urn = f"urn:li:image:{match['id']}"
        if urn not in self.images:
            return self._error(404, "no such upload")
        refused = self._unsigned(request) or (self._refusal(request) if request.bearer else None)
        if refused is not None:
            return refused
        self.images[urn] = request.body
        return Response(201, b"")

    # -- videos ----------------------------------------------------------------

    def _videos_action(self, request: Request, _match: re.Match[str]) -> Response:
        action = request.query.get("action")
        body = request.json() or {}
        if action == "initializeUpload":
            asked = body.get("initializeUploadRequest", {})
            if not self._may_author(asked.get("owner", "")):
                return self._error(403, "Not enough permissions to upload for this owner", 100)
            size = int(asked["fileSizeBytes"])
            video_id = "D4E10AQ" + self._next_id()
            parts = [
                (first, min(first + self.part_size, size) - 1)
                for first in range(0, size, self.part_size)
            ]
            video = Video(
                f"urn:li:video:{video_id}", asked["owner"], size, "tok-" + video_id, parts
            )
            self.videos[video.urn] = video
            instructions = [
                {
                    "uploadUrl": self._upload_url(f"/upload/videos/{video_id}/{number}"),
                    "firstByte": first,
                    "lastByte": last,
                }
                for number, (first, last) in enumerate(parts)
            ]
            return Response(
                200,
                {
                    "value": {
                        "uploadUrlsExpireAt": int((time.time() + 3600) * 1000),
                        "video": video.urn,
                        "uploadInstructions": instructions,
                        "uploadToken": video.upload_token,
                    }
                },
            )
        if action == "finalizeUpload":
            asked = body.get("finalizeUploadRequest", {})
            pending = self.videos.get(asked.get("video", ""))
            if pending is None:
                return self._error(404, "no such video")
            video = pending
            if asked.get("uploadToken", "") != video.upload_token:
                return self._error(400, "uploadToken does not match")
            expected = [video.etags.get(n) for n in range(len(video.parts))]
            if asked.get("uploadedPartIds") != expected:
                return self._error(400, "uploadedPartIds do not match the uploaded parts")
            video.status = "PROCESSING"
            video.polls_left = self.processing_polls
            return Response(200, b"")
        return self._error(400, "unknown action")

    def _put_video_part(self, request: Request, match: re.Match[str]) -> Response:
        video = self.videos.get(f"urn:li:video:{match['id']}")
        number = int(match["part"])
        if video is None or number >= len(video.parts):
            return self._error(404, "no such upload")
        unsigned = self._unsigned(request)
        if unsigned is not None:
            return unsigned
        first, last = video.parts[number]
        if len(request.body) != last - first + 1:
            return self._error(400, f"part {number} must be {last - first + 1} bytes")
        video.received[number] = request.body
        video.etags[number] = f"/ambry-video/signedId/{match['id']}-{number}"
        return Response(200, b"", {"ETag": video.etags[number]})

    def _video_status(self, _request: Request, match: re.Match[str]) -> Response:
        urn = urllib.parse.unquote(match["urn"])
        video = self.videos.get(urn)
        if video is None:
            return self._error(404, "no such video")
        if video.status == "PROCESSING":
            if video.polls_left <= 0:
                video.status = "PROCESSING_FAILED" if self.processing_fails else "AVAILABLE"
            video.polls_left -= 1
        body: dict[str, Any] = {"id": urn, "owner": video.owner, "status": video.status}
        if video.status == "PROCESSING_FAILED":
            body["processingFailureReason"] = "Video format is not supported"
        return Response(200, body)

    def video_bytes(self, urn: str) -> bytes:
        video = self.videos[urn]
        return b"".join(video.received[n] for n in range(len(video.parts)))

    # -- comments and statistics ------------------------------------------------

    def _comment(self, request: Request, match: re.Match[str]) -> Response:
        urn = urllib.parse.unquote(match["urn"])
        post = self.posts.get(urn)
        if post is None:
            return self._error(404, f"Post {urn} not found")
        body = request.json() or {}
        if body.get("object") != urn or not self._may_author(body.get("actor", "")):
            return self._error(400, "actor and object must name the author and the post")
        text = (body.get("message") or {}).get("text")
        if not text:
            return self._error(422, "ERROR :: /message/text :: field is required but not found")
        comment_id = self._next_id()
        post.comments.append({"id": comment_id, "actor": body["actor"], "text": text})
        comment_urn = f"urn:li:comment:(urn:li:activity:{urn.rsplit(':', 1)[1]},{comment_id})"
        return Response(
            201,
            {"id": comment_id, "object": urn, "actor": body["actor"], "message": {"text": text}},
            {"x-restli-id": comment_urn},
        )

    def _social_actions(self, _request: Request, match: re.Match[str]) -> Response:
        urn = urllib.parse.unquote(match["urn"])
        if urn not in self.posts:
            return self._error(404, f"Post {urn} not found")
        likes, comments = self.social["likes"], self.social["comments"]
        if self.metrics_growth:
            self.social["likes"] += 1
        return Response(
            200,
            {
                "target": urn,
                "likesSummary": {"totalLikes": likes, "likedByCurrentUser": False},
                "commentsSummary": {
                    "totalFirstLevelComments": comments,
                    "aggregatedTotalComments": comments,
                },
            },
        )

    def _share_statistics(self, request: Request, _match: re.Match[str]) -> Response:
        q = request.query
        if q.get("q") != "organizationalEntity" or not q.get("organizationalEntity"):
            return self._error(400, "q=organizationalEntity&organizationalEntity= expected")
        listed = q.get("shares") or q.get("ugcPosts") or ""
        found = re.fullmatch(r"List\((.+)\)", listed)
        if not found:
            return self._error(400, "shares=List(…) expected")
        urns = [urllib.parse.unquote(u) for u in found[1].split(",")]
        elements = []
        for urn in urns:
            post = self.posts.get(urn)
            if post is None or post.author != q["organizationalEntity"]:
                continue
            key = "ugcPost" if urn.startswith("urn:li:ugcPost:") else "share"
            elements.append(
                {
                    "organizationalEntity": q["organizationalEntity"],
                    key: urn,
                    "totalShareStatistics": dict(self.share_stats),
                }
            )
        if self.metrics_growth and elements:
            self.share_stats["impressionCount"] += 10
            self.share_stats["likeCount"] += 1
        return Response(200, {"elements": elements, "paging": {"start": 0, "count": 10}})

    def _network_size(self, request: Request, match: re.Match[str]) -> Response:
        urn = urllib.parse.unquote(match["urn"])
        if not urn.startswith("urn:li:organization:"):
            return self._error(400, "networkSizes takes an organization")
        if request.query.get("edgeType") != "COMPANY_FOLLOWED_BY_MEMBER":
            return self._error(400, "edgeType=COMPANY_FOLLOWED_BY_MEMBER expected")
        self.followers += 5
        return Response(200, {"firstDegreeSize": self.followers - 5})
