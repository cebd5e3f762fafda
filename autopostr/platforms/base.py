"""The small interface every platform adapter implements, built-in or plugin.

An adapter declares its limits as data (so posts are validated when they are
written, never first at publish time) and implements a few operations. It
raises the PlatformError subclasses below so the publisher can tell a retry
from a permanent failure without knowing the platform.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar

from autopostr.config import Settings

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})


@dataclass(frozen=True)
class MediaLimits:
    max_images: int = 4
    max_videos: int = 1
    mixed: bool = False  # images and a video in one post
    image_types: frozenset[str] = IMAGE_TYPES
    video_types: frozenset[str] = VIDEO_TYPES
    max_image_bytes: int = 5 * 1024 * 1024
    max_video_bytes: int = 512 * 1024 * 1024
    max_video_seconds: float | None = 140.0
    required: bool = False
    # Width / height ranges, None where the platform has none: e.g. Instagram's images
    # take 4:5 to 1.91:1 (min_aspect=0.8, max_aspect=1.91), X's videos 1:3 to 3:1.
    min_aspect: float | None = None  # images
    max_aspect: float | None = None
    min_video_aspect: float | None = None
    max_video_aspect: float | None = None


@dataclass(frozen=True)
class Limits:
    max_chars: int
    counting: str = "codepoints"  # "x-weighted" | "graphemes" | "codepoints"
    media: MediaLimits = field(default_factory=MediaLimits)
    threads: bool = False
    first_comment: bool = False
    max_thread_parts: int = 25


@dataclass(frozen=True)
class MediaItem:
    """A media item as an adapter sees it; `open` streams the bytes."""

    id: int
    filename: str
    mime_type: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    alt_text: str | None = None
    open: Callable[[], IO[bytes]] | None = None


@dataclass(frozen=True)
class AccountRef:
    """What an adapter needs of an account; credentials are already decrypted."""

    id: int
    platform: str
    handle: str
    remote_id: str | None = None
    credentials: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PublishRequest:
    post_id: int
    destination_id: int
    parts: list[str]  # one part, or a thread's parts in order
    media: list[MediaItem] = field(default_factory=list)
    first_comment: str | None = None
    # Stable across retries of this destination: platforms that honour one dedupe on it.
    idempotency_key: str = ""


@dataclass(frozen=True)
class PublishResult:
    remote_id: str
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Metrics:
    impressions: int = 0
    likes: int = 0
    comments: int = 0
    shares: int = 0
    clicks: int = 0


class PlatformError(Exception):
    """A platform call failed; `transient` says whether trying again may help."""

    transient: bool = False

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class TransientError(PlatformError):
    """Network trouble, 5xx, 429, throttling: try again later.

    `maybe_sent` marks failures after the request left (a read timeout): the next
    attempt asks the platform whether the post exists before sending again.
    """

    transient = True

    def __init__(self, message: str, *, retry_after: float | None = None, maybe_sent: bool = False):
        super().__init__(message, retry_after=retry_after)
        self.maybe_sent = maybe_sent


MAYBE_SENT = "(may have been sent) "


class PermanentError(PlatformError):
    """Validation, revoked access, deleted account: retrying cannot help."""


class AuthExpired(PlatformError):
    """The access token expired: refresh once, then retry."""

    transient = True


class NotSupported(PermanentError):
    """The platform has no such operation."""


class UnknownOutcome:
    """`find_published` could not tell whether a post went out."""


UNKNOWN = UnknownOutcome()


class Platform(ABC):
    """Base class of every adapter. Subclasses set `name`, `title` and `limits`."""

    name: ClassVar[str]
    title: ClassVar[str]
    limits: ClassVar[Limits]
    needs_credentials: ClassVar[bool] = True

    def __init__(self, settings: Settings):
        self.settings = settings

    @classmethod
    def credential_fields(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """Map what a user pipes to `accounts add` onto stored fields: `access_token` and
        `refresh_token` are kept encrypted, `expires_in` sets the expiry, the rest is extra."""
        return dict(raw)

    def count_text(self, text: str) -> int:
        from autopostr.platforms.textcount import count

        return count(text, self.limits.counting)

    def text_fits(self, text: str) -> bool:
        from autopostr.platforms.textcount import fits

        return fits(text, self.limits.counting, self.limits.max_chars)

    @abstractmethod
    def publish(self, account: AccountRef, request: PublishRequest) -> PublishResult:
        """Publish every part (and the first comment); raise PlatformError on failure."""

    def delete(self, account: AccountRef, remote_id: str) -> None:
        raise NotSupported(f"{self.title} posts cannot be deleted through autopostr")

    def metrics(self, account: AccountRef, remote_id: str) -> Metrics:
        raise NotSupported(f"{self.title} has no metrics")

    def refresh(self, account: AccountRef) -> dict[str, Any] | None:
        """New credentials for an expiring token, or None where tokens do not expire."""
        return None

    def authorize(self, **options: Any) -> dict[str, Any]:
        raise NotSupported(
            f"{self.title} accounts are added with `autopostr accounts add {self.name}`"
        )

    def find_published(
        self, account: AccountRef, request: PublishRequest
    ) -> PublishResult | UnknownOutcome | None:
        """After a crash mid-call: the post if it went out, None if it did not, UNKNOWN if unsure."""
        return UNKNOWN
