"""A fake X API v2: OAuth 2.0 with PKCE, posts, replies, media upload v2 (simple and
chunked, with processing status), metrics, the user timeline, and X's error shapes.

Where sources disagree the fake takes both readings: the dedicated chunked
endpoints (`/2/media/upload/initialize`, `/{id}/append`, `/{id}/finalize`) and
the single endpoint with `command=INIT|APPEND|FINALIZE`; `tweet.fields` and
`post.fields`; `retweet_count` and (with `metrics_naming="repost"` or when asked
with `post.fields`) `repost_count`; alt text as `{"id", "metadata": {"alt_text"}}`
or `{"media_id", "alt_text"}`; an APPEND chunk as `media` or base64 `media_data`.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import html
import itertools
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.platform_server import FakeOAuth, FakePlatform, Request, Response

USER = {"id": "2244994945", "username": "acme", "name": "Acme Inc"}
TWEET_FIELDS = {
    "text",
    "media",
    "reply",
    "quote_tweet_id",
    "poll",
    "reply_settings",
    "edit_options",
    "community_id",
    "nullcast",
    "made_with_ai",
    "paid_partnership",
    "for_super_followers_only",
    "direct_message_deep_link",
    "geo",
}
MAX_CHUNK = 5 * 1024 * 1024
PRIVATE = {"private_impressions", "url_link_clicks", "user_profile_clicks", "engagements"}
GROWTH = {"like_count": 1, "impression_count": 20, "private_impressions": 25, "url_link_clicks": 1}
_URL = re.compile(r"https?://\S+")


def problem(status: int, title: str, detail: str, kind: str = "about:blank") -> Response:
    """X's RFC 7807-like error body."""
    body = {"title": title, "detail": detail, "type": kind, "status": status}
    return Response(status, body)


def invalid_request(message: str) -> Response:
    return Response(
        400,
        {
            "errors": [{"parameters": {}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
    )


def multipart(request: Request) -> dict[str, bytes]:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return {}
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.body
    )
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload
    return fields


@dataclass
class Media:
    id: str
    media_type: str
    category: str
    total_bytes: int
    chunks: dict[int, bytes] = field(default_factory=dict)
    finalized: bool = False
    polls_left: int = 0  # STATUS answers before processing ends
    fail_with: str | None = None
    alt_text: str | None = None

    @property
    def content(self) -> bytes:
        return b"".join(self.chunks[i] for i in sorted(self.chunks))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def state(self) -> str:
        if not self.finalized:
            return "pending"
        if self.polls_left > 0:
            return "in_progress"
        return "failed" if self.fail_with else "succeeded"

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"state": self.state}
        if self.state in ("pending", "in_progress"):
            info["check_after_secs"] = 1
            info["progress_percent"] = 40
        if self.state == "failed":
            info["error"] = {"code": 1, "name": "InvalidMedia", "message": self.fail_with}
        return info


@dataclass
class Tweet:
    id: str
    text: str
    created_at: datetime
    reply_to: str | None = None
    media_ids: list[str] = field(default_factory=list)
    metrics: dict[str, int] = field(default_factory=dict)
    deleted: bool = False

    def rendered_text(self) -> str:
        """The text as X gives it back: links through t.co, &<> escaped, and a link
        to the media at the end."""
        counter = itertools.count()
        text = _URL.sub(lambda _m: f"https://t.co/l{self.id[-4:]}{next(counter)}", self.text)
        text = html.escape(text, quote=False)
        if self.media_ids:
            text = (text + " " if text else "") + f"https://t.co/m{self.id[-6:]}"
        return text


class FakeX(FakePlatform):
    def __init__(self, *, processing_polls: int = 2, tweets_per_window: int = 100) -> None:
        super().__init__()
        self.oauth = FakeOAuth(client_id="x-client", client_secret="x-secret")
        self.tweets: dict[str, Tweet] = {}
        self.media: dict[str, Media] = {}
        self.processing_polls = processing_polls
        self.fail_processing: str | None = None
        self.metrics_naming = "retweet"  # or "repost", the newest spec's name
        self.non_public_allowed = True
        self.metrics_growth = True  # each read of a post's metrics finds them grown
        self.metric_reads: Counter[str] = Counter()  # post id -> reads of its metrics
        self.lookups = 0  # GET /2/tweets?ids= answered so far
        self.rate_limit_after: int | None = None  # lookups allowed before 429s
        self.followers = 1200
        self.tweets_per_window = tweets_per_window
        self.window_reset = int(time.time()) + 900
        self.sent_in_window = 0
        self.extra_headers: dict[str, str] = {}
        self.created = 0
        self._create_faults: dict[int, Response] = {}
        self._ids = itertools.count(1_790_000_000_000_000_000)
        self._media_ids = itertools.count(1_880_000_000_000_000_000)

        self.route("GET", "/i/oauth2/authorize", lambda r, _m: self.oauth.authorize(r))
        self.route("POST", "/2/oauth2/token", lambda r, _m: self.oauth.token(r))
        self.route("POST", "/2/oauth2/revoke", lambda r, _m: self.oauth.revoke(r))
        self.route("GET", "/2/users/me", self._authed(self._me))
        self.route("GET", r"/2/users/(\d+)/tweets", self._authed(self._timeline))
        self.route("POST", "/2/tweets", self._authed(self._create))
        self.route("GET", "/2/tweets", self._authed(self._lookup_many))
        self.route("GET", r"/2/tweets/(\d+)", self._authed(self._lookup))
        self.route("DELETE", r"/2/tweets/(\d+)", self._authed(self._delete))
        self.route("POST", "/2/media/upload", self._authed(self._upload))
        self.route("GET", "/2/media/upload", self._authed(self._status))
        self.route("POST", "/2/media/upload/initialize", self._authed(self._initialize))
        self.route("POST", r"/2/media/upload/(\d+)/append", self._authed(self._append))
        self.route("POST", r"/2/media/upload/(\d+)/finalize", self._authed(self._finalize))
        self.route("POST", "/2/media/metadata", self._authed(self._metadata))

    # -- helpers tests use -------------------------------------------------

    def token(self) -> dict[str, Any]:
        return self.oauth.issue()

    def fail_after_posts(
        self, posts: int, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        """Once `posts` more posts were created, the next POST /2/tweets gets this answer
        (a thread stopped half-way)."""
        self._create_faults[self.created + posts] = Response(status, body, headers or {})

    def live_tweets(self) -> list[Tweet]:
        return [t for t in self.tweets.values() if not t.deleted]

    def add_tweet(self, text: str, *, reply_to: str | None = None, age_hours: float = 0.0) -> Tweet:
        tweet = Tweet(
            str(next(self._ids)),
            text,
            datetime.fromtimestamp(time.time() - age_hours * 3600, UTC),
            reply_to,
        )
        self.tweets[tweet.id] = tweet
        return tweet

    # -- plumbing ----------------------------------------------------------

    def _authed(self, handler: Any) -> Any:
        def check(request: Request, match: re.Match[str]) -> Response:
            if not self.oauth.valid(request.bearer):
                return problem(401, "Unauthorized", "Unauthorized")
            return handler(request, match)

        return check

    def _body(self, request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").startswith("application/json"):
            body = request.json()
            return body if isinstance(body, dict) else {}
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            return {k: v.decode("latin-1") for k, v in multipart(request).items()}
        if request.body:
            return request.form()
        return dict(request.query)

    # -- users -------------------------------------------------------------

    def _me(self, request: Request, _match: re.Match[str]) -> Response:
        data: dict[str, Any] = dict(USER)
        if "public_metrics" in request.query.get("user.fields", ""):
            self.followers += 3  # people follow between two looks
            data["public_metrics"] = {
                "followers_count": self.followers - 3,
                "following_count": 80,
                "tweet_count": len(self.live_tweets()),
                "listed_count": 3,
            }
        return Response(200, {"data": data})

    def _timeline(self, request: Request, match: re.Match[str]) -> Response:
        if match.group(1) != USER["id"]:
            return problem(404, "Not Found Error", "Could not find user")
        q = request.query
        size = int(q.get("max_results", "10"))
        if not 5 <= size <= 100:
            return invalid_request("max_results must be between 5 and 100")
        tweets = sorted(self.live_tweets(), key=lambda t: int(t.id), reverse=True)
        if "start_time" in q:
            since = datetime.fromisoformat(q["start_time"].replace("Z", "+00:00"))
            tweets = [t for t in tweets if t.created_at >= since]
        if "replies" in q.get("exclude", ""):
            tweets = [t for t in tweets if t.reply_to is None]
        start = int(q.get("pagination_token", "0") or 0)
        page = tweets[start : start + size]
        fields = q.get("tweet.fields", "")
        data = []
        for tweet in page:
            item: dict[str, Any] = {
                "id": tweet.id,
                "text": tweet.rendered_text(),
                "edit_history_tweet_ids": [tweet.id],
            }
            if "created_at" in fields:
                item["created_at"] = tweet.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            if "referenced_tweets" in fields and tweet.reply_to:
                item["referenced_tweets"] = [{"type": "replied_to", "id": tweet.reply_to}]
            data.append(item)
        meta: dict[str, Any] = {"result_count": len(data)}
        if data:
            meta["newest_id"], meta["oldest_id"] = data[0]["id"], data[-1]["id"]
        if start + size < len(tweets):
            meta["next_token"] = str(start + size)
        body: dict[str, Any] = {"meta": meta}
        if data:
            body["data"] = data
        return Response(200, body)

    # -- posts -------------------------------------------------------------

    def _rate_headers(self) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(self.tweets_per_window),
            "x-rate-limit-remaining": str(max(0, self.tweets_per_window - self.sent_in_window)),
            "x-rate-limit-reset": str(self.window_reset),
            **self.extra_headers,
        }

    def _create(self, request: Request, _match: re.Match[str]) -> Response:
        from autopostr.platforms.textcount import count

        fault = self._create_faults.pop(self.created, None)
        if fault is not None:
            return fault
        if self.sent_in_window >= self.tweets_per_window:
            response = problem(
                429,
                "Too Many Requests",
                "Too Many Requests",
                "https://api.twitter.com/2/problems/rate-limit-exceeded",
            )
            response.headers = self._rate_headers()
            return response
        try:
            body = request.json()
        except ValueError:
            return invalid_request("body is not JSON")
        if not isinstance(body, dict):
            return invalid_request("body must be an object")
        unknown = set(body) - TWEET_FIELDS
        if unknown:
            return invalid_request(f"unknown fields: {sorted(unknown)}")
        text = body.get("text", "")
        media_ids = list((body.get("media") or {}).get("media_ids") or [])
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if not text and not media_ids:
            return invalid_request("text or media is required")
        if not 0 <= len(media_ids) <= 4:
            return invalid_request("media_ids holds 1 to 4 ids")
        for media_id in media_ids:
            media = self.media.get(str(media_id))
            if media is None or media.state != "succeeded":
                return invalid_request("Your media IDs are invalid.")
        if reply_to is not None and (reply_to not in self.tweets or self.tweets[reply_to].deleted):
            return problem(
                403,
                "Forbidden",
                "You attempted to reply to a Tweet that is deleted or not visible to you.",
            )
        if count(text, "x-weighted") > 280:
            return problem(403, "Forbidden", "Your Tweet text is too long.")
        if text and any(t.text == text for t in self.live_tweets()):
            return problem(
                403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."
            )
        tweet = Tweet(str(next(self._ids)), text, datetime.now(UTC), reply_to, media_ids)
        tweet.metrics = {"like_count": 0, "reply_count": 0, "retweet_count": 0, "quote_count": 0}
        self.tweets[tweet.id] = tweet
        self.sent_in_window += 1
        self.created += 1
        return Response(
            201, {"data": {"id": tweet.id, "text": tweet.rendered_text()}}, self._rate_headers()
        )

    def _lookup(self, request: Request, match: re.Match[str]) -> Response:
        data, errors = self._metrics_of(request, [match.group(1)])
        if errors:
            return Response(200, {"errors": errors})
        return Response(200, {"data": data[0]})

    def _lookup_many(self, request: Request, _match: re.Match[str]) -> Response:
        """`GET /2/tweets?ids=` (at most 100): the posts found in `data`, the others (and
        refused fields) in `errors`, as X answers."""
        ids = [i for i in request.query.get("ids", "").split(",") if i]
        if not 1 <= len(ids) <= 100:
            return invalid_request("ids holds 1 to 100 ids")
        self.lookups += 1
        if self.rate_limit_after is not None and self.lookups > self.rate_limit_after:
            response = problem(
                429,
                "Too Many Requests",
                "Too Many Requests",
                "https://api.twitter.com/2/problems/rate-limit-exceeded",
            )
            response.headers = {
                "x-rate-limit-limit": "15",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(self.window_reset),
            }
            return response
        data, errors = self._metrics_of(request, ids)
        body: dict[str, Any] = {}
        if data:
            body["data"] = data
        if errors:
            body["errors"] = errors
        return Response(200, body)

    def _metrics_of(
        self, request: Request, ids: list[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        asked_post = "post.fields" in request.query
        fields = request.query.get("post.fields") or request.query.get("tweet.fields", "")
        data: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for tweet_id in ids:
            tweet = self.tweets.get(tweet_id)
            if tweet is None or tweet.deleted:
                errors.append(
                    {
                        "value": tweet_id,
                        "detail": f"Could not find tweet with id: [{tweet_id}].",
                        "title": "Not Found Error",
                        "resource_type": "tweet",
                        "parameter": "id",
                        "resource_id": tweet_id,
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                    }
                )
                continue
            private_allowed = self.non_public_allowed and (
                datetime.now(UTC) - tweet.created_at <= timedelta(days=30)
            )
            if "non_public_metrics" in fields and not private_allowed:
                errors.append(
                    {
                        "value": tweet_id,
                        "detail": "Sorry, you are not authorized to access "
                        f"'non_public_metrics' on the Tweet with ids: {tweet_id}.",
                        "title": "Field Authorization Error",
                        "resource_type": "tweet",
                        "parameter": "non_public_metrics",
                        "resource_id": tweet_id,
                        "type": "https://api.twitter.com/2/problems/not-authorized-for-field",
                    }
                )
                continue
            item: dict[str, Any] = {"id": tweet.id, "text": tweet.rendered_text()}
            if "public_metrics" in fields:
                public = {k: v for k, v in tweet.metrics.items() if k not in PRIVATE}
                if asked_post or self.metrics_naming == "repost":
                    public["repost_count"] = public.pop("retweet_count", 0)
                public.setdefault("bookmark_count", 0)
                public.setdefault("impression_count", 0)
                item["public_metrics"] = public
            if "non_public_metrics" in fields:
                item["non_public_metrics"] = {
                    "impression_count": tweet.metrics.get("private_impressions", 0),
                    "url_link_clicks": tweet.metrics.get("url_link_clicks", 0),
                    "user_profile_clicks": tweet.metrics.get("user_profile_clicks", 0),
                    "engagements": tweet.metrics.get("engagements", 0),
                }
            if "public_metrics" in fields or "non_public_metrics" in fields:
                self.metric_reads[tweet_id] += 1
                if self.metrics_growth:
                    self._grow(tweet)
            data.append(item)
        return data, errors

    @staticmethod
    def _grow(tweet: Tweet) -> None:
        """Engagement goes on between two reads, as on a live post."""
        for name, step in GROWTH.items():
            tweet.metrics[name] = tweet.metrics.get(name, 0) + step

    def _delete(self, _request: Request, match: re.Match[str]) -> Response:
        tweet = self.tweets.get(match.group(1))
        if tweet is None or tweet.deleted:
            return problem(
                404,
                "Not Found Error",
                f"Could not find tweet with id: [{match.group(1)}].",
                "https://api.twitter.com/2/problems/resource-not-found",
            )
        tweet.deleted = True
        return Response(200, {"data": {"deleted": True}})

    # -- media -------------------------------------------------------------

    def _new_media(self, media_type: str, category: str, total: int) -> Media:
        media = Media(str(next(self._media_ids)), media_type, category, total)
        self.media[media.id] = media
        return media

    def _media_answer(self, media: Media, *, status: int = 200) -> Response:
        data: dict[str, Any] = {
            "id": media.id,
            "media_key": ("7_" if media.category.endswith("video") else "3_") + media.id,
            "size": media.total_bytes,
            "expires_after_secs": 86400,
        }
        if media.finalized and media.category in ("tweet_video", "tweet_gif", "amplify_video"):
            data["processing_info"] = media.info()
        return Response(status, {"data": data})

    def _upload(self, request: Request, match: re.Match[str]) -> Response:
        """Simple upload, or the quickstart's single-endpoint chunked form."""
        body = self._body(request)
        command = (body.get("command") or request.query.get("command") or "").upper()
        if command == "INIT":
            return self._initialize(request, match)
        if command in ("APPEND", "FINALIZE"):
            media_id = str(body.get("media_id") or request.query.get("media_id") or "")
            fake_match = re.match(r"(.*)", media_id)
            assert fake_match is not None
            if command == "APPEND":
                return self._append(request, fake_match)
            return self._finalize(request, fake_match)
        category = body.get("media_category")
        if not category:
            return invalid_request("media_category is required")
        files = multipart(request)
        content = files.get("media")
        if content is None and isinstance(body.get("media"), str):
            content = base64.b64decode(body["media"])
        if not content:
            return invalid_request("media is required")
        if len(content) > 5 * 1024 * 1024:
            return invalid_request("image too large")
        media = self._new_media(body.get("media_type", "image/png"), category, len(content))
        media.chunks[0] = content
        media.finalized = True
        return self._media_answer(media)

    def _initialize(self, request: Request, _match: re.Match[str]) -> Response:
        body = self._body(request)
        try:
            total = int(body.get("total_bytes", -1))
        except ValueError:
            total = -1
        if total < 0 or not body.get("media_type"):
            return invalid_request("media_type and total_bytes are required")
        category = body.get("media_category", "tweet_image")
        media = self._new_media(body["media_type"], category, total)
        if category in ("tweet_video", "tweet_gif", "amplify_video"):
            media.polls_left = self.processing_polls
            media.fail_with = self.fail_processing
        return self._media_answer(media)

    def _append(self, request: Request, match: re.Match[str]) -> Response:
        media = self.media.get(match.group(1))
        if media is None or media.finalized:
            return invalid_request("unknown or finalized media id")
        files = multipart(request)
        body = self._body(request)
        chunk = files.get("media")
        if chunk is None and body.get("media_data"):
            chunk = base64.b64decode(body["media_data"])
        try:
            index = int(body.get("segment_index", -1))
        except ValueError:
            index = -1
        if chunk is None or not 0 <= index <= 999:
            return invalid_request("media and a segment_index from 0 to 999 are required")
        if len(chunk) > MAX_CHUNK:
            return invalid_request("a segment is at most 5 MB")
        media.chunks[index] = chunk
        return Response(200, {"data": {"expires_at": int(time.time()) + 86400}})

    def _finalize(self, _request: Request, match: re.Match[str]) -> Response:
        media = self.media.get(match.group(1))
        if media is None:
            return invalid_request("unknown media id")
        if sorted(media.chunks) != list(range(len(media.chunks))):
            return invalid_request("segments are missing")
        if len(media.content) != media.total_bytes:
            return invalid_request(
                f"File size {len(media.content)} does not match total_bytes {media.total_bytes}"
            )
        media.finalized = True
        return self._media_answer(media, status=200)

    def _status(self, request: Request, _match: re.Match[str]) -> Response:
        if request.query.get("command", "").upper() != "STATUS":
            return invalid_request("command=STATUS is required")
        media = self.media.get(request.query.get("media_id", ""))
        if media is None:
            return invalid_request("unknown media id")
        if media.polls_left > 0:
            media.polls_left -= 1
        return self._media_answer(media)

    def _metadata(self, request: Request, _match: re.Match[str]) -> Response:
        body = request.json() or {}
        media_id = str(body.get("id") or body.get("media_id") or "")
        alt = (body.get("metadata") or {}).get("alt_text") or body.get("alt_text") or {}
        media = self.media.get(media_id)
        if media is None or not alt.get("text"):
            return invalid_request("id and alt_text.text are required")
        media.alt_text = alt["text"]
        return Response(200, {"data": {"associated_metadata": True}})

    def stop(self) -> None:
        """Without waiting out the server loop's half-second poll: tests stay fast."""
        import threading

        threading.Thread(target=super().stop, daemon=True).start()
