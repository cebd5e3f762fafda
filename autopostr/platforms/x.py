"""X (Twitter API v2): OAuth 2.0 with PKCE, posts, threads, media upload v2, metrics.

Connect with `autopostr accounts connect x` (AUTOPOSTR_X_CLIENT_ID and, for a
confidential client, AUTOPOSTR_X_CLIENT_SECRET), or pipe
{"handle", "access_token", "refresh_token", "expires_in"} to `accounts add x`.
Refresh tokens rotate: every refresh returns a new one that replaces the old.

X has no idempotency key, so a post that may have gone out is looked up in the
account's recent posts, and a thread interrupted half-way carries on from the
last part X has instead of starting again (X refuses duplicate text).
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from autopostr.platforms.base import (
    UNKNOWN,
    AccountRef,
    AuthExpired,
    ConnectedAccount,
    Gone,
    Limits,
    MediaItem,
    MediaLimits,
    Metrics,
    MetricsTarget,
    OAuthSpec,
    PermanentError,
    Platform,
    PlatformError,
    PublishRequest,
    PublishResult,
    TransientError,
    UnknownOutcome,
    added,
    count,
)
from autopostr.platforms.http import PROCESSING_SINCE, make_client, poll_until, send

if TYPE_CHECKING:
    import httpx2

SCOPES = ("tweet.read", "tweet.write", "users.read", "offline.access", "media.write")
POST_URL = "https://x.com/{handle}/status/{id}"
DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024  # X documents 5 MB per APPEND; stay under it
DEFAULT_MEDIA_WAIT_SECONDS = 600.0
DEFAULT_LOOKBACK_HOURS = 72.0
TIMELINE_PAGES = 5
# X gives the owner's private metrics (impressions, link clicks) for posts up to 30 days old.
PRIVATE_METRICS_AGE = timedelta(days=30)
PUBLIC_FIELDS = "public_metrics"
PRIVATE_FIELDS = "public_metrics,non_public_metrics"
MIN_VIDEO_SECONDS = 0.5

# Headers X sends with each answer; the 24-hour pairs appear on tiers with daily caps.
WINDOWS = (
    ("x-rate-limit-remaining", "x-rate-limit-reset"),
    ("x-user-limit-24hour-remaining", "x-user-limit-24hour-reset"),
    ("x-app-limit-24hour-remaining", "x-app-limit-24hour-reset"),
)

_URL = re.compile(r"https?://\S+")
_SPACE = re.compile(r"\s+")


class _Memory:
    """What this process learnt from X between calls: the last rate-limit headers of
    each account's POST /2/tweets, and threads published only in part."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.windows: dict[int, list[tuple[int, float]]] = {}  # account -> (remaining, reset)
        self.partial: dict[tuple[int, int, str], list[tuple[str, str]]] = {}  # -> (text, id)


_memory = _Memory()


def _partial_key(account: AccountRef, request: PublishRequest) -> tuple[int, int, str]:
    return (account.id, request.destination_id, request.idempotency_key)


def comparable(text: str) -> str:
    """Text as X stores it and as we sent it, made comparable: X rewrites links to
    t.co, escapes &, < and >, and appends a link to attached media."""
    from twitter_text import extract_urls

    text = html.unescape(text)
    for url in sorted(set(extract_urls(text)), key=len, reverse=True):
        text = text.replace(url, " \x00 ")
    text = _URL.sub(" \x00 ", text)
    return _SPACE.sub(" ", text).strip()


def _without_media_link(text: str) -> str:
    return text[:-1].rstrip() if text.endswith("\x00") else text


class XPlatform(Platform):
    name: ClassVar[str] = "x"
    title: ClassVar[str] = "X"
    default_api_url: ClassVar[str] = "https://api.x.com"
    default_auth_url: ClassVar[str] = "https://x.com"
    limits: ClassVar[Limits] = Limits(
        max_chars=280,
        counting="x-weighted",
        media=MediaLimits(
            max_images=4,
            max_videos=1,
            mixed=False,
            max_image_bytes=5 * 1024 * 1024,
            max_gif_bytes=15 * 1024 * 1024,
            max_video_bytes=512 * 1024 * 1024,
            max_video_seconds=140.0,
            min_video_aspect=1 / 3,
            max_video_aspect=3.0,
        ),
        threads=True,
        first_comment=True,
        max_thread_parts=25,
    )
    metrics_batch: ClassVar[int] = 100  # ids per GET /2/tweets

    # -- settings -----------------------------------------------------------

    @property
    def chunk_bytes(self) -> int:
        return self.settings.integer("x_chunk_bytes", DEFAULT_CHUNK_BYTES, minimum=1)

    # -- HTTP ---------------------------------------------------------------

    @contextmanager
    def _client(self, account: AccountRef | None = None) -> Iterator[_Api]:
        headers = {}
        if account is not None:
            token = account.credentials.get("access_token")
            if not token:
                raise PermanentError(
                    f"X account @{account.handle} has no access token: run "
                    "`autopostr accounts connect x`"
                )
            headers["Authorization"] = f"Bearer {token}"
        with make_client(self.settings, self.api_url, headers) as client:
            yield _Api(client, self.title)

    def _basic_auth(self) -> tuple[dict[str, str], Any]:
        """The form fields and auth for X's token endpoints: Basic for a confidential
        client, client_id in the form for a public one."""
        import httpx2

        client_id, secret = self.client_credentials()
        if secret:
            return {}, httpx2.BasicAuth(client_id, secret)
        return {"client_id": client_id}, None

    # -- connect, refresh, revoke ------------------------------------------------

    def oauth(self, options: dict[str, str], redirect_uri: str) -> OAuthSpec:
        client_id, secret = self.client_credentials()
        return OAuthSpec(
            authorize_url=f"{self.auth_url}/i/oauth2/authorize",
            token_url=f"{self.api_url}/2/oauth2/token",
            client_id=client_id,
            client_secret=secret,
            scopes=SCOPES,
            pkce=True,
            token_auth="client_secret_basic" if secret else "none",
        )

    def connected_accounts(
        self, token: dict[str, Any], options: dict[str, str]
    ) -> list[ConnectedAccount]:
        access = token.get("access_token")
        if not access:
            raise PermanentError("X's token answer has no access_token")
        ref = AccountRef(id=0, platform=self.name, handle="", credentials={"access_token": access})
        me = self._me(ref)
        credentials: dict[str, Any] = {
            key: token[key]
            for key in ("access_token", "refresh_token", "expires_in")
            if key in token
        }
        return [
            ConnectedAccount(
                handle=me["username"],
                remote_id=me["id"],
                name=str(me.get("name") or ""),
                credentials=credentials,
                scopes=str(token.get("scope") or ""),
            )
        ]

    @classmethod
    def credentials_template(cls, extra: dict[str, Any]) -> dict[str, Any]:
        return {"access_token": "…", "refresh_token": "…", "expires_in": "…"}

    @classmethod
    def credential_fields(cls, raw: dict[str, Any]) -> dict[str, Any]:
        if not raw.get("access_token"):
            raise PermanentError(
                'X credentials need "access_token" (and "refresh_token", "expires_in"), '
                "or connect in the browser with `autopostr accounts connect x`"
            )
        fields = {
            key: raw[key]
            for key in ("access_token", "refresh_token", "expires_in", "user_id")
            if raw.get(key) is not None
        }
        if "user_id" in fields:
            fields["user_id"] = str(fields["user_id"])
        return fields

    def _me(self, account: AccountRef, fields: str = "") -> dict[str, Any]:
        params = {"user.fields": fields} if fields else None
        with self._client(account) as api:
            body = api.json("GET", "/2/users/me", params=params)
        data = body.get("data")
        if not isinstance(data, dict) or not data.get("id") or not data.get("username"):
            raise PermanentError(f"X answered /2/users/me without a user: {_clip(body)}")
        return data

    def whoami(self, account: AccountRef) -> dict[str, Any]:
        me = self._me(account, "public_metrics")
        metrics = me.get("public_metrics") or {}
        return {
            "handle": me["username"],
            "id": me["id"],
            "name": me.get("name", ""),
            "followers": metrics.get("followers_count"),
            "posts": metrics.get("post_count", metrics.get("tweet_count")),
        }

    def refresh(self, account: AccountRef) -> dict[str, Any] | None:
        refresh_token = account.credentials.get("refresh_token")
        if not refresh_token:
            raise PermanentError(
                "X gave this account no refresh token (offline.access was not granted)"
            )
        form, auth = self._basic_auth()
        form.update(grant_type="refresh_token", refresh_token=refresh_token)
        with self._client() as api:
            token = api.json("POST", "/2/oauth2/token", data=form, auth=auth)
        if not token.get("access_token"):
            # Field names only: the answer may hold a rotated refresh token.
            raise TransientError(
                f"X's token endpoint answered without a token (fields: {', '.join(sorted(token))})"
            )
        fresh = {"access_token": token["access_token"]}
        if token.get("expires_in"):
            fresh["expires_in"] = token["expires_in"]
        if token.get("refresh_token"):
            fresh["refresh_token"] = token["refresh_token"]  # rotated: the old one is spent
        return fresh

    def revoke(self, account: AccountRef) -> None:
        form, auth = self._basic_auth()
        with self._client() as api:
            for kind in ("refresh_token", "access_token"):
                token = account.credentials.get(kind)
                if token:
                    data = {**form, "token": token, "token_type_hint": kind}
                    api.json("POST", "/2/oauth2/revoke", data=data, auth=auth)

    # -- quota --------------------------------------------------------------

    def check_quota(self, account: AccountRef, request: PublishRequest) -> None:
        """Wait for X's window to reset rather than run out half-way through a thread."""
        needed = len(request.parts) + (1 if request.first_comment else 0)
        now = time.time()
        with _memory.lock:
            done = len(_memory.partial.get(_partial_key(account, request), []))
            windows = list(_memory.windows.get(account.id, []))
        needed = max(1, needed - done)
        waits = [reset - now for remaining, reset in windows if remaining < needed and reset > now]
        if waits:
            wait = max(waits)
            raise TransientError(
                f"X's posting limit for @{account.handle} is used up until "
                f"{datetime.fromtimestamp(now + wait, UTC):%H:%M} UTC",
                retry_after=wait,
            )

    def _remember_limits(self, account: AccountRef, response: httpx2.Response) -> None:
        """Only POST /2/tweets counts: the media endpoints have windows of their own."""
        request = response.request
        if request.method != "POST" or not request.url.path.endswith("/2/tweets"):
            return
        windows = _windows(response.headers)
        if windows:
            with _memory.lock:
                _memory.windows[account.id] = windows

    # -- publish ------------------------------------------------------------

    def publish(self, account: AccountRef, request: PublishRequest) -> PublishResult:
        return self._publish(account, request, None)

    def resume(
        self, account: AccountRef, request: PublishRequest, state: dict[str, Any]
    ) -> PublishResult:
        """Carry on once X has processed the media: STATUS of what was still processing,
        then the post, with the media ids the first attempt uploaded."""
        return self._publish(account, request, state)

    def _publish(
        self, account: AccountRef, request: PublishRequest, state: dict[str, Any] | None
    ) -> PublishResult:
        texts = self._validate(request)
        key = _partial_key(account, request)
        with _memory.lock:
            done = list(_memory.partial.get(key, []))
        if [text for text, _id in done] != texts[: len(done)]:
            done = []  # the post was edited since: what went out is not this thread
        with self._client(account) as api:
            api.on_response = lambda response: self._remember_limits(account, response)
            try:
                for index in range(len(done), len(texts)):
                    media_ids = self._media(api, request.media, state) if index == 0 else []
                    reply_to = done[-1][1] if done else None
                    try:
                        remote_id = self._create(api, texts[index], media_ids, reply_to)
                    except PermanentError as exc:
                        remote_id = self._own_duplicate(api, account, request, exc, done)
                    done.append((texts[index], remote_id))
            except PlatformError as exc:
                if not done:
                    raise
                with _memory.lock:
                    _memory.partial[key] = done
                raise self._interrupted(exc, done, len(texts)) from None
        with _memory.lock:
            _memory.partial.pop(key, None)
        return self._result(account, request, [remote_id for _text, remote_id in done])

    def _own_duplicate(
        self,
        api: _Api,
        account: AccountRef,
        request: PublishRequest,
        refusal: PermanentError,
        done: list[tuple[str, str]],
    ) -> str:
        """X refused a thread's part as duplicate content: when it is this thread's own
        part, sent by an attempt nobody remembers, the thread carries on from it."""
        if not (request.first_comment or len(request.parts) > 1):
            raise refusal
        if "duplicate" not in refusal.message.lower():
            raise refusal
        found, _complete = self._chain(api, account, request)
        if len(found) <= len(done) or found[: len(done)] != done:
            raise refusal
        return found[len(done)][1]

    def _result(
        self, account: AccountRef, request: PublishRequest, ids: list[str]
    ) -> PublishResult:
        extra: dict[str, Any] = {}
        if len(request.parts) > 1:
            extra["thread"] = ids[: len(request.parts)]
        if request.first_comment:
            extra["first_comment_id"] = ids[-1]
        return PublishResult(remote_id=ids[0], url=self._url(account, ids[0]), extra=extra)

    def _interrupted(
        self, exc: PlatformError, done: list[tuple[str, str]], total: int
    ) -> Exception:
        """A thread stopped half-way: say how far it got. The next attempt carries on
        from there (this process remembers; another one finds the parts on X)."""
        where = f"after {len(done)} of {total} parts went out (first: {done[0][1]})"
        if isinstance(exc, AuthExpired):
            return AuthExpired(f"{exc.message} {where}")
        if exc.transient:
            return TransientError(
                f"{exc.message} {where}; the rest follows on retry",
                retry_after=exc.retry_after,
                maybe_sent=True,
            )
        return PermanentError(f"{exc.message} {where}")

    def _validate(self, request: PublishRequest) -> list[str]:
        """Everything X would refuse, refused before anything goes out."""
        texts = list(request.parts) + ([request.first_comment] if request.first_comment else [])
        if not request.parts:
            raise PermanentError("X: nothing to publish")
        if not request.parts[0].strip() and not request.media:
            raise PermanentError("X: a post needs text or media")
        for number, text in enumerate(texts, start=1):
            if number > 1 and not text.strip():
                raise PermanentError(f"X: part {number} of the thread is empty")
            found = self.text_problems(text)
            if found:
                raise PermanentError(f"X: part {number} {found[0]}")
        limits = self.limits.media
        kinds = [_kind(item) for item in request.media]
        if "gif" in kinds and len(kinds) > 1:
            raise PermanentError("X: a GIF must be the only media of its post")
        if kinds.count("video") > limits.max_videos or ("video" in kinds and len(kinds) > 1):
            raise PermanentError("X: a video must be the only media of its post")
        if len(kinds) > limits.max_images:
            raise PermanentError(f"X: at most {limits.max_images} images per post")
        for item, kind in zip(request.media, kinds, strict=True):
            if kind == "video" and item.duration is not None:
                if not MIN_VIDEO_SECONDS <= item.duration <= (limits.max_video_seconds or 1e9):
                    raise PermanentError(
                        f"X: {item.filename} is {item.duration:g} s long; X takes "
                        f"{MIN_VIDEO_SECONDS:g} to {limits.max_video_seconds:g} s"
                    )
            too_big = limits.max_video_bytes if kind == "video" else limits.max_image_bytes
            if kind == "gif" and limits.max_gif_bytes:
                too_big = limits.max_gif_bytes
            if item.size > too_big:
                raise PermanentError(f"X: {item.filename} is too large ({item.size} bytes)")
        return texts

    def _create(self, api: _Api, text: str, media_ids: list[str], reply_to: str | None) -> str:
        body: dict[str, Any] = {}
        if text:
            body["text"] = text
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        if reply_to:
            body["reply"] = {"in_reply_to_tweet_id": reply_to}
        answer = api.json("POST", "/2/tweets", json=body, sent=True)
        data = answer.get("data")
        if not isinstance(data, dict) or not data.get("id"):
            # X took the request and answered oddly: the post may exist.
            raise TransientError(
                f"X answered POST /2/tweets without a post id: {_clip(answer)}", maybe_sent=True
            )
        return str(data["id"])

    def _url(self, account: AccountRef, remote_id: str) -> str:
        return POST_URL.format(handle=account.handle or "i", id=remote_id)

    # -- media --------------------------------------------------------------

    def _media(self, api: _Api, media: list[MediaItem], state: dict[str, Any] | None) -> list[str]:
        """The first part's media ids, processed: uploaded now, or by the publish `state`
        resumes. A video X is still processing after a moment hands the wait to the
        daemon (`Processing`), naming what is uploaded so nothing is sent twice."""
        if state is None:
            ids, waiting = self._upload_all(api, media)
            since = time.time()
        else:
            ids = [str(media_id) for media_id in state["media_ids"]]
            waiting = [(int(index), None) for index in state["processing"]]
            since = float(state[PROCESSING_SINCE])
        for position, (index, info) in enumerate(waiting):
            resume = {
                "media_ids": ids,
                "processing": [pending for pending, _info in waiting[position:]],
                PROCESSING_SINCE: since,
            }
            self._wait_for_processing(api, media[index], ids[index], info, resume)
        return ids

    def _upload_all(
        self, api: _Api, media: list[MediaItem]
    ) -> tuple[list[str], list[tuple[int, Any]]]:
        """Every item uploaded: their ids, and which X is processing (with what it said)."""
        ids: list[str] = []
        waiting: list[tuple[int, Any]] = []
        for index, item in enumerate(media):
            kind = _kind(item)
            if kind == "image":
                media_id = self._upload_simple(api, item)
            else:
                media_id, info = self._upload_chunked(api, item, f"tweet_{kind}")
                if info is not None:
                    waiting.append((index, info))
            if item.alt_text:
                api.json(
                    "POST",
                    "/2/media/metadata",
                    json={"id": media_id, "metadata": {"alt_text": {"text": item.alt_text[:1000]}}},
                )
            ids.append(media_id)
        return ids, waiting

    def _upload_simple(self, api: _Api, item: MediaItem) -> str:
        content = item.content()
        answer = api.json(
            "POST",
            "/2/media/upload",
            data={"media_category": "tweet_image"},
            files={"media": (item.filename, content, item.mime_type)},
        )
        return _media_id(answer, item)

    def _upload_chunked(self, api: _Api, item: MediaItem, category: str) -> tuple[str, Any]:
        """The media id and the processing X reports at FINALIZE (None: none)."""
        answer = api.json(
            "POST",
            "/2/media/upload/initialize",
            json={
                "media_type": item.mime_type,
                "total_bytes": item.size,
                "media_category": category,
            },
        )
        media_id = _media_id(answer, item)
        sent = 0
        with item.stream() as stream:
            segment = 0
            while chunk := stream.read(self.chunk_bytes):
                api.json(
                    "POST",
                    f"/2/media/upload/{media_id}/append",
                    data={"segment_index": str(segment)},
                    files={"media": (item.filename, chunk, "application/octet-stream")},
                )
                sent += len(chunk)
                segment += 1
        if sent != item.size:
            raise PermanentError(
                f"X: {item.filename} read back as {sent} bytes, not the {item.size} uploaded"
            )
        answer = api.json("POST", f"/2/media/upload/{media_id}/finalize")
        return media_id, _data(answer).get("processing_info")

    def _wait_for_processing(
        self, api: _Api, item: MediaItem, media_id: str, info: Any, resume: dict[str, Any]
    ) -> None:
        """Poll STATUS until X has processed the video (`info`: what FINALIZE said; None
        asks first); the pause is X's check_after_secs unless
        AUTOPOSTR_X_MEDIA_POLL_SECONDS says otherwise."""

        def processed(info: Any) -> bool | None:
            state = info.get("state") if isinstance(info, dict) else "succeeded"
            if state == "succeeded":
                return True
            if state == "failed":
                error = info.get("error")
                reason = (
                    (error.get("message") or error.get("name")) if isinstance(error, dict) else None
                )
                raise PermanentError(
                    f"X could not process {item.filename}: {reason or 'processing failed'}"
                )
            if state not in ("pending", "in_progress"):
                raise TransientError(f"X reported an unknown processing state {state!r}")
            return None

        def status() -> Any:
            answer = api.json(
                "GET", "/2/media/upload", params={"command": "STATUS", "media_id": media_id}
            )
            return _data(answer).get("processing_info")

        seen: dict[str, Any] = {} if info is None else {"first": info}
        poll_until(
            self,
            processed,
            status,
            what=item.filename,
            wait=DEFAULT_MEDIA_WAIT_SECONDS,
            every=1.0,
            hint=lambda info: info.get("check_after_secs"),
            resume=resume,
            **seen,
        )

    # -- delete, metrics ----------------------------------------------------------

    def delete(self, account: AccountRef, remote_id: str) -> bool:
        with self._client(account) as api:
            try:
                answer = api.json("DELETE", f"/2/tweets/{remote_id}")
            except PermanentError:
                if api.last_status == 404:
                    return False  # already gone
                raise
        if _data(answer).get("deleted") is not True:
            raise PermanentError(f"X did not delete post {remote_id}: {_clip(answer)}")
        return True

    def metrics(self, account: AccountRef, remote_id: str) -> Metrics:
        """One post: the private metrics when X grants them (own posts of the last 30
        days), else the public ones."""
        found = self.post_metrics(account, [MetricsTarget(remote_id)])[remote_id]
        if isinstance(found, PlatformError):
            raise found
        return found

    def post_metrics(
        self, account: AccountRef, posts: Sequence[MetricsTarget]
    ) -> dict[str, Metrics | PermanentError]:
        """Up to 100 posts per lookup (`GET /2/tweets?ids=`). X gives the non-public
        metrics (impressions as counted for the owner, link clicks) only for the owner's
        posts of the last 30 days: older posts are asked for the public ones alone, and
        their clicks are unknown (None). A post X no longer has is Gone."""
        now = datetime.now(UTC)
        recent = [p.remote_id for p in posts if _private_allowed(p, now)]
        old = [p.remote_id for p in posts if not _private_allowed(p, now)]
        found: dict[str, Metrics | PermanentError] = {}
        with self._client(account) as api:
            for ids, fields in ((recent, PRIVATE_FIELDS), (old, PUBLIC_FIELDS)):
                for start in range(0, len(ids), self.metrics_batch):
                    chunk = ids[start : start + self.metrics_batch]
                    answers, refused = self._lookup_many(api, chunk, fields)
                    if refused:  # not ours, or older than X allows: the public ones only
                        again, _ = self._lookup_many(api, refused, PUBLIC_FIELDS)
                        answers.update(again)
                    found.update(answers)
        return found

    def _lookup_many(
        self, api: _Api, ids: list[str], fields: str
    ) -> tuple[dict[str, Metrics | PermanentError], list[str]]:
        """The posts X answered for, and the ids it refused the non-public fields of."""
        if not ids:
            return {}, []
        params = {"ids": ",".join(ids), "tweet.fields": fields}
        answer = api.json("GET", "/2/tweets", params=params)
        data = answer.get("data")
        posts = [p for p in data if isinstance(p, dict)] if isinstance(data, list) else []
        found: dict[str, Metrics | PermanentError] = {
            str(p["id"]): _post_metrics(p) for p in posts if p.get("id")
        }
        refused: set[str] = set()
        for error in answer.get("errors") or []:
            if not isinstance(error, dict):
                continue
            post_id = str(error.get("resource_id") or error.get("value") or "")
            kind = str(error.get("type", "")).rsplit("/", 1)[-1]
            if post_id not in ids or post_id in found:
                continue
            if kind == "not-authorized-for-field" and "non_public" in fields:
                refused.add(post_id)
            elif kind == "resource-not-found":
                found[post_id] = Gone(f"X has no post {post_id} (deleted there)")
            else:
                found[post_id] = PermanentError(
                    f"X would not tell the metrics of {post_id}: {error.get('detail') or kind}"
                )
        for post_id in ids:
            if post_id not in found and post_id not in refused:
                found[post_id] = PermanentError(
                    f"X's lookup left out post {post_id}: {_clip(answer)}"
                )
        return found, sorted(refused)

    def account_metrics(self, account: AccountRef) -> Metrics:
        public = self._me(account, "public_metrics").get("public_metrics") or {}
        return Metrics(
            followers=count(public.get("followers_count")), raw={"public_metrics": public}
        )

    # -- find_published ----------------------------------------------------

    def find_published(
        self, account: AccountRef, request: PublishRequest
    ) -> PublishResult | UnknownOutcome | None:
        """Look for the post among the account's recent ones (X has no idempotency key).
        A thread found only in part is remembered, so the next publish carries it on."""
        if not comparable(request.parts[0]) and request.media:
            return UNKNOWN  # a media-only post has no text to recognise it by
        with self._client(account) as api:
            done, complete = self._chain(api, account, request)
        if len(done) == len(request.parts) + (1 if request.first_comment else 0):
            return self._result(account, request, [remote_id for _t, remote_id in done])
        if done:
            with _memory.lock:
                _memory.partial[_partial_key(account, request)] = done
            return None  # the rest has not gone out: publish carries on from `done`
        return None if complete else UNKNOWN

    def _chain(
        self, api: _Api, account: AccountRef, request: PublishRequest
    ) -> tuple[list[tuple[str, str]], bool]:
        """How much of the post is on X: (text, id) of each part found in order, and
        whether the whole look-back window was seen."""
        user_id = account.remote_id or account.extra.get("user_id") or self._me(account)["id"]
        recent, complete = self._recent(api, str(user_id))
        raw = [*request.parts, *([request.first_comment] if request.first_comment else [])]
        done: list[tuple[str, str]] = []
        parent: str | None = None
        for index, text in enumerate(raw):
            # Part 1 is a post of its own; each next part answers the one before.
            wanted = comparable(text)
            candidates = [p for p in recent if _replied_to(p) == parent]
            match = next((p for p in candidates if _same(p, wanted, index == 0)), None)
            if match is None:
                break
            parent = str(match["id"])
            done.append((text, parent))
        return done, complete

    def _recent(self, api: _Api, user_id: str) -> tuple[list[dict[str, Any]], bool]:
        """The account's posts of the look-back window, newest first, and whether the
        whole window was seen."""
        hours = self.settings.number("x_lookback_hours", DEFAULT_LOOKBACK_HOURS)
        since = datetime.now(UTC) - timedelta(hours=hours)
        params: dict[str, str] = {
            "max_results": "100",
            "exclude": "retweets",
            "start_time": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tweet.fields": "created_at,referenced_tweets,attachments",
        }
        posts: list[dict[str, Any]] = []
        for _page in range(TIMELINE_PAGES):
            answer = api.json("GET", f"/2/users/{user_id}/tweets", params=params)
            data = answer.get("data", [])
            if not isinstance(data, list):
                raise TransientError(f"X answered the timeline oddly: {_clip(answer)}")
            posts.extend(p for p in data if isinstance(p, dict) and p.get("id"))
            token = (answer.get("meta") or {}).get("next_token")
            if not token:
                return posts, True
            params["pagination_token"] = str(token)
        return posts, False


class _Api:
    """One client: JSON in and out, X's rate-limit headers noticed on every answer."""

    def __init__(self, client: httpx2.Client, title: str) -> None:
        self.client = client
        self.title = title
        self.on_response: Callable[[httpx2.Response], None] | None = None
        self.last_response: httpx2.Response | None = None
        client.event_hooks = {"response": [self._seen]}

    @property
    def last_status(self) -> int | None:
        return self.last_response.status_code if self.last_response is not None else None

    def _seen(self, response: httpx2.Response) -> None:
        self.last_response = response
        if self.on_response is not None:
            self.on_response(response)

    def json(self, method: str, url: str, *, sent: bool = False, **kwargs: Any) -> dict[str, Any]:
        """The answer's JSON object. `sent`: the request changes something on X, so an
        unreadable success may mean it happened."""
        self.last_response = None
        try:
            # X may have made the post before its server failed: `creates` has the next
            # attempt look before re-sending.
            response = send(self.client, method, url, self.title, creates=sent, **kwargs)
        except TransientError as exc:
            answer = self.last_response
            if answer is None or answer.status_code != 429:
                raise
            # A spent daily cap outlasts the 15-minute window: wait for the later reset.
            now = time.time()
            resets = [reset - now for left, reset in _windows(answer.headers) if left <= 0]
            wait = max([exc.retry_after or 0.0, *resets])
            raise TransientError(exc.message, retry_after=wait or None) from None
        if response.status_code == 204 or not response.content:
            return {}
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise TransientError(
                f"X answered {method} {url} with something that is not JSON: "
                f"{response.text[:120]!r}",
                maybe_sent=sent,
            )
        return body


def _private_allowed(post: MetricsTarget, now: datetime) -> bool:
    age = post.age(now)
    return age is None or age <= PRIVATE_METRICS_AGE


def _post_metrics(post: dict[str, Any]) -> Metrics:
    """X's fields, normalized: impressions as the owner sees them where X gives them,
    shares as reposts and quotes, saves as bookmarks; clicks only from the private ones."""
    public = post.get("public_metrics") or {}
    private = post.get("non_public_metrics") or {}
    reposts = count(public.get("retweet_count", public.get("repost_count")))
    impressions = count(private.get("impression_count"))
    if impressions is None:
        impressions = count(public.get("impression_count"))
    return Metrics(
        impressions=impressions,
        likes=count(public.get("like_count")),
        comments=count(public.get("reply_count")),
        shares=added(reposts, count(public.get("quote_count"))),
        clicks=count(private.get("url_link_clicks")),
        saves=count(public.get("bookmark_count")),
        raw={key: post[key] for key in ("public_metrics", "non_public_metrics") if key in post},
    )


def _kind(item: MediaItem) -> str:
    if item.mime_type == "image/gif":
        return "gif"
    if item.mime_type in XPlatform.limits.media.image_types:
        return "image"
    if item.mime_type in XPlatform.limits.media.video_types:
        return "video"
    raise PermanentError(f"X: {item.filename} has a type X does not take ({item.mime_type})")


def _data(answer: dict[str, Any]) -> dict[str, Any]:
    data = answer.get("data")
    return data if isinstance(data, dict) else {}


def _media_id(answer: dict[str, Any], item: MediaItem) -> str:
    """v2 answers {"data": {"id"}}; the v1.1-style form has media_id_string."""
    media_id = _data(answer).get("id") or answer.get("media_id_string")
    if not media_id:
        raise TransientError(f"X's upload of {item.filename} gave no media id: {_clip(answer)}")
    return str(media_id)


def _windows(headers: Any) -> list[tuple[int, float]]:
    """(remaining, reset epoch) of each of X's windows the answer reports."""
    windows = []
    for remaining_name, reset_name in WINDOWS:
        remaining, reset = headers.get(remaining_name), headers.get(reset_name)
        if remaining is None or reset is None:
            continue
        try:
            windows.append((int(remaining), float(reset)))
        except ValueError:
            continue
    return windows


def _replied_to(post: dict[str, Any]) -> str | None:
    for ref in post.get("referenced_tweets") or []:
        if isinstance(ref, dict) and ref.get("type") == "replied_to":
            return str(ref.get("id"))
    return None


def _same(post: dict[str, Any], wanted: str, may_have_media: bool) -> bool:
    text = comparable(str(post.get("text", "")))
    return text == wanted or (may_have_media and _without_media_link(text) == wanted)


def _clip(body: Any) -> str:
    import json

    return json.dumps(body)[:200]
