"""The small interface every platform adapter implements, built-in or plugin.

An adapter declares its limits as data (so posts are validated when they are
written, never first at publish time) and implements a few operations. It
raises the PlatformError subclasses below so the publisher can tell a retry
from a permanent failure without knowing the platform.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any, ClassVar

from autopostr.config import Settings
from autopostr.errors import (
    AutopostrError,
    ExternalServiceError,
    InvalidInput,
    PlatformCannot,
    PlatformsFailed,
)

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
    max_gif_bytes: int | None = None  # where GIFs may be larger than other images (X: 15 MB)
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
    counting: str = "codepoints"  # "x-weighted" | "mastodon" | "graphemes" | "codepoints"
    max_bytes: int | None = None  # UTF-8 bytes, where the platform also caps those
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

    def stream(self) -> IO[bytes]:
        """The bytes to upload, as a stream to close after use. An item built without
        them (`open` is None) cannot be uploaded, whichever platform asks."""
        if self.open is None:
            raise PermanentError(
                f"the bytes of {self.filename} (media {self.id}) are not available"
            )
        return self.open()

    def content(self) -> bytes:
        """All the bytes at once, for uploads that need their length up front."""
        with self.stream() as stream:
            return stream.read()


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
    # When this destination was first claimed for publishing (UTC), also stable across
    # retries: Bluesky's record keys carry it as their timestamp.
    first_claimed_at: datetime | None = None


@dataclass(frozen=True)
class PublishResult:
    remote_id: str
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OAuthSpec:
    """How one platform's OAuth 2.0 authorization-code flow goes (see `autopostr.platforms.oauth`)."""

    authorize_url: str
    token_url: str
    client_id: str
    client_secret: str | None = None
    scopes: tuple[str, ...] = ()
    pkce: bool = True  # S256 code challenge
    # How the client authenticates at the token endpoint: client_secret_basic,
    # client_secret_post, or none (public clients send client_id in the form).
    token_auth: str = "client_secret_basic"
    scope_separator: str = " "
    extra_authorize_params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectedAccount:
    """One account an authorization gave us (Facebook: one per page picked).

    `credentials` holds `access_token`, `refresh_token` and `expires_in` where the
    platform has them; other keys are kept per account (secret-looking keys, such as
    `*_token`, `*_secret` or `*_password`, encrypted) and come back in AccountRef.
    """

    handle: str
    credentials: dict[str, Any]
    remote_id: str | None = None
    name: str = ""
    scopes: str = ""


# The normalized metric names (PRODUCT §9), in the order reports show them.
METRICS = (
    "impressions",
    "reach",
    "likes",
    "comments",
    "shares",
    "clicks",
    "saves",
    "video_views",
    "followers",
)


@dataclass(frozen=True)
class Metrics:
    """Running totals as a platform reports them. None means the platform did not report
    that number (it has no such metric, or not for this post now), never zero; `raw`
    keeps the platform's own fields as it sent them."""

    impressions: int | None = None
    reach: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    clicks: int | None = None
    saves: int | None = None
    video_views: int | None = None
    followers: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def values(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in METRICS}


@dataclass(frozen=True)
class MetricsTarget:
    """A published post whose numbers are asked for; its age decides what some
    platforms can tell (X's private metrics for 30 days, Instagram's insights after
    their delay)."""

    remote_id: str
    published_at: datetime | None = None

    def age(self, now: datetime) -> timedelta | None:
        return now - self.published_at if self.published_at is not None else None


def count(value: Any) -> int | None:
    """A platform's number as an int; None for anything that is not one (missing, null, text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def added(*values: int | None) -> int | None:
    """The sum of the numbers the platform reported; None when it reported none of them."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None


class PlatformError(Exception):
    """A platform call failed; `transient` says whether trying again may help."""

    transient: bool = False

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    def as_error(self, *, given: str | None = None) -> AutopostrError:
        """The error a command ends with when this failure ends it: the one rule of
        PRODUCT §2 for every platform call.

        - The platform cannot do this at all (NotSupported): exit 5; nothing failed.
        - It refused what the user gave this command (`given` names where: "stdin",
          or "" when the message names it already), for good: exit 5.
        - Anything else, unreachable, failing or refusing what autopostr stored (a
          token, a post): exit 6.

        Commands that show one result per destination end by the same rule
        (`raise_for_results`).
        """
        if isinstance(self, NotSupported) or (given is not None and not self.transient):
            return InvalidInput(f"{given}: {self.message}" if given else self.message)
        return ExternalServiceError(self.message)


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


class Gone(PermanentError):
    """The platform no longer has this post (deleted there): asking again cannot help."""


def raise_for_results(*, failed: bool, unsupported: bool = False) -> None:
    """After a command has shown its per-destination results (posts publish and retry,
    posts unpublish, daemon run --once): exit 6 when a platform failed or refused any,
    else 5 when a platform cannot do what was asked for one, as `PlatformError.as_error`."""
    if failed:
        raise PlatformsFailed()
    if unsupported:
        raise PlatformCannot()


class Processing(Exception):
    """The platform accepted the media and is still processing it: nothing failed and
    nothing is to be uploaded again. `resume` (JSON-able) is what `Platform.resume` needs
    to carry on; the daemon comes back after `check_after` seconds, holding no slot
    meanwhile. `what` names what is processing, for `posts show`."""

    def __init__(self, what: str, resume: dict[str, Any], check_after: float) -> None:
        super().__init__(f"still processing {what}")
        self.what = what
        self.resume = resume
        self.check_after = max(0.0, check_after)


class UnknownOutcome:
    """`find_published` could not tell whether a post went out."""


UNKNOWN = UnknownOutcome()


class Platform(ABC):
    """Base class of every adapter. Subclasses set `name`, `title` and `limits`."""

    name: ClassVar[str]
    title: ClassVar[str]
    limits: ClassVar[Limits]
    needs_credentials: ClassVar[bool] = True
    # Extra fields that are credentials although their names do not say so (a webhook's
    # URL): stored sealed like tokens, handed to the adapter in `credentials`.
    secret_extras: ClassVar[frozenset[str]] = frozenset()
    # Overridable per install with AUTOPOSTR_<NAME>_API_URL / _AUTH_URL (tests point
    # them at local fakes).
    default_api_url: ClassVar[str] = ""
    default_auth_url: ClassVar[str] = ""
    # Metrics as data: how many posts one metrics call may ask about, and for how long
    # after publishing the platform keeps a post's numbers (None: as long as it exists).
    metrics_batch: ClassVar[int] = 1
    metrics_window: ClassVar[timedelta | None] = None
    # How many publishes to one account may run at once. One for the platforms that
    # want an account's posts one after another (and in order); a daemon never sends
    # more, and the claim never takes more than that of one account.
    posts_at_once: ClassVar[int] = 1

    def __init__(self, settings: Settings):
        self.settings = settings

    @property
    def api_url(self) -> str:
        return (self.settings.get(f"{self.name}_api_url") or self.default_api_url).rstrip("/")

    @property
    def auth_url(self) -> str:
        return (self.settings.get(f"{self.name}_auth_url") or self.default_auth_url).rstrip("/")

    def client_credentials(self) -> tuple[str, str | None]:
        """This install's OAuth app: AUTOPOSTR_<NAME>_CLIENT_ID and _CLIENT_SECRET."""
        client_id = self.settings.get(f"{self.name}_client_id")
        if not client_id:
            from autopostr.errors import ConfigError

            upper = self.name.upper()
            raise ConfigError(
                f"{self.title} needs an OAuth app: set AUTOPOSTR_{upper}_CLIENT_ID (and "
                f"AUTOPOSTR_{upper}_CLIENT_SECRET) or [{self.name}] client_id in the config file"
            )
        return client_id, self.settings.get(f"{self.name}_client_secret") or None

    def client_credentials_with_secret(self) -> tuple[str, str]:
        """This install's OAuth app, for platforms that accept only confidential clients."""
        client_id, secret = self.client_credentials()
        if not secret:
            from autopostr.errors import ConfigError

            raise ConfigError(
                f"{self.title} needs the OAuth app's secret: set "
                f"AUTOPOSTR_{self.name.upper()}_CLIENT_SECRET or [{self.name}] client_secret "
                "in the config file"
            )
        return client_id, secret

    def access_token(self, account: AccountRef) -> str:
        """The account's stored token; a missing one is treated like an expired one, so
        the publisher tries a refresh before giving up."""
        token = account.credentials.get("access_token")
        if not token:
            raise AuthExpired(f"{self.title} account {account.handle} has no access token")
        return str(token)

    @classmethod
    def credential_fields(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """Map what a user pipes to `accounts add` onto stored fields: `access_token` and
        `refresh_token` are kept encrypted, `expires_in` sets the expiry, the rest is extra."""
        return dict(raw)

    @classmethod
    def can_connect(cls, settings: Settings) -> bool:
        """Whether `accounts connect` works on this install: it has an OAuth flow and,
        where the platform needs one, the OAuth app is configured."""
        return cls.oauth is not Platform.oauth and bool(settings.get(f"{cls.name}_client_id"))

    @classmethod
    def reconnect_options(
        cls, handle: str, remote_id: str | None, extra: dict[str, Any]
    ) -> list[str]:
        """The `accounts connect` options that bring back this very account (its page,
        its server), so the command printed to reconnect it runs as printed."""
        return []

    @classmethod
    def credentials_template(cls, extra: dict[str, Any]) -> dict[str, Any]:
        """What to pipe to `accounts add` for this platform: "…" marks what only the
        account's owner knows, the rest is filled in from what the account had."""
        return {"access_token": "…"}

    @classmethod
    def renews_itself(cls, extra: dict[str, Any], has_refresh_token: bool) -> bool:
        """Whether the daemon can renew this account's token without a person, so its
        expiry is no reason to alert (`accounts list --expiring-within`, `doctor`)."""
        return has_refresh_token

    def count_text(self, text: str) -> int:
        from autopostr.platforms.textcount import count

        return count(text, self.limits.counting)

    def text_problems(self, text: str) -> list[str]:
        """What the platform would refuse in `text` (its length, its size in bytes, a
        character it rejects), each a phrase such as "is 301 characters, X's limit is 280"."""
        from autopostr.platforms.textcount import problems

        return problems(text, self.limits, self.title)

    def text_fits(self, text: str) -> bool:
        """Whether `text_problems` would find nothing, without measuring what does not fit."""
        from autopostr.platforms.textcount import accepts

        return accepts(text, self.limits)

    @abstractmethod
    def publish(self, account: AccountRef, request: PublishRequest) -> PublishResult:
        """Publish every part (and the first comment); raise PlatformError on failure, or
        Processing when the platform must process the media first."""

    def resume(
        self, account: AccountRef, request: PublishRequest, state: dict[str, Any]
    ) -> PublishResult:
        """Carry on a publish that raised Processing with `state`: ask whether the media
        is ready (Processing again if not), then make the post. Never uploads again."""
        raise NotSupported(f"{self.title} cannot resume a publish")

    def delete(self, account: AccountRef, remote_id: str) -> bool:
        """Take a published post down (`posts unpublish`): True when it was deleted now,
        False when the platform no longer had it (already gone, which is what was asked).
        NotSupported where the platform has no delete."""
        raise NotSupported(f"{self.title} posts cannot be deleted through autopostr")

    def metrics(self, account: AccountRef, remote_id: str) -> Metrics:
        """One post's running totals; Gone when the platform no longer has it."""
        raise NotSupported(f"{self.title} has no metrics")

    def post_metrics(
        self, account: AccountRef, posts: Sequence[MetricsTarget]
    ) -> dict[str, Metrics | PermanentError]:
        """Several posts' metrics, by remote id, in as few calls as the platform allows
        (at most `metrics_batch` posts are given at once). A post the platform no longer
        has maps to Gone, one it refuses alone to its PermanentError; a failure of the
        call itself (a rate limit, an expired token, the network) raises, as it concerns
        the whole account."""
        found: dict[str, Metrics | PermanentError] = {}
        for post in posts:
            try:
                found[post.remote_id] = self.metrics(account, post.remote_id)
            except AuthExpired:
                raise
            except PermanentError as exc:
                found[post.remote_id] = exc
        return found

    def account_metrics(self, account: AccountRef) -> Metrics:
        """The account's own numbers (followers) as they are now."""
        raise NotSupported(f"{self.title} reports no account metrics")

    @classmethod
    def has_post_metrics(cls) -> bool:
        return cls.metrics is not Platform.metrics or cls.post_metrics is not Platform.post_metrics

    @classmethod
    def has_account_metrics(cls) -> bool:
        return cls.account_metrics is not Platform.account_metrics

    def refresh(self, account: AccountRef) -> dict[str, Any] | None:
        """New credentials for an expiring token, or None where tokens do not expire."""
        return None

    def prepare_credentials(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Credentials piped to `accounts add`, made ready to store; may call the platform
        (Bluesky trades an app password for a session here)."""
        return self.credential_fields(raw)

    def oauth(self, options: dict[str, str], redirect_uri: str) -> OAuthSpec:
        """The authorization flow for `accounts connect`; `options` holds --instance, --page.
        May call the platform first (Mastodon registers an app per instance)."""
        raise NotSupported(
            f"{self.title} accounts are added with `autopostr accounts add {self.name}`"
        )

    def connected_accounts(
        self, token: dict[str, Any], options: dict[str, str]
    ) -> list[ConnectedAccount]:
        """The accounts an OAuth token response grants (Facebook: trade for a long-lived
        token, then the pages picked with --page; Instagram: the linked business account)."""
        raise NotSupported(f"{self.title} has no OAuth connect")

    def whoami(self, account: AccountRef) -> dict[str, Any]:
        """The platform's own view of the account (`accounts test`): at least `handle`."""
        raise NotSupported(f"{self.title} cannot check an account")

    def revoke(self, account: AccountRef) -> None:
        """Tell the platform to forget the token, where it can (`accounts disconnect`)."""
        return None

    def check_quota(self, account: AccountRef, request: PublishRequest) -> None:
        """Raise TransientError(retry_after=…) when a daily cap is used up, before publishing."""
        return None

    def find_published(
        self, account: AccountRef, request: PublishRequest
    ) -> PublishResult | UnknownOutcome | None:
        """After a crash mid-call: the post if it went out, None if it did not, UNKNOWN if unsure."""
        return UNKNOWN
