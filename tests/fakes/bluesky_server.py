"""A fake Bluesky PDS and video service speaking XRPC as the real ones do.

Sessions are JWT-shaped (their `exp` claim is real), records live in repos keyed by
(did, rkey), blobs by content, and video jobs progress through states as they are
polled. Where the real service's behaviour is not pinned down, the fake can play
each reading (`expired_status`, `conflict`, `wrap_upload_status`,
`already_exists_blob`) so the adapter is proven against all of them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

import regex

from tests.fakes.platform_server import FakePlatform, Handler, Request, Response

POST = "app.bsky.feed.post"
TID = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}\Z")
MAX_IMAGE_BYTES = 1_000_000

# How a createRecord on a taken record key is refused, in each reading. Bluesky's own
# PDS answers a bare 500 (bluesky-social/atproto#3718, indigo#873).
CONFLICTS: dict[str, tuple[int, str, str]] = {
    "InternalServerError": (500, "InternalServerError", "Internal Server Error"),
    "InvalidSwap": (400, "InvalidSwap", "Record already exists"),
    "RecordAlreadyExists": (409, "RecordAlreadyExists", "Record already exists"),
    "InvalidRequest": (400, "InvalidRequest", "Record already exists at that key"),
}


def xrpc_error(status: int, error: str, message: str) -> Response:
    return Response(status, {"error": error, "message": message})


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def jwt(claims: dict[str, Any]) -> str:
    return ".".join(
        (_b64({"typ": "at+jwt", "alg": "ES256K"}), _b64(claims), secrets.token_urlsafe(16))
    )


def cid_of(data: bytes, prefix: str = "bafyrei") -> str:
    return prefix + base64.b32encode(hashlib.sha256(data).digest()).decode().lower().rstrip("=")


def _ignoring_match(handler: Callable[[Request], Response]) -> Handler:
    return lambda request, _match: handler(request)


@dataclass
class Account:
    did: str
    handle: str
    app_password: str


@dataclass
class Job:
    job_id: str
    did: str
    digest: str
    polls_left: int
    blob: dict[str, Any]
    failed: str | None = None
    states: list[str] = field(default_factory=list)
    already_exists: bool = False  # a second upload of a video processed before


class BlueskyFake(FakePlatform):
    def __init__(self, **options: Any) -> None:
        super().__init__()
        self.reset(**options)
        xrpc = r"/xrpc/"
        for method, nsid, handler in (
            ("POST", "com.atproto.server.createSession", self._create_session),
            ("POST", "com.atproto.server.refreshSession", self._refresh_session),
            ("POST", "com.atproto.server.deleteSession", self._delete_session),
            ("GET", "com.atproto.server.getSession", self._get_session),
            ("GET", "com.atproto.server.getServiceAuth", self._service_auth),
            ("GET", "com.atproto.identity.resolveHandle", self._resolve_handle),
            ("POST", "com.atproto.repo.uploadBlob", self._upload_blob),
            ("POST", "com.atproto.repo.createRecord", self._create_record),
            ("GET", "com.atproto.repo.getRecord", self._get_record),
            ("POST", "com.atproto.repo.deleteRecord", self._delete_record),
            ("GET", "app.bsky.feed.getPosts", self._get_posts),
            ("GET", "app.bsky.actor.getProfile", self._get_profile),
            ("POST", "app.bsky.video.uploadVideo", self._upload_video),
            ("GET", "app.bsky.video.getJobStatus", self._job_status),
            ("GET", "app.bsky.video.getUploadLimits", self._upload_limits),
        ):
            self.route(method, xrpc + re.escape(nsid), _ignoring_match(handler))

    def reset(
        self,
        *,
        expired_status: int = 400,
        conflict: str = "InvalidSwap",
        wrap_upload_status: bool = False,
        already_exists_blob: bool = False,
        video_polls: int = 2,
        access_lifetime: int = 7200,
    ) -> None:
        """A fresh PDS on the same port, so one server can serve many tests."""
        self.expired_status = expired_status  # 400 per the docs' reading, 401 the other
        self.conflict = conflict
        self.wrap_upload_status = wrap_upload_status
        # Whether uploadVideo's already_exists answer names the blob itself, or only a job
        # whose status does (atproto#3097 shows the first without one).
        self.already_exists_blob = already_exists_blob
        self.video_polls = video_polls
        self.access_lifetime = access_lifetime
        self.accounts: dict[str, Account] = {}  # by did
        self.handles: dict[str, str] = {}  # handle -> did, beyond the accounts too
        self.access: dict[str, tuple[str, float]] = {}  # token -> (did, expiry)
        self.refresh: dict[str, tuple[str, float]] = {}
        self.service_tokens: dict[str, tuple[str, str, str]] = {}  # token -> (did, aud, lxm)
        self.records: dict[tuple[str, str], dict[str, Any]] = {}  # (did, rkey) -> record
        self.blobs: dict[str, dict[str, Any]] = {}  # cid -> blob, with bytes
        self.jobs: dict[str, Job] = {}
        self.counts: dict[str, dict[str, int]] = {}  # uri -> likeCount, repostCount …
        self.metrics_growth = True
        self.metric_reads: Counter[str] = Counter()
        self.followers = 310
        self.video_limits: dict[str, Any] = {
            "canUpload": True,
            "remainingDailyVideos": 25,
            "remainingDailyBytes": 10_000_000_000,
        }
        self.fail_video: str | None = None
        self.garble_next_create = False
        self.sessions_created = 0
        with self.lock:
            self.faults.clear()
            self.requests.clear()

    def start(self) -> Self:
        super().start()
        assert self._server is not None
        # Headers and body leave in two writes; without this each answer waits for
        # the client's delayed ACK (~40 ms).
        self._server.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
        return self

    # -- what tests set up and look at ----------------------------------------

    def add_account(self, handle: str, app_password: str) -> str:
        did = "did:plc:" + hashlib.sha256(handle.encode()).hexdigest()[:24]
        self.accounts[did] = Account(did, handle, app_password)
        self.handles[handle] = did
        return did

    def expire_access_tokens(self) -> None:
        for token, (did, _expiry) in list(self.access.items()):
            self.access[token] = (did, time.time() - 1)

    def expire_refresh_tokens(self) -> None:
        for token, (did, _expiry) in list(self.refresh.items()):
            self.refresh[token] = (did, time.time() - 1)

    def throttle_next(self, nsid: str, reset: float, *, epoch: bool = True) -> None:
        """A 429 with Bluesky's rate-limit headers; `epoch` picks the reading of
        RateLimit-Reset (epoch seconds, as Bluesky sends, or a draft-polli delta)."""
        value = int(time.time() + reset) if epoch else int(reset)
        self.fail_next(
            re.escape(nsid),
            429,
            {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
            {
                "RateLimit-Limit": "5000",
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(value),
                "RateLimit-Policy": "5000;w=3600",
            },
        )

    def posts(self, did: str | None = None) -> list[dict[str, Any]]:
        """Records in the order they were made."""
        return [r for (owner, _k), r in self.records.items() if did in (None, owner)]

    # -- auth -------------------------------------------------------------------

    def _issue(self, did: str) -> dict[str, Any]:
        now = time.time()
        access = jwt(
            {"scope": "com.atproto.appPass", "sub": did, "exp": int(now) + self.access_lifetime}
        )
        refresh = jwt({"scope": "com.atproto.refresh", "sub": did, "exp": int(now) + 90 * 86400})
        self.access[access] = (did, now + self.access_lifetime)
        self.refresh[refresh] = (did, now + 90 * 86400)
        account = self.accounts[did]
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": account.handle,
            "did": did,
            "didDoc": {
                "id": did,
                "alsoKnownAs": [f"at://{account.handle}"],
                "service": [
                    {
                        "id": "#atproto_pds",
                        "type": "AtprotoPersonalDataServer",
                        "serviceEndpoint": self.url,
                    }
                ],
            },
            "email": f"{account.handle}@example.test",
            "emailConfirmed": True,
            "active": True,
        }

    def _user(self, request: Request) -> str | Response:
        token = request.bearer
        if not token:
            return xrpc_error(401, "AuthMissing", "Authentication Required")
        if token in self.refresh:
            return xrpc_error(400, "InvalidToken", "Invalid token type")
        entry = self.access.get(token)
        if entry is None:
            return xrpc_error(400, "InvalidToken", "Token could not be verified")
        did, expiry = entry
        if expiry <= time.time():
            return xrpc_error(self.expired_status, "ExpiredToken", "Token has expired")
        return did

    def _create_session(self, request: Request) -> Response:
        body = request.json() or {}
        identifier = str(body.get("identifier", "")).lower()
        did = identifier if identifier in self.accounts else self.handles.get(identifier)
        account = self.accounts.get(did or "")
        if account is None or body.get("password") != account.app_password:
            return xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
        self.sessions_created += 1
        return Response(200, self._issue(account.did))

    def _refresh_session(self, request: Request) -> Response:
        token = request.bearer or ""
        if token in self.access:
            return xrpc_error(400, "InvalidToken", "Invalid token type")
        entry = self.refresh.get(token)
        if entry is None:
            return xrpc_error(400, "InvalidToken", "Token has been revoked")
        did, expiry = entry
        if expiry <= time.time():
            return xrpc_error(400, "ExpiredToken", "Token has expired")
        del self.refresh[token]  # rotated
        session = self._issue(did)
        return Response(200, {k: session[k] for k in ("accessJwt", "refreshJwt", "handle", "did")})

    def _delete_session(self, request: Request) -> Response:
        if self.refresh.pop(request.bearer or "", None) is None:
            return xrpc_error(400, "InvalidToken", "Token has been revoked")
        return Response(200, b"")

    def _get_session(self, request: Request) -> Response:
        did = self._user(request)
        if isinstance(did, Response):
            return did
        account = self.accounts[did]
        return Response(200, {"handle": account.handle, "did": did, "active": True})

    def _service_auth(self, request: Request) -> Response:
        did = self._user(request)
        if isinstance(did, Response):
            return did
        aud, lxm = request.query.get("aud", ""), request.query.get("lxm", "")
        if not aud.startswith("did:web:"):
            return xrpc_error(400, "InvalidRequest", "aud must be a did")
        exp = int(request.query.get("exp") or time.time() + 60)
        if exp - time.time() > 3600:
            return xrpc_error(400, "BadExpiration", "expiration is too far in the future")
        if exp - time.time() > 60 and not lxm:
            return xrpc_error(400, "BadExpiration", "long-lived tokens need a method (lxm)")
        token = "svc-" + secrets.token_urlsafe(16)
        self.service_tokens[token] = (did, aud, lxm)
        return Response(200, {"token": token})

    def _service_user(self, request: Request, lxm: str) -> str | Response:
        entry = self.service_tokens.get(request.bearer or "")
        if entry is None:
            return xrpc_error(401, "AuthMissing", "Authentication Required")
        did, aud, granted = entry
        if granted != lxm:
            return xrpc_error(401, "BadJwtLexiconMethod", f"token is for {granted}, not {lxm}")
        host = urllib.parse.urlsplit(self.url).hostname
        if aud != f"did:web:{host}":
            return xrpc_error(401, "BadJwtAudience", f"jwt audience {aud} does not match")
        return did

    def _resolve_handle(self, request: Request) -> Response:
        did = self.handles.get(request.query.get("handle", "").lower())
        if did is None:
            return xrpc_error(400, "InvalidRequest", "Unable to resolve handle")
        return Response(200, {"did": did})

    # -- repo ---------------------------------------------------------------------

    def _upload_blob(self, request: Request) -> Response:
        did = self._user(request)
        if isinstance(did, Response):
            return did
        if not request.body:
            return xrpc_error(400, "InvalidRequest", "no data")
        mime = request.headers.get("content-type", "application/octet-stream")
        cid = cid_of(request.body, "bafkrei")
        blob = {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(request.body)}
        self.blobs[cid] = {**blob, "data": request.body}
        return Response(200, {"blob": blob})

    def _known_blob(self, blob: Any) -> dict[str, Any] | None:
        if not isinstance(blob, dict) or blob.get("$type") != "blob":
            return None
        cid = (blob.get("ref") or {}).get("$link")
        return self.blobs.get(cid) if isinstance(cid, str) else None

    def _invalid(self, record: dict[str, Any]) -> str | None:
        """Why the post lexicon refuses `record`, or None."""
        if record.get("$type") != POST:
            return "Record/$type must be app.bsky.feed.post"
        text = record.get("text")
        if not isinstance(text, str):
            return "Record/text must be a string"
        if len(regex.findall(r"\X", text)) > 300 or len(text.encode()) > 3000:
            return "Record/text must not be longer than 300 graphemes"
        if not isinstance(record.get("createdAt"), str) or not record["createdAt"].endswith("Z"):
            return "Record/createdAt must be a valid datetime"
        size = len(text.encode())
        for facet in record.get("facets", []):
            index = facet.get("index", {})
            start, end = index.get("byteStart"), index.get("byteEnd")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= size):
                return "Record/facets: byte range out of the text"
            if not facet.get("features"):
                return "Record/facets: no features"
        embed = record.get("embed")
        if embed is not None:
            kind = embed.get("$type")
            if kind == "app.bsky.embed.images":
                images = embed.get("images") or []
                if not 1 <= len(images) <= 4:
                    return "Record/embed/images must hold 1 to 4 images"
                for image in images:
                    blob = self._known_blob(image.get("image"))
                    if blob is None or not isinstance(image.get("alt"), str):
                        return "Record/embed/images: unknown blob or no alt"
                    if blob["size"] > MAX_IMAGE_BYTES:
                        return "Record/embed/images/image: blob is too large"
                    ratio = image.get("aspectRatio")
                    if ratio is not None and not (
                        ratio.get("width", 0) > 0 < ratio.get("height", 0)
                    ):
                        return "Record/embed/images/aspectRatio must be positive"
            elif kind == "app.bsky.embed.video":
                blob = self._known_blob(embed.get("video"))
                if blob is None or blob["mimeType"] != "video/mp4":
                    return "Record/embed/video: unknown blob"
            else:
                return f"Record/embed: unknown type {kind}"
        reply = record.get("reply")
        if reply is not None:
            for role in ("root", "parent"):
                ref = reply.get(role) or {}
                target = self._by_uri(str(ref.get("uri", "")))
                if target is None or target["cid"] != ref.get("cid"):
                    return f"Record/reply/{role} does not name an existing post"
        return None

    def _by_uri(self, uri: str) -> dict[str, Any] | None:
        match = re.fullmatch(r"at://([^/]+)/app\.bsky\.feed\.post/([^/]+)", uri)
        return self.records.get((match.group(1), match.group(2))) if match else None

    def _create_record(self, request: Request) -> Response:
        did = self._user(request)
        if isinstance(did, Response):
            return did
        body = request.json() or {}
        if body.get("repo") != did:
            return xrpc_error(400, "InvalidRequest", "Invalid repo: not yours")
        if body.get("collection") != POST:
            return xrpc_error(400, "InvalidRequest", "unexpected collection")
        rkey = body.get("rkey") or "".join(secrets.choice("234567abcdefghij") for _ in range(13))
        if not TID.match(rkey):
            return xrpc_error(400, "InvalidRequest", f"Invalid record key: {rkey}")
        if (did, rkey) in self.records:
            status, error, message = CONFLICTS[self.conflict]
            return xrpc_error(status, error, message)
        record = body.get("record")
        if not isinstance(record, dict):
            return xrpc_error(400, "InvalidRequest", "Record must be an object")
        problem = self._invalid(record)
        if problem:
            return xrpc_error(
                400, "InvalidRequest", f"Invalid app.bsky.feed.post record: {problem}"
            )
        uri = f"at://{did}/{POST}/{rkey}"
        cid = cid_of(json.dumps(record, sort_keys=True).encode())
        self.records[(did, rkey)] = {"uri": uri, "cid": cid, "value": record}
        if self.garble_next_create:
            self.garble_next_create = False
            return Response(200, "<html><body>502 upstream hiccup</body></html>")
        return Response(
            200,
            {
                "uri": uri,
                "cid": cid,
                "commit": {"cid": cid_of(uri.encode()), "rev": "3l" + rkey[2:]},
                "validationStatus": "valid",
            },
        )

    def _get_record(self, request: Request) -> Response:
        repo = request.query.get("repo", "")
        did = repo if repo.startswith("did:") else self.handles.get(repo, "")
        found = self.records.get((did, request.query.get("rkey", "")))
        if found is None or request.query.get("collection") != POST:
            return xrpc_error(
                400, "RecordNotFound", f"Could not locate record: at://{repo}/{POST}/…"
            )
        return Response(200, found)

    def _delete_record(self, request: Request) -> Response:
        did = self._user(request)
        if isinstance(did, Response):
            return did
        body = request.json() or {}
        if body.get("repo") != did:
            return xrpc_error(400, "InvalidRequest", "Invalid repo: not yours")
        if self.records.pop((did, str(body.get("rkey"))), None) is None:
            return Response(200, b"")  # the PDS makes no commit for a record already gone
        return Response(200, {"commit": {"cid": cid_of(b"delete"), "rev": "3ldelete"}})

    def _get_profile(self, request: Request) -> Response:
        did = self._user(request)
        if isinstance(did, Response):
            return did
        actor = request.query.get("actor", "")
        account = self.accounts.get(actor) or self.accounts.get(self.handles.get(actor, ""))
        if account is None:
            return Response(400, {"error": "InvalidRequest", "message": "Profile not found"})
        self.followers += 2
        return Response(
            200,
            {
                "did": account.did,
                "handle": account.handle,
                "followersCount": self.followers - 2,
                "followsCount": 12,
                "postsCount": sum(1 for (owner, _k) in self.records if owner == account.did),
            },
        )

    def _get_posts(self, request: Request) -> Response:
        did = self._user(request)
        if isinstance(did, Response):
            return did
        views = []
        uris = request.query_all.get("uris") or request.query.get("uris", "").split(",")
        if len(uris) > 25:
            return Response(400, {"error": "InvalidRequest", "message": "uris: at most 25"})
        for uri in uris:
            record = self._by_uri(uri)
            if record is None:
                continue
            self.metric_reads[uri] += 1
            owner = self.accounts.get(uri.split("/")[2])
            replies = sum(
                1
                for r in self.records.values()
                if r["value"].get("reply", {}).get("parent", {}).get("uri") == uri
            )
            counts = {"likeCount": 0, "repostCount": 0, "quoteCount": 0, "bookmarkCount": 0}
            counts.update({"replyCount": replies, **self.counts.get(uri, {})})
            if self.metrics_growth:  # people go on liking between two reads
                grown = self.counts.setdefault(uri, {})
                grown["likeCount"] = counts["likeCount"] + 1
            views.append(
                {
                    "uri": uri,
                    "cid": record["cid"],
                    "author": {
                        "did": owner.did if owner else "",
                        "handle": owner.handle if owner else "",
                    },
                    "record": record["value"],
                    "indexedAt": "2025-01-01T00:00:00.000Z",
                    **counts,
                }
            )
        return Response(200, {"posts": views})

    # -- video service ---------------------------------------------------------------

    def _job_view(self, job: Job) -> dict[str, Any]:
        if job.already_exists:
            # bsky-docs: getJobStatus answers an already_exists error, failed or not, with
            # the blob of the video processed before.
            return {
                "jobId": job.job_id,
                "did": job.did,
                "state": "JOB_STATE_FAILED",
                "error": "already_exists",
                "message": "Video already processed",
                "blob": job.blob,
            }
        if job.failed:
            return {
                "jobId": job.job_id,
                "did": job.did,
                "state": "JOB_STATE_FAILED",
                "error": job.failed,
            }
        if job.polls_left > 0:
            return {
                "jobId": job.job_id,
                "did": job.did,
                "state": "JOB_STATE_ENCODING",
                "progress": 40,
            }
        return {
            "jobId": job.job_id,
            "did": job.did,
            "state": "JOB_STATE_COMPLETED",
            "progress": 100,
            "blob": job.blob,
        }

    def _upload_video(self, request: Request) -> Response:
        did = self._service_user(request, "com.atproto.repo.uploadBlob")
        if isinstance(did, Response):
            return did
        if request.query.get("did") != did or not request.query.get("name"):
            return xrpc_error(400, "InvalidRequest", "did and name are required")
        if request.headers.get("content-type") != "video/mp4" or not request.body:
            return xrpc_error(400, "InvalidRequest", "expected video/mp4 bytes")
        digest = hashlib.sha256(request.body).hexdigest()
        for job in list(self.jobs.values()):
            if job.digest == digest and job.did == did and not job.failed:
                again = Job(
                    "job-" + secrets.token_hex(6), did, digest, 0, job.blob, already_exists=True
                )
                self.jobs[again.job_id] = again
                answer: dict[str, Any] = {
                    "did": did,
                    "error": "already_exists",
                    "jobId": again.job_id,
                    "message": "Video already processed",
                    "state": "JOB_STATE_COMPLETED",
                }
                if self.already_exists_blob:
                    answer["blob"] = job.blob
                return Response(409, answer)
        cid = cid_of(request.body, "bafkrei")
        blob = {
            "$type": "blob",
            "ref": {"$link": cid},
            "mimeType": "video/mp4",
            "size": len(request.body),
        }
        job = Job(
            "job-" + secrets.token_hex(6), did, digest, self.video_polls, blob, self.fail_video
        )
        self.jobs[job.job_id] = job
        self.blobs[cid] = {**blob, "data": request.body}
        view = {**self._job_view(job), "blob": None}
        view = {k: v for k, v in view.items() if v is not None}
        if not job.failed:
            view["state"] = "JOB_STATE_CREATED"
        return Response(200, {"jobStatus": view} if self.wrap_upload_status else view)

    def _job_status(self, request: Request) -> Response:
        job = self.jobs.get(request.query.get("jobId", ""))
        if job is None:
            return xrpc_error(400, "InvalidRequest", "unknown job")
        view = self._job_view(job)
        job.states.append(view["state"])
        job.polls_left -= 1
        return Response(200, {"jobStatus": view})

    def _upload_limits(self, request: Request) -> Response:
        did = self._service_user(request, "app.bsky.video.getUploadLimits")
        if isinstance(did, Response):
            return did
        return Response(200, dict(self.video_limits))
