"""The built-in `sandbox` platform: a small offline X for trying and rehearsing autopostr.

Each publish appends one JSON line to `<sandbox dir>/<handle>.jsonl` and never
rewrites earlier ones, so every call stays visible. The line goes out in a
single `write` on an O_APPEND descriptor, which keeps lines from several
daemons (threads or processes) whole. AUTOPOSTR_SANDBOX_LATENCY_MS and
AUTOPOSTR_SANDBOX_FAIL_RATE make calls slow or flaky to rehearse retries; a
failed call writes nothing, exactly like a request that never reached X.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import random
import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from autopostr.platforms.base import (
    AccountRef,
    Limits,
    MediaItem,
    MediaLimits,
    Metrics,
    MetricsTarget,
    PermanentError,
    Platform,
    Processing,
    PublishRequest,
    PublishResult,
    TransientError,
)

URL_BASE = "https://sandbox.autopostr.invalid"
GROWTH_MINUTES = 14 * 24 * 60
FOLLOWERS_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
REMOTE_ID_PREFIX = "sbx_"


class SandboxPlatform(Platform):
    """Needs no credentials; enforces X-like limits so rehearsals fail where X would."""

    name: ClassVar[str] = "sandbox"
    title: ClassVar[str] = "Sandbox"
    needs_credentials: ClassVar[bool] = False
    limits: ClassVar[Limits] = Limits(
        max_chars=280,
        counting="x-weighted",
        media=MediaLimits(max_images=4, max_videos=1, mixed=False),
        threads=True,
        first_comment=True,
    )
    metrics_batch: ClassVar[int] = 100
    # An offline log takes several posts of one account at once (rehearsing a burst).
    posts_at_once: ClassVar[int] = 4

    # -- settings -----------------------------------------------------------

    @property
    def sandbox_dir(self) -> Path:
        return _sandbox_dir(self.settings.get("sandbox_dir"), str(self._home()))

    def _home(self) -> str | Path:
        # The raw setting when there is one: `Settings.home` builds a Path at every call.
        return self.settings.get("home") or self.settings.home

    @property
    def latency_ms(self) -> float:
        """AUTOPOSTR_SANDBOX_LATENCY_MS, validated: milliseconds of sleep per call."""
        return self.settings.number("sandbox_latency_ms", 0.0)

    @property
    def fail_rate(self) -> float:
        """AUTOPOSTR_SANDBOX_FAIL_RATE, validated: the share of calls that fail transiently."""
        return self.settings.number("sandbox_fail_rate", 0.0, maximum=1.0)

    def _call(self, *, may_fail: bool = True) -> None:
        """What every call pays: the configured latency, then maybe a transient failure."""
        latency, fail_rate = self.latency_ms, self.fail_rate  # validate both before sleeping
        if latency:
            time.sleep(latency / 1000)
        if may_fail and fail_rate and random.random() < fail_rate:
            raise TransientError(
                f"sandbox: simulated transient failure (AUTOPOSTR_SANDBOX_FAIL_RATE={fail_rate:g})"
            )

    # -- the log file -------------------------------------------------------

    def log_path(self, handle: str) -> Path:
        """`<dir>/<handle>.jsonl`; characters unsafe in a file name are %-escaped."""
        return _log_path(self.settings.get("sandbox_dir"), str(self._home()), handle)

    def _append(self, handle: str, record: dict[str, Any]) -> None:
        """One whole line per `os.write` on O_APPEND, so concurrent writers never interleave."""
        try:
            line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
            data = line.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: \u-escape them instead
            data = (json.dumps(record, separators=(",", ":")) + "\n").encode("ascii")
        path = self.log_path(handle)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except FileNotFoundError:  # the first record in this sandbox directory
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        # No fsync: a line whose write returned is the kernel's, and outlives this process
        # however it ends (a kill included); only the machine crashing could lose it, and
        # for a rehearsal log that is not worth a disk flush per post.
        try:
            written = os.write(fd, data)
            while written < len(data):  # only on a full disk or a signal; finish the line
                written += os.write(fd, data[written:])
        finally:
            os.close(fd)

    def _records(self, handle: str) -> list[dict[str, Any]]:
        try:
            raw = self.log_path(handle).read_bytes()
        except FileNotFoundError:
            return []
        records = []
        for line in raw.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a hand-edited or foreign line is not ours to judge
            if isinstance(record, dict):
                records.append(record)
        return records

    # -- the Platform interface ---------------------------------------------

    @property
    def processing_seconds(self) -> float:
        """AUTOPOSTR_SANDBOX_PROCESSING_SECONDS: how long uploaded media takes to process."""
        return self.settings.seconds("sandbox_processing_seconds", 0.0)

    def publish(self, account: AccountRef, request: PublishRequest) -> PublishResult:
        at = _now()
        self._call()
        self._validate(request)
        digests = [self._upload(item) for item in request.media]
        if digests:
            self._append_upload(account.handle, request, digests)
            processing = self.processing_seconds
            if processing:
                # Like X's STATUS polls: the post is made once the media is ready.
                state = {"media": digests, "ready_at": time.time() + processing}
                raise Processing("the media", state, check_after=min(processing, 5.0))
        return self._create(account, request, digests, at)

    def resume(
        self, account: AccountRef, request: PublishRequest, state: dict[str, Any]
    ) -> PublishResult:
        """Ask whether the media is ready; then make the post with the media uploaded
        before (never uploading it again)."""
        at = _now()
        self._call()
        left = float(state.get("ready_at", 0)) - time.time()
        if left > 0:
            raise Processing("the media", state, check_after=min(left, 5.0))
        return self._create(account, request, [str(d) for d in state.get("media", [])], at)

    def _append_upload(self, handle: str, request: PublishRequest, digests: list[str]) -> None:
        """Each upload in `<handle>.uploads.log` (not a post: its own file), so a rehearsal
        shows media uploaded twice."""
        path = self.log_path(handle)
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(
            {"destination_id": request.destination_id, "media": digests, "at": _now()}
        )
        with path.with_name(path.stem + ".uploads.log").open("a", encoding="utf-8") as handle_:
            handle_.write(line + "\n")

    def _create(
        self, account: AccountRef, request: PublishRequest, digests: list[str], at: str
    ) -> PublishResult:
        remote_id = REMOTE_ID_PREFIX + secrets.token_hex(8)
        self._append(
            account.handle,
            {
                "remote_id": remote_id,
                "account": account.handle,
                "post_id": request.post_id,
                "destination_id": request.destination_id,
                "text": "\n\n".join(request.parts),
                "parts": list(request.parts),
                "first_comment": request.first_comment,
                "media": digests,
                "idempotency_key": request.idempotency_key,
                "at": at,
            },
        )
        return self._result(account.handle, remote_id)

    def whoami(self, account: AccountRef) -> dict[str, Any]:
        """The sandbox knows every handle: `accounts test` proves the setup, not a token."""
        self._call(may_fail=False)
        return {"handle": account.handle, "log": str(self.log_path(account.handle))}

    def delete(self, account: AccountRef, remote_id: str) -> bool:
        """Logged like every call; False when the log shows no live post with that id."""
        at = _now()
        self._call()
        records = self._records(account.handle)
        live = any(r.get("remote_id") == remote_id for r in records) and not any(
            r.get("deleted") == remote_id for r in records
        )
        self._append(account.handle, {"deleted": remote_id, "account": account.handle, "at": at})
        return live

    def metrics(self, account: AccountRef, remote_id: str) -> Metrics:
        """Derived from the id's SHA-256: the same id always reports the same numbers,
        those a post settles at (see `post_metrics` for a post still growing)."""
        self._call()
        return _post_numbers(remote_id, None)

    def post_metrics(
        self, account: AccountRef, posts: Sequence[MetricsTarget]
    ) -> dict[str, Metrics | PermanentError]:
        """Like X, up to 100 posts a call. A post grows towards its settled numbers over
        its first two weeks, so each day's snapshot differs; the numbers depend only on
        the id and the post's age, never on chance."""
        self._call()
        now = datetime.now(UTC)
        return {post.remote_id: _post_numbers(post.remote_id, post.age(now)) for post in posts}

    def account_metrics(self, account: AccountRef) -> Metrics:
        """Followers from the handle's SHA-256 and the minute: a steady, repeatable growth."""
        self._call()
        digest = hashlib.sha256(account.handle.encode("utf-8")).digest()
        base = 100 + int.from_bytes(digest[:4], "big") % 5000
        per_day = 1 + digest[4] % 40
        minutes = int((datetime.now(UTC) - FOLLOWERS_EPOCH).total_seconds() // 60)
        followers = base + minutes * per_day // (24 * 60)
        return Metrics(followers=followers, raw={"followers_count": followers})

    def find_published(self, account: AccountRef, request: PublishRequest) -> PublishResult | None:
        """The sandbox can always tell: its log holds every successful publish."""
        self._call(may_fail=False)
        for record in self._records(account.handle):
            if (
                "remote_id" in record
                and record.get("destination_id") == request.destination_id
                and record.get("idempotency_key") == request.idempotency_key
            ):
                return self._result(account.handle, str(record["remote_id"]))
        return None

    # -- helpers --------------------------------------------------------------

    def _upload(self, item: MediaItem) -> str:
        """What a real adapter's media upload does to the bytes: stream them through
        `open` a chunk at a time. The digest recorded is of the bytes read, so the
        log proves the adapter got exactly what was uploaded."""
        if item.open is None:
            return item.sha256
        digest = hashlib.sha256()
        size = 0
        with item.open() as stream:
            while chunk := stream.read(1024 * 1024):
                digest.update(chunk)
                size += len(chunk)
        if digest.hexdigest() != item.sha256 or size != item.size:
            raise PermanentError(
                f"sandbox: {item.filename} read back as {size} bytes with sha256 "
                f"{digest.hexdigest()[:12]}…, not the {item.size} bytes uploaded"
            )
        return digest.hexdigest()

    def _result(self, handle: str, remote_id: str) -> PublishResult:
        return PublishResult(
            remote_id=remote_id, url=f"{URL_BASE}/{quote(handle, safe='@+-_.')}/{remote_id}"
        )

    def _validate(self, request: PublishRequest) -> None:
        """Reject what X would reject, so a rehearsal cannot pass where the real thing fails."""
        limits = self.limits
        if not request.parts:
            raise PermanentError("sandbox: nothing to publish (no parts)")
        if len(request.parts) > 1 and not limits.threads:
            raise PermanentError("sandbox: threads are not supported")
        if len(request.parts) > limits.max_thread_parts:
            raise PermanentError(
                f"sandbox: a thread has at most {limits.max_thread_parts} parts, "
                f"this one has {len(request.parts)}"
            )
        if not request.parts[0].strip() and not request.media:
            raise PermanentError("sandbox: the first part needs text or media")
        for number, text in enumerate(request.parts, start=1):
            found = self.text_problems(text)
            if found:
                raise PermanentError(f"sandbox: part {number} {found[0]}")
        if request.first_comment is not None:
            found = self.text_problems(request.first_comment)
            if found:
                raise PermanentError(f"sandbox: the first comment {found[0]}")
        media = limits.media
        images = videos = 0
        for item in request.media:
            if item.mime_type in media.image_types:
                images += 1
                too_big = item.size > media.max_image_bytes
            elif item.mime_type in media.video_types:
                videos += 1
                too_big = item.size > media.max_video_bytes
                if (
                    media.max_video_seconds is not None
                    and item.duration is not None
                    and item.duration > media.max_video_seconds
                ):
                    raise PermanentError(
                        f"sandbox: {item.filename} is {item.duration:g} s long, "
                        f"the limit is {media.max_video_seconds:g} s"
                    )
            else:
                raise PermanentError(
                    f"sandbox: {item.filename} has unsupported type {item.mime_type}"
                )
            if too_big:
                raise PermanentError(f"sandbox: {item.filename} is too large ({item.size} bytes)")
        if images > media.max_images:
            raise PermanentError(f"sandbox: at most {media.max_images} images per post")
        if videos > media.max_videos:
            raise PermanentError(f"sandbox: at most {media.max_videos} video per post")
        if images and videos and not media.mixed:
            raise PermanentError("sandbox: images and a video cannot share a post")


def _post_numbers(remote_id: str, age: timedelta | None) -> Metrics:
    """X-like numbers from the id's SHA-256, scaled by how far the post is through its
    first two weeks (None: all the way). The sandbox has no reach or video views."""
    digest = hashlib.sha256(remote_id.encode("utf-8")).digest()

    def part(i: int, modulus: int) -> int:
        return int.from_bytes(digest[4 * i : 4 * i + 4], "big") % max(modulus, 1)

    impressions = 50 + part(0, 20_000)
    likes = part(1, impressions // 10 + 1)
    settled = {
        "impression_count": impressions,
        "like_count": likes,
        "reply_count": part(2, likes // 3 + 1),
        "repost_count": part(3, likes // 4 + 1),
        "url_link_clicks": part(4, impressions // 20 + 1),
        "bookmark_count": part(5, likes // 5 + 1),
    }
    if age is not None:
        # Minute by minute towards the settled numbers: 1 - e^(-t/2 days), full after 14.
        minutes = max(0.0, age.total_seconds() // 60)
        share = 1.0 if minutes >= GROWTH_MINUTES else 1 - math.exp(-minutes / (2 * 24 * 60))
        settled = {name: int(value * share) for name, value in settled.items()}
    return Metrics(
        impressions=settled["impression_count"],
        likes=settled["like_count"],
        comments=settled["reply_count"],
        shares=settled["repost_count"],
        clicks=settled["url_link_clicks"],
        saves=settled["bookmark_count"],
        raw=settled,
    )


@functools.lru_cache(maxsize=64)
def _sandbox_dir(configured: str | None, home: str) -> Path:
    if configured:
        return Path(configured).expanduser()
    return Path(home).expanduser() / "sandbox"


# Built once per handle: paths were a tenth of the CPU of a sandbox publish.
@functools.lru_cache(maxsize=4096)
def _log_path(configured: str | None, home: str, handle: str) -> Path:
    safe = quote(handle, safe="@+-_.")
    if safe.startswith("."):
        safe = "%2E" + safe[1:]
    return _sandbox_dir(configured, home) / f"{safe or '%00'}.jsonl"


def _now() -> str:
    """UTC ISO 8601 with a Z, millisecond precision."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
