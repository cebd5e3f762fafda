"""Bluesky (AT Protocol): posts, threads, images and video through the XRPC API of a PDS.

An account is added with an app password: `accounts add bluesky` reads
{"handle": "me.bsky.social", "app_password": "xxxx-xxxx-xxxx-xxxx"}, trades it for a
session (accessJwt, refreshJwt) and keeps it encrypted, so a session can be made
again once the refreshJwt has run out too.

Bluesky has no idempotency key, but a record may be created under a key we choose.
Every post of a thread gets a record key (a TID) derived from the destination's
idempotency key, so a retry finds what the last attempt made instead of posting twice,
and a half-sent thread carries on where it stopped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from autopostr.platforms.base import (
    IMAGE_TYPES,
    AccountRef,
    AuthExpired,
    Gone,
    Limits,
    MediaItem,
    MediaLimits,
    Metrics,
    MetricsTarget,
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
from autopostr.platforms.http import (
    PROCESSING_SINCE,
    error_message,
    make_client,
    poll_until,
    retry_after,
    send,
)

if TYPE_CHECKING:
    import httpx2

POST = "app.bsky.feed.post"
WEB_URL = "https://bsky.app"
DEFAULT_API_URL = "https://bsky.social"
DEFAULT_VIDEO_URL = "https://video.bsky.app"
DEFAULT_MEDIA_POLL_SECONDS = 2.0
DEFAULT_MEDIA_WAIT_SECONDS = 300.0
MAX_TEXT_BYTES = 3000
MAX_IMAGE_BYTES = 1_000_000
MAX_VIDEO_BYTES = 100_000_000
SERVICE_TOKEN_SECONDS = 30 * 60
POST_COUNTS = ("likeCount", "replyCount", "repostCount", "quoteCount", "bookmarkCount")
PROFILE_COUNTS = ("followersCount", "followsCount", "postsCount")
# Errors that mean "this token is no good": refresh, then try again.
TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})
JOB_COMPLETED = "JOB_STATE_COMPLETED"
JOB_FAILED = "JOB_STATE_FAILED"
APP_PASSWORD_HINT = (
    "create an app password in Bluesky under Settings → Privacy and security → App passwords"
)

TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
TID_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_AT_URI = re.compile(r"at://(?P<repo>[^/]+)/(?P<collection>[^/]+)/(?P<rkey>[^/?#]+)\Z")
log = logging.getLogger("autopostr.platforms.bluesky")


def record_key(seed: str, at: datetime, step: int = 0) -> str:
    """A valid TID (13 base32-sortable characters, top bit 0) for one record of ours.

    Its timestamp is `at` in microseconds (plus `step`, so a thread's records follow
    each other) and its 10 clock-id bits come from a hash of `seed`: the same
    destination always gets the same keys, and the PDS lists posts in the order
    they were published.
    """
    micros = (at - TID_EPOCH) // timedelta(microseconds=1) + step
    clock = int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest()[:2], "big") & 0x3FF
    value = (micros << 10) | clock
    return "".join(TID_ALPHABET[(value >> (5 * (12 - i))) & 31] for i in range(13))


def tid_instant(key: str) -> datetime:
    """The timestamp a TID carries."""
    value = 0
    for ch in key:
        value = value * 32 + TID_ALPHABET.index(ch)
    return TID_EPOCH + timedelta(microseconds=value >> 10)


def facets(text: str, resolve: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """Links, mentions, hashtags and cashtags of `text` as rich-text facets with UTF-8 byte
    offsets, as Bluesky's own client detects them (see blueskytext).

    `resolve` turns a handle into its DID; a handle that does not resolve stays plain text.
    """
    from autopostr.platforms.blueskytext import facets as detect

    return detect(text, resolve)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def rate_limit_wait(headers: Any, now: float | None = None) -> float | None:
    """Seconds until a 429 may be retried.

    Bluesky's PDS sends `RateLimit-Reset` as epoch seconds, where the draft-polli
    header it is named after holds a delta: a value past 1e9 can only be an epoch.
    Retry-After, when present too, wins if it asks for longer.
    """
    now = time.time() if now is None else now
    waits = []
    if headers.get("retry-after"):
        wait = retry_after({"retry-after": headers.get("retry-after")}, now)
        if wait is not None:
            waits.append(wait)
    reset = _number(headers.get("ratelimit-reset"))
    if reset is not None:
        waits.append(max(0.0, reset - now) if reset > 1e9 else max(0.0, reset))
    return max(waits) if waits else None


def _expires_in(jwt: str) -> int | None:
    """Seconds the access JWT has left, from its `exp` claim (the signature is not ours to check)."""
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return max(1, int(claims["exp"] - time.time()))
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def _pds_endpoint(did_doc: Any) -> str | None:
    if not isinstance(did_doc, dict):
        return None
    for service in did_doc.get("service") or []:
        if isinstance(service, dict) and str(service.get("id", "")).endswith("#atproto_pds"):
            endpoint = service.get("serviceEndpoint")
            return str(endpoint) if endpoint else None
    return None


def _seconds_to_utc_midnight() -> float:
    now = datetime.now(UTC)
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


class KeyTaken(PermanentError):
    """Another post already holds the record key meant for this one."""


class XrpcError(PermanentError):
    """A 4xx XRPC error; `error` is its name (e.g. RecordNotFound), `body` the whole reply."""

    def __init__(self, message: str, *, error: str, status: int, body: dict[str, Any]):
        super().__init__(message)
        self.error = error
        self.status = status
        self.body = body


class BlueskyPlatform(Platform):
    name: ClassVar[str] = "bluesky"
    title: ClassVar[str] = "Bluesky"
    default_api_url: ClassVar[str] = DEFAULT_API_URL
    metrics_batch: ClassVar[int] = 25  # uris per app.bsky.feed.getPosts
    limits: ClassVar[Limits] = Limits(
        max_chars=300,
        counting="graphemes",
        max_bytes=MAX_TEXT_BYTES,
        media=MediaLimits(
            max_images=4,
            max_videos=1,
            mixed=False,
            image_types=IMAGE_TYPES,
            video_types=frozenset({"video/mp4"}),
            max_image_bytes=MAX_IMAGE_BYTES,
            max_video_bytes=MAX_VIDEO_BYTES,
            max_video_seconds=180.0,
        ),
        threads=True,
        first_comment=True,
    )

    # -- settings -------------------------------------------------------------

    @property
    def video_url(self) -> str:
        return (self.settings.get("bluesky_video_url") or DEFAULT_VIDEO_URL).rstrip("/")

    # -- XRPC -----------------------------------------------------------------

    def _client(self) -> httpx2.Client:
        return make_client(self.settings, self.api_url)

    def _call(
        self,
        client: httpx2.Client,
        method: str,
        target: str,
        *,
        token: str | None = None,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        """One XRPC call: `target` is a method id on the PDS or a full URL elsewhere."""
        url = target if "://" in target else f"/xrpc/{target}"
        method_id = target.rsplit("/", 1)[-1]
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        response = send(
            client,
            method,
            url,
            self.title,
            shown=method_id,
            check_status=False,
            params=params,
            json=body,
            content=content,
            headers=headers,
        )
        return self._answer(response, method_id)

    def _answer(self, response: httpx2.Response, method_id: str) -> dict[str, Any]:
        status = response.status_code
        try:
            # Some methods (deleteSession) answer 200 with no body at all.
            data = response.json() if response.content else {}
        except ValueError:
            data = None
        if status < 400:
            if not isinstance(data, dict):
                raise TransientError(
                    f"{self.title} sent a reply to {method_id} that autopostr cannot read "
                    f"(HTTP {status}, {response.headers.get('content-type') or 'no content type'})",
                    maybe_sent=True,
                )
            return data
        body = data if isinstance(data, dict) else {}
        error = str(body.get("error") or "")
        message = f"{self.title} answered {status} to {method_id}: {error_message(response)}"
        if status == 429 or error == "RateLimitExceeded":
            raise TransientError(message, retry_after=rate_limit_wait(response.headers))
        if status >= 500 or status == 408:
            raise TransientError(message, retry_after=rate_limit_wait(response.headers))
        if status == 401 or (status == 400 and error in TOKEN_ERRORS):
            raise AuthExpired(message)
        raise XrpcError(message, error=error, status=status, body=body)

    # -- sessions -------------------------------------------------------------

    def _session_fields(self, session: dict[str, Any]) -> dict[str, Any]:
        access, refresh, did = (session.get(k) for k in ("accessJwt", "refreshJwt", "did"))
        if not (isinstance(access, str) and isinstance(refresh, str) and isinstance(did, str)):
            raise TransientError(f"{self.title} sent a session autopostr cannot read")
        fields: dict[str, Any] = {"access_token": access, "refresh_token": refresh, "did": did}
        if isinstance(session.get("handle"), str):
            fields["handle"] = session["handle"]
        expires = _expires_in(access)
        if expires:
            fields["expires_in"] = expires
        pds = _pds_endpoint(session.get("didDoc"))
        if pds:
            fields["pds_url"] = pds
        return fields

    def _create_session(self, identifier: str, password: str) -> dict[str, Any]:
        with self._client() as client:
            try:
                session = self._call(
                    client,
                    "POST",
                    "com.atproto.server.createSession",
                    body={"identifier": identifier, "password": password},
                )
            except AuthExpired as exc:
                raise PermanentError(
                    f"{exc.message}; check the handle and app password, or {APP_PASSWORD_HINT}"
                ) from None
        return self._session_fields(session)

    @classmethod
    def credentials_template(cls, extra: dict[str, Any]) -> dict[str, Any]:
        return {"app_password": "…"}  # the handle comes from --handle

    def prepare_credentials(self, raw: dict[str, Any]) -> dict[str, Any]:
        identifier = str(raw.get("handle") or raw.get("identifier") or "").strip().lstrip("@")
        password = str(raw.get("app_password") or raw.get("password") or "").strip()
        if not identifier or not password:
            raise PermanentError(
                'Bluesky needs {"handle": "me.bsky.social", "app_password": '
                f'"xxxx-xxxx-xxxx-xxxx"}}: {APP_PASSWORD_HINT}'
            )
        return {**self._create_session(identifier, password), "app_password": password}

    def refresh(self, account: AccountRef) -> dict[str, Any] | None:
        """refreshSession; once the refreshJwt has run out too, a new session from the
        stored app password."""
        refresh_jwt = account.credentials.get("refresh_token")
        if refresh_jwt:
            try:
                with self._client() as client:
                    session = self._call(
                        client, "POST", "com.atproto.server.refreshSession", token=refresh_jwt
                    )
                return self._session_fields(session)
            except AuthExpired:
                log.info("%s: Bluesky session ended; signing in again", account.handle)
        password = account.credentials.get("app_password")
        if not password:
            raise PermanentError(
                f"the Bluesky session of {account.handle} ended and no app password is stored"
            )
        return self._create_session(str(account.extra.get("did") or account.handle), password)

    def whoami(self, account: AccountRef) -> dict[str, Any]:
        with self._client() as client:
            me = self._call(
                client, "GET", "com.atproto.server.getSession", token=self.access_token(account)
            )
        return {"handle": me.get("handle"), "did": me.get("did"), "active": me.get("active", True)}

    def revoke(self, account: AccountRef) -> None:
        """Ends the session; the app password itself is revoked in Bluesky's settings."""
        refresh_jwt = account.credentials.get("refresh_token")
        if refresh_jwt:
            with self._client() as client:
                self._call(client, "POST", "com.atproto.server.deleteSession", token=refresh_jwt)

    def _did(self, client: httpx2.Client, account: AccountRef) -> str:
        did = account.extra.get("did") or account.remote_id
        if did:
            return str(did)
        resolved = self._resolve_handle(client, account.handle)
        if not resolved:
            raise PermanentError(f"Bluesky does not know the handle {account.handle}")
        return resolved

    def _resolve_handle(self, client: httpx2.Client, handle: str) -> str | None:
        try:
            found = self._call(
                client, "GET", "com.atproto.identity.resolveHandle", params={"handle": handle}
            )
        except XrpcError:
            return None
        did = found.get("did")
        return did if isinstance(did, str) and did.startswith("did:") else None

    # -- publishing -------------------------------------------------------------

    def publish(self, account: AccountRef, request: PublishRequest) -> PublishResult:
        return self._publish(account, request, None)

    def resume(
        self, account: AccountRef, request: PublishRequest, state: dict[str, Any]
    ) -> PublishResult:
        """Carry on once the video service has processed the video: getJobStatus of the
        job the first attempt started (`video_job`), then the post or thread, under the
        same record keys; the video is never uploaded again."""
        return self._publish(account, request, state)

    def _publish(
        self, account: AccountRef, request: PublishRequest, state: dict[str, Any] | None
    ) -> PublishResult:
        token = self.access_token(account)
        texts = [
            *(request.parts or [""]),
            *([request.first_comment] if request.first_comment else []),
        ]
        for text in texts:
            self._check_text(text)
        keys = self._record_keys(request)
        with self._client() as client:
            did = self._did(client, account)
            handles: dict[str, str | None] = {}

            def resolve(handle: str) -> str | None:
                handle = handle.lower()  # handles are case-insensitive
                if handle not in handles:
                    handles[handle] = self._resolve_handle(client, handle)
                return handles[handle]

            embed = None
            first = None
            if request.media:
                # A retry whose first post went out already need not upload the media again.
                first = self._get_post(client, did, keys[0], (request.parts or [""])[0])
                if first is None:
                    embed = self._embed(client, account, did, request.media, state)
            posted: list[dict[str, str]] = []
            for index, text in enumerate(request.parts or [""]):
                if index == 0 and first is not None:
                    posted.append(first)
                    continue
                reply = self._reply(posted) if posted else None
                record = self._record(text, resolve, embed if index == 0 else None, reply)
                posted.append(self._create(client, token, did, keys[index], record))
            comment = None
            if request.first_comment:
                record = self._record(request.first_comment, resolve, None, self._reply(posted))
                comment = self._create(client, token, did, keys[-1], record)
        return self._result(account, posted, comment)

    def _check_text(self, text: str) -> None:
        found = self.text_problems(text)
        if found:
            raise PermanentError(f"Bluesky: the text {found[0]}")

    @staticmethod
    def _record_keys(request: PublishRequest) -> list[str]:
        """One record key per thread part, then one for the first comment: stamped with
        the destination's first claim, so every attempt uses the same keys."""
        if request.first_claimed_at is None:
            raise PermanentError("Bluesky: a post needs the instant it was first claimed")
        seed = request.idempotency_key or f"post-{request.post_id}-{request.destination_id}"
        at = request.first_claimed_at
        count = max(1, len(request.parts))
        return [record_key(seed, at, step) for step in range(count + 1)]

    @staticmethod
    def _reply(posted: list[dict[str, str]]) -> dict[str, Any]:
        root, parent = posted[0], posted[-1]
        return {
            "root": {"uri": root["uri"], "cid": root["cid"]},
            "parent": {"uri": parent["uri"], "cid": parent["cid"]},
        }

    @staticmethod
    def _record(
        text: str,
        resolve: Callable[[str], str | None],
        embed: dict[str, Any] | None,
        reply: dict[str, Any] | None,
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "$type": POST,
            "text": text,
            "createdAt": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        }
        rich = facets(text, resolve)
        if rich:
            record["facets"] = rich
        if embed:
            record["embed"] = embed
        if reply:
            record["reply"] = reply
        return record

    def _create(
        self, client: httpx2.Client, token: str, did: str, rkey: str, record: dict[str, Any]
    ) -> dict[str, str]:
        """createRecord under our record key; if that key is taken, the post went out on an
        earlier attempt, and that post is the answer."""
        try:
            created = self._call(
                client,
                "POST",
                "com.atproto.repo.createRecord",
                token=token,
                body={"repo": did, "collection": POST, "rkey": rkey, "record": record},
            )
        except (XrpcError, TransientError) as exc:
            # The refusal of a taken key is named differently by different servers
            # (InvalidSwap, RecordAlreadyExists, a 409, and a bare 500 on Bluesky's own
            # PDS): the record itself is the proof.
            try:
                existing = self._get_post(client, did, rkey, record["text"])
            except KeyTaken:
                raise
            except PlatformError:
                existing = None
            if existing is None:
                raise exc from None
            return existing
        return self._ref(created, "createRecord")

    def _ref(self, data: dict[str, Any], method_id: str) -> dict[str, str]:
        uri, cid = data.get("uri"), data.get("cid")
        if not isinstance(uri, str) or not isinstance(cid, str) or not _AT_URI.match(uri):
            raise TransientError(
                f"{self.title} sent a reply to {method_id} without the post's uri and cid",
                maybe_sent=True,
            )
        return {"uri": uri, "cid": cid}

    def _get_post(
        self, client: httpx2.Client, did: str, rkey: str, text: str
    ) -> dict[str, str] | None:
        """Our post with this `text` under this record key, or None; getRecord is public, so
        an expired session cannot make the answer unknown. Another post under the key (a
        clash of record keys) is never taken for ours: KeyTaken."""
        try:
            found = self._call(
                client,
                "GET",
                "com.atproto.repo.getRecord",
                params={"repo": did, "collection": POST, "rkey": rkey},
            )
        except XrpcError as exc:
            if exc.error == "RecordNotFound" or exc.status == 404:
                return None
            raise
        value = found.get("value")
        if isinstance(value, dict) and value.get("text", text) != text:
            raise KeyTaken(
                f"{self.title}: record key {rkey} already holds another post (a clash of "
                "record keys), so this one was not sent: create it again as a new post"
            )
        return self._ref(found, "getRecord")

    def _result(
        self, account: AccountRef, posted: list[dict[str, str]], comment: dict[str, str] | None
    ) -> PublishResult:
        first = posted[0]
        extra: dict[str, Any] = {"cid": first["cid"]}
        if len(posted) > 1:
            extra["thread"] = [p["uri"] for p in posted[1:]]
        if comment:
            extra["first_comment"] = comment["uri"]
        return PublishResult(
            remote_id=first["uri"], url=self._web_url(account, first["uri"]), extra=extra
        )

    @staticmethod
    def _web_url(account: AccountRef, uri: str) -> str:
        match = _AT_URI.match(uri)
        rkey = match.group("rkey") if match else ""
        return f"{WEB_URL}/profile/{account.handle}/post/{rkey}"

    # -- media --------------------------------------------------------------------

    def _embed(
        self,
        client: httpx2.Client,
        account: AccountRef,
        did: str,
        media: list[MediaItem],
        state: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """The first post's embed: images uploaded as blobs, or the video processed (by
        the publish `state` resumes, if any: a post never mixes the two)."""
        videos = [m for m in media if m.mime_type.startswith("video/")]
        images = [m for m in media if not m.mime_type.startswith("video/")]
        if (videos and images) or len(videos) > 1 or len(images) > self.limits.media.max_images:
            raise PermanentError(
                f"a Bluesky post carries up to {self.limits.media.max_images} images or one video"
            )
        if videos:
            return self._video_embed(client, account, did, videos[0], state)
        entries = []
        for item in images:
            if item.size > MAX_IMAGE_BYTES:
                raise PermanentError(
                    f"image {item.filename} is {item.size:,} bytes; Bluesky takes up to "
                    f"{MAX_IMAGE_BYTES:,}"
                )
            uploaded = self._call(
                client,
                "POST",
                "com.atproto.repo.uploadBlob",
                token=self.access_token(account),
                content=item.content(),
                content_type=item.mime_type,
            )
            entry: dict[str, Any] = {"alt": item.alt_text or "", "image": self._blob(uploaded)}
            if item.width and item.height:
                entry["aspectRatio"] = {"width": item.width, "height": item.height}
            entries.append(entry)
        return {"$type": "app.bsky.embed.images", "images": entries}

    def _blob(self, data: dict[str, Any]) -> dict[str, Any]:
        blob = data.get("blob")
        if not isinstance(blob, dict) or not blob.get("ref"):
            raise TransientError(f"{self.title} sent an upload reply without the blob")
        return blob

    def _service_token(
        self, client: httpx2.Client, account: AccountRef, audience_url: str, lxm: str
    ) -> str:
        """A short-lived token for another service (the video service), signed by the PDS."""
        host = urlsplit(audience_url).hostname or ""
        granted = self._call(
            client,
            "GET",
            "com.atproto.server.getServiceAuth",
            token=self.access_token(account),
            params={
                "aud": f"did:web:{host}",
                "lxm": lxm,
                "exp": int(time.time()) + SERVICE_TOKEN_SECONDS,
            },
        )
        token = granted.get("token")
        if not isinstance(token, str) or not token:
            raise TransientError(f"{self.title} sent a service token reply without the token")
        return token

    def _check_video_quota(
        self, client: httpx2.Client, account: AccountRef, item: MediaItem
    ) -> None:
        """Bluesky caps videos per day; a used-up cap is a retry after midnight UTC."""
        token = self._service_token(
            client, account, self.video_url, "app.bsky.video.getUploadLimits"
        )
        try:
            limits = self._call(
                client, "GET", f"{self.video_url}/xrpc/app.bsky.video.getUploadLimits", token=token
            )
        except XrpcError as exc:
            log.info("%s: cannot read Bluesky's video limits: %s", account.handle, exc.message)
            return
        remaining_bytes = limits.get("remainingDailyBytes")
        used_up = (
            limits.get("canUpload") is False
            or limits.get("remainingDailyVideos") == 0
            or (isinstance(remaining_bytes, int) and remaining_bytes < item.size)
        )
        if used_up:
            reason = limits.get("message") or limits.get("error") or "daily video limit reached"
            raise TransientError(
                f"Bluesky will not take more videos today ({reason})",
                retry_after=_seconds_to_utc_midnight(),
            )

    def _video_embed(
        self,
        client: httpx2.Client,
        account: AccountRef,
        did: str,
        item: MediaItem,
        state: dict[str, Any] | None,
    ) -> dict[str, Any]:
        if item.size > MAX_VIDEO_BYTES:
            raise PermanentError(
                f"video {item.filename} is {item.size:,} bytes; Bluesky takes up to "
                f"{MAX_VIDEO_BYTES:,}"
            )
        if state is None:
            job = self._upload_video(client, account, did, item)
            # uploadVideo's reply is the job status itself or wraps it, like getJobStatus's.
            first = job.get("jobStatus", job)
            job_id = str(first.get("jobId") or "") if isinstance(first, dict) else ""
            blob = self._await_video(client, item, job_id, time.time(), first)
        else:
            # getJobStatus is public: carrying on needs no service token.
            job_id, since = str(state["video_job"]), float(state[PROCESSING_SINCE])
            blob = self._await_video(client, item, job_id, since, None)
        embed: dict[str, Any] = {"$type": "app.bsky.embed.video", "video": blob}
        if item.alt_text:
            embed["alt"] = item.alt_text
        if item.width and item.height:
            embed["aspectRatio"] = {"width": item.width, "height": item.height}
        return embed

    def _upload_video(
        self, client: httpx2.Client, account: AccountRef, did: str, item: MediaItem
    ) -> dict[str, Any]:
        """The video sent to the video service: its reply, naming the processing job."""
        self._check_video_quota(client, account, item)
        pds = str(account.extra.get("pds_url") or self.api_url)
        token = self._service_token(client, account, pds, "com.atproto.repo.uploadBlob")
        try:
            return self._call(
                client,
                "POST",
                f"{self.video_url}/xrpc/app.bsky.video.uploadVideo",
                token=token,
                params={"did": did, "name": item.filename},
                content=item.content(),
                content_type="video/mp4",
            )
        except XrpcError as exc:
            # The same video uploaded before: the reply still names its job (or blob).
            if exc.error != "already_exists":
                raise
            return exc.body

    def _await_video(
        self, client: httpx2.Client, item: MediaItem, job_id: str, since: float, first: Any
    ) -> dict[str, Any]:
        """Polls the processing job until it gives the video's blob; `first` is what the
        upload said of the job (None asks first). A job still processing after a moment
        hands the wait to the daemon (Processing) naming the job, so nothing is uploaded
        twice; the wait counts from `since`, when the processing began."""

        def blob_of(job: Any) -> dict[str, Any] | None:
            nonlocal job_id
            if not isinstance(job, dict):
                raise TransientError(f"{self.title} sent a video job status autopostr cannot read")
            # A blob first: a video processed before comes back as a failed job
            # (already_exists) that still names the blob to use.
            blob = job.get("blob")
            if isinstance(blob, dict) and blob.get("ref"):
                return blob
            if job.get("state") == JOB_FAILED:
                reason = job.get("error") or job.get("message") or "processing failed"
                raise PermanentError(f"Bluesky could not process video {item.filename}: {reason}")
            job_id = str(job.get("jobId") or "")
            if not job_id:
                raise TransientError(f"{self.title} sent a video job status without its job id")
            return None

        def status() -> Any:
            return self._call(
                client,
                "GET",
                f"{self.video_url}/xrpc/app.bsky.video.getJobStatus",
                params={"jobId": job_id},
            ).get("jobStatus")

        seen: dict[str, Any] = {} if first is None else {"first": first}
        return poll_until(
            self,
            blob_of,
            status,
            what=f"video {item.filename}",
            wait=DEFAULT_MEDIA_WAIT_SECONDS,
            every=DEFAULT_MEDIA_POLL_SECONDS,
            resume={"video_job": job_id, PROCESSING_SINCE: since},
            **seen,
        )

    # -- after publishing ------------------------------------------------------------

    def _parse_uri(self, remote_id: str) -> tuple[str, str, str]:
        match = _AT_URI.match(remote_id)
        if not match:
            raise PermanentError(f"{remote_id!r} is not a Bluesky post (at://did/collection/rkey)")
        return match.group("repo"), match.group("collection"), match.group("rkey")

    def delete(self, account: AccountRef, remote_id: str) -> bool:
        """deleteRecord "ensures the record does not exist": the PDS answers with the
        commit it made, and with none when the record was already gone."""
        repo, collection, rkey = self._parse_uri(remote_id)
        with self._client() as client:
            answer = self._call(
                client,
                "POST",
                "com.atproto.repo.deleteRecord",
                token=self.access_token(account),
                body={"repo": repo, "collection": collection, "rkey": rkey},
            )
        return bool(answer.get("commit"))

    def metrics(self, account: AccountRef, remote_id: str) -> Metrics:
        found = self.post_metrics(account, [MetricsTarget(remote_id)])[remote_id]
        if isinstance(found, PlatformError):
            raise found
        return found

    def post_metrics(
        self, account: AccountRef, posts: Sequence[MetricsTarget]
    ) -> dict[str, Metrics | PermanentError]:
        """`app.bsky.feed.getPosts`, 25 posts a call; a post it leaves out is Gone.
        Bluesky counts no impressions, reach or clicks (None)."""
        found: dict[str, Metrics | PermanentError] = {}
        uris: list[str] = []
        for post in posts:
            try:
                self._parse_uri(post.remote_id)
                uris.append(post.remote_id)
            except PermanentError as exc:
                found[post.remote_id] = exc
        token = self.access_token(account)
        with self._client() as client:
            for start in range(0, len(uris), self.metrics_batch):
                chunk = uris[start : start + self.metrics_batch]
                answer = self._call(
                    client, "GET", "app.bsky.feed.getPosts", token=token, params={"uris": chunk}
                )
                listed = answer.get("posts")
                if not isinstance(listed, list):
                    raise TransientError(
                        f"{self.title} sent a getPosts reply autopostr cannot read"
                    )
                by_uri = {p.get("uri"): p for p in listed if isinstance(p, dict)}
                for uri in chunk:
                    listed_post = by_uri.get(uri)
                    found[uri] = (
                        _post_metrics(listed_post)
                        if listed_post is not None
                        else Gone(f"Bluesky no longer has the post {uri}")
                    )
        return found

    def account_metrics(self, account: AccountRef) -> Metrics:
        with self._client() as client:
            profile = self._call(
                client,
                "GET",
                "app.bsky.actor.getProfile",
                token=self.access_token(account),
                params={"actor": self._did(client, account)},
            )
        raw = {key: profile[key] for key in PROFILE_COUNTS if key in profile}
        return Metrics(followers=count(profile.get("followersCount")), raw=raw)

    def find_published(
        self, account: AccountRef, request: PublishRequest
    ) -> PublishResult | UnknownOutcome | None:
        """Definitive: every post has a known record key. A thread cut short counts as not
        sent, since publishing again only adds the missing parts."""
        keys = self._record_keys(request)
        texts = list(request.parts or [""])
        wanted = list(zip(keys, texts, strict=False))
        if request.first_comment:
            wanted.append((keys[-1], request.first_comment))
        with self._client() as client:
            did = self._did(client, account)
            found = []
            for rkey, text in wanted:
                post = self._get_post(client, did, rkey, text)
                if post is None:
                    return None
                found.append(post)
        comment = found.pop() if request.first_comment else None
        return self._result(account, found, comment)


def _post_metrics(post: dict[str, Any]) -> Metrics:
    return Metrics(
        likes=count(post.get("likeCount")),
        comments=count(post.get("replyCount")),
        shares=added(count(post.get("repostCount")), count(post.get("quoteCount"))),
        saves=count(post.get("bookmarkCount")),
        raw={key: post[key] for key in POST_COUNTS if key in post},
    )
