"""Instagram professional accounts through the Graph API, connected with Facebook Login.

Connecting trades the login for a long-lived (~60 day) Facebook user token, lists
the Facebook pages it manages and keeps one account per Instagram professional
account linked to one of them. The token is renewed with `fb_exchange_token`
before it runs out; Facebook has no refresh tokens.

Publishing goes through media containers: Instagram downloads every file itself,
BY URL, so autopostr's media must be served publicly under
AUTOPOSTR_INSTAGRAM_MEDIA_BASE_URL (see `media_url`). Each container is polled
until Instagram has processed it, then published; the first comment follows.
Processing that lasts more than a moment is handed to the daemon (`Processing`),
and `resume` carries on with the containers already made.

Settings (AUTOPOSTR_INSTAGRAM_… or the [instagram] section): client_id and
client_secret (the Facebook app), media_base_url, graph_version (default
v23.0), media_wait_seconds and media_poll_seconds (container processing), scopes
(a comma-separated override of the permissions asked for).

`accounts add instagram` takes {"handle", "access_token", "expires_in"} (a
long-lived user token; without "expires_in" the token is taken to be one that
never expires, such as a page or system-user token) and optionally "ig_user_id";
without it the Instagram account is looked up among the token's pages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

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
    NotSupported,
    OAuthSpec,
    PermanentError,
    Platform,
    PlatformError,
    PublishRequest,
    PublishResult,
    TransientError,
    UnknownOutcome,
)
from autopostr.platforms.graph import (
    THROTTLE_CODES,
    Dialect,
    ErrorBody,
    GraphError,
    call,
    long_lived_form,
    managed_pages,
    to_int,
)
from autopostr.platforms.http import PROCESSING_SINCE, make_client, poll_until

if TYPE_CHECKING:
    import httpx2

log = logging.getLogger("autopostr.platforms.instagram")

GRAPH_VERSION = "v23.0"
# Facebook's long-lived user tokens last about 60 days; used when an answer omits expires_in.
LONG_LIVED_SECONDS = 60 * 24 * 3600
SCOPES = (
    "instagram_basic",
    "instagram_content_publish",
    "instagram_manage_comments",
    "instagram_manage_insights",
    "pages_show_list",
    "pages_read_engagement",
)
MAX_CAROUSEL_ITEMS = 10
# Meta's insights lag up to 48 h behind and come back empty before: not asked sooner.
INSIGHTS_DELAY = timedelta(hours=48)
MISSING_OBJECT_SUBCODE = 33
MEDIA_METRICS = ("views", "reach", "likes", "comments", "shares", "saved", "total_interactions")
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
}

# Graph error codes: throttling also by Instagram's business use case, and a container
# not ready yet.
INSTAGRAM_THROTTLE_CODES = THROTTLE_CODES | {80002}
NOT_READY_CODE, NOT_READY_SUBCODE = 9007, 2207027
PUBLISH_CAP_SUBCODE = 2207042
DOWNLOAD_FAILED_SUBCODE = 2207052
DEFAULT_THROTTLE_WAIT = 300.0
# Waiting for a container: media still processing when the wait runs out retries in a minute.
PROCESSING: dict[str, Any] = {"what": "the media", "wait": 600.0, "every": 5.0, "retry_after": 60.0}
# Only posts this recent count as "the one that went out" when looking for a lost publish.
FIND_WINDOW = timedelta(hours=48)

MEDIA_BASE_URL_HELP = (
    "Instagram downloads media by URL, so autopostr's media files must be served "
    "publicly: set AUTOPOSTR_INSTAGRAM_MEDIA_BASE_URL (or media_base_url in the "
    "[instagram] section of the config file) to the address under which each file is "
    "served as <sha256>.<ext>, e.g. https://media.example.com/autopostr"
)


class _NotReady(TransientError):
    """`media_publish` came before Instagram had finished the container."""


class _Expired(TransientError):
    """A container expired (after 24 h) before it was published: it is made again."""


@dataclass(frozen=True)
class LinkedAccount:
    """An Instagram professional account linked to one of the login's Facebook pages."""

    page_id: str
    page_name: str
    ig_user_id: str
    username: str
    name: str = ""

    def matches(self, wanted: str) -> bool:
        wanted = wanted.strip().lstrip("@").casefold()
        return wanted in {
            self.page_id,
            self.page_name.casefold(),
            self.ig_user_id,
            self.username.casefold(),
        }

    def label(self) -> str:
        return f"{self.page_name} ({self.page_id}) → @{self.username}"


def _instagram_refusal(error: ErrorBody, text: str) -> PlatformError | None:
    """What Instagram's own codes mean: a container not ready yet, the daily cap, media
    it could not download."""
    if error.code == NOT_READY_CODE or error.subcode == NOT_READY_SUBCODE:
        return _NotReady(text, retry_after=60.0)
    if error.subcode == PUBLISH_CAP_SUBCODE:
        return TransientError(text, retry_after=3600.0)
    if error.subcode == DOWNLOAD_FAILED_SUBCODE:
        return PermanentError(f"{text}; {MEDIA_BASE_URL_HELP}")
    return None


INSTAGRAM = Dialect(
    "Instagram",
    throttle_codes=INSTAGRAM_THROTTLE_CODES,
    throttle_default=DEFAULT_THROTTLE_WAIT,
    specific=_instagram_refusal,
)


def _timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


class InstagramPlatform(Platform):
    name: ClassVar[str] = "instagram"
    title: ClassVar[str] = "Instagram"
    default_api_url: ClassVar[str] = "https://graph.facebook.com"
    default_auth_url: ClassVar[str] = "https://www.facebook.com"
    metrics_window: ClassVar[timedelta | None] = timedelta(days=730)  # Meta keeps 2 years
    limits: ClassVar[Limits] = Limits(
        max_chars=2200,
        counting="codepoints",
        media=MediaLimits(
            # One image, one reel, or a carousel of up to 10 images and videos.
            max_images=MAX_CAROUSEL_ITEMS,
            max_videos=MAX_CAROUSEL_ITEMS,
            mixed=True,
            image_types=frozenset({"image/jpeg"}),
            max_image_bytes=8 * 2**20,
            # Sources give 300 MB to 1 GB for reels: the lower figure always works.
            max_video_bytes=300 * 2**20,
            max_video_seconds=15 * 60.0,
            required=True,
            min_aspect=0.8,
            max_aspect=1.91,
        ),
        threads=False,
        first_comment=True,
    )

    # -- settings -----------------------------------------------------------

    @property
    def graph_version(self) -> str:
        return (self.settings.get("instagram_graph_version") or GRAPH_VERSION).strip("/ ")

    def media_url(self, item: MediaItem) -> str:
        """Where Instagram downloads `item`: `<base>/<sha256><ext>`, or the base as a
        template with {sha256}, {sha2} (its first two characters) and {ext} (".jpg")."""
        base = (self.settings.get("instagram_media_base_url") or "").strip()
        if not base:
            raise PermanentError(MEDIA_BASE_URL_HELP)
        ext = EXTENSIONS.get(item.mime_type, "")
        if "{sha256}" in base:
            return (
                base.replace("{sha256}", item.sha256)
                .replace("{sha2}", item.sha256[:2])
                .replace("{ext}", ext)
            )
        return f"{base.rstrip('/')}/{item.sha256}{ext}"

    # -- plumbing -------------------------------------------------------------

    def _path(self, *parts: str) -> str:
        return "/" + "/".join([self.graph_version, *(quote(p, safe="") for p in parts)])

    @contextmanager
    def _graph(self, token: str | None) -> Iterator[httpx2.Client]:
        """A client for `graph.call` that sends the token in a header."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with make_client(self.settings, self.api_url, headers) as client:
            yield client

    @staticmethod
    def _ig_user_id(account: AccountRef) -> str:
        ig_user_id = account.remote_id or account.extra.get("ig_user_id")
        if not ig_user_id:
            raise PermanentError(
                f"Instagram account {account.handle} has no Instagram user id: connect it again "
                f"with `autopostr accounts connect instagram --page @{account.handle}`"
            )
        return str(ig_user_id)

    # -- connect --------------------------------------------------------------

    def oauth(self, options: dict[str, str], redirect_uri: str) -> OAuthSpec:
        client_id, secret = self.client_credentials_with_secret()
        scopes = self.settings.get("instagram_scopes")
        return OAuthSpec(
            authorize_url=f"{self.auth_url}/{self.graph_version}/dialog/oauth",
            token_url=f"{self.api_url}/{self.graph_version}/oauth/access_token",
            client_id=client_id,
            client_secret=secret,
            scopes=tuple(s.strip() for s in scopes.split(",") if s.strip()) if scopes else SCOPES,
            pkce=False,  # Facebook Login for server apps takes the client secret instead
            token_auth="client_secret_post",
            scope_separator=",",
        )

    def _long_lived(self, token: str) -> dict[str, Any]:
        """Trade a user token for a long-lived one (also how a long-lived one is renewed).
        The token travels in the POST body, never in a URL."""
        client_id, secret = self.client_credentials_with_secret()
        form = long_lived_form(client_id, secret, token)
        with self._graph(None) as client:
            body = call(INSTAGRAM, client, "POST", self._path("oauth", "access_token"), data=form)
        if not body.get("access_token"):
            raise TransientError(f"{self.title} gave no token for the long-lived exchange")
        return {
            "access_token": str(body["access_token"]),
            "expires_in": to_int(body.get("expires_in")) or LONG_LIVED_SECONDS,
        }

    def linked_accounts(self, user_token: str) -> list[LinkedAccount]:
        """The Instagram accounts linked to the pages this token manages."""
        with self._graph(user_token) as client:
            pages = managed_pages(
                lambda params: call(
                    INSTAGRAM, client, "GET", self._path("me", "accounts"), params=params
                ),
                "id,name",
                self.title,
            )
            linked = []
            for page in pages:
                page_id = str(page.get("id") or "")
                if not page_id:
                    continue
                body = call(
                    INSTAGRAM,
                    client,
                    "GET",
                    self._path(page_id),
                    params={"fields": "instagram_business_account{id,username,name}"},
                )
                account = body.get("instagram_business_account")
                if not (isinstance(account, dict) and account.get("id")):
                    continue  # a page with no Instagram professional account
                ig_user_id = str(account["id"])
                username = account.get("username")
                if not username:
                    profile = call(
                        INSTAGRAM,
                        client,
                        "GET",
                        self._path(ig_user_id),
                        params={"fields": "username"},
                    )
                    username = profile.get("username") or ig_user_id
                linked.append(
                    LinkedAccount(
                        page_id,
                        str(page.get("name") or page_id),
                        ig_user_id,
                        str(username),
                        str(account.get("name") or ""),
                    )
                )
        return linked

    def connected_accounts(
        self, token: dict[str, Any], options: dict[str, str]
    ) -> list[ConnectedAccount]:
        short = token.get("access_token")
        if not short:
            raise PermanentError("Facebook gave no access token")
        long = self._long_lived(str(short))
        linked = self.linked_accounts(long["access_token"])
        if not linked:
            raise PermanentError(
                "none of the Facebook pages this login manages has an Instagram professional "
                "account linked: link one in the page's settings (Linked accounts), then connect "
                "again and allow the pages in Facebook's dialog"
            )
        wanted = [w for w in options.get("page", "").split(",") if w.strip()]
        if wanted:
            picked = [a for a in linked if any(a.matches(w) for w in wanted)]
            if not picked:
                choices = "; ".join(a.label() for a in linked)
                raise PermanentError(
                    f"no page or Instagram account matches --page {', '.join(wanted)}; "
                    f"this login has: {choices}"
                )
            linked = picked
        return [
            ConnectedAccount(
                handle=a.username,
                remote_id=a.ig_user_id,
                name=a.name or a.username,
                scopes=str(token.get("scope") or ""),
                credentials={
                    **long,
                    "token_kind": "user",
                    "ig_user_id": a.ig_user_id,
                    "page_id": a.page_id,
                    "page_name": a.page_name,
                },
            )
            for a in linked
        ]

    @classmethod
    def reconnect_options(
        cls, handle: str, remote_id: str | None, extra: dict[str, Any]
    ) -> list[str]:
        # Without --page every Instagram account linked to the login would be connected.
        return ["--page", str(extra.get("ig_user_id") or remote_id or handle)]

    @classmethod
    def credentials_template(cls, extra: dict[str, Any]) -> dict[str, Any]:
        template: dict[str, Any] = {"access_token": "…"}
        if extra.get("ig_user_id"):
            template["ig_user_id"] = str(extra["ig_user_id"])
        return template

    @classmethod
    def credential_fields(cls, raw: dict[str, Any]) -> dict[str, Any]:
        if not str(raw.get("access_token") or "").strip():
            raise PermanentError(
                'instagram credentials need "access_token": a long-lived Facebook user token '
                '(with "expires_in") or a page or system-user token'
            )
        fields = {k: v for k, v in raw.items() if k != "handle"}
        fields.setdefault("token_kind", "user" if raw.get("expires_in") else "non_expiring")
        if fields.get("ig_user_id"):
            fields["ig_user_id"] = str(fields["ig_user_id"])
        return fields

    def prepare_credentials(self, raw: dict[str, Any]) -> dict[str, Any]:
        fields = self.credential_fields(raw)
        if fields.get("ig_user_id"):
            return fields
        linked = self.linked_accounts(str(fields["access_token"]))
        handle = str(raw.get("handle") or "")
        found = [a for a in linked if handle and a.matches(handle)]
        if not found and len(linked) == 1:
            found = linked
        if len(found) != 1:
            choices = "; ".join(a.label() for a in linked) or "none"
            raise PermanentError(
                f'cannot tell which Instagram account is {handle or "meant"}: give "handle" as '
                f'its username or "ig_user_id"; this token has: {choices}'
            )
        fields.update(
            ig_user_id=found[0].ig_user_id, page_id=found[0].page_id, page_name=found[0].page_name
        )
        return fields

    @classmethod
    def renews_itself(cls, extra: dict[str, Any], has_refresh_token: bool) -> bool:
        """A long-lived user token is renewed by exchanging it before it runs out."""
        return has_refresh_token or extra.get("token_kind", "user") == "user"

    def refresh(self, account: AccountRef) -> dict[str, Any] | None:
        """Renew a long-lived user token (Facebook has no refresh tokens); page and
        system-user tokens do not expire."""
        if account.extra.get("token_kind", "user") != "user":
            return None
        return self._long_lived(self.access_token(account))

    def revoke(self, account: AccountRef) -> None:
        """Nothing is revoked: Facebook revokes per login (DELETE /me/permissions), which
        would also cut off every other page and Instagram account that login connected."""
        return None

    def whoami(self, account: AccountRef) -> dict[str, Any]:
        with self._graph(self.access_token(account)) as client:
            me = call(
                INSTAGRAM,
                client,
                "GET",
                self._path(self._ig_user_id(account)),
                params={"fields": "id,username,name,followers_count,media_count"},
            )
        if not me.get("username"):
            raise TransientError(f"{self.title} did not say who the account is")
        return {
            "handle": me["username"],
            "id": me.get("id"),
            "name": me.get("name"),
            "followers": me.get("followers_count"),
            "media_count": me.get("media_count"),
        }

    # -- publishing -----------------------------------------------------------

    def check_quota(self, account: AccountRef, request: PublishRequest) -> None:
        """Instagram caps API publishing per rolling 24 h; wait until the oldest post
        in the window ages out rather than spend an attempt on a refusal."""
        ig_user_id = self._ig_user_id(account)
        try:
            with self._graph(self.access_token(account)) as client:
                body = call(
                    INSTAGRAM,
                    client,
                    "GET",
                    self._path(ig_user_id, "content_publishing_limit"),
                    params={"fields": "quota_usage,config"},
                )
                entries = body.get("data")
                entry = entries[0] if isinstance(entries, list) and entries else {}
                config = entry.get("config") if isinstance(entry, dict) else None
                usage = to_int(entry.get("quota_usage")) if isinstance(entry, dict) else None
                total = to_int(config.get("quota_total")) if isinstance(config, dict) else None
                if usage is None or total is None or usage < total:
                    return  # unknown or not used up: media_publish enforces the cap itself
                duration = (to_int(config.get("quota_duration")) if config else None) or 86400
                wait = self._window_frees_in(client, ig_user_id, duration, total)
                raise TransientError(
                    f"Instagram's publishing limit is used up ({usage} of {total} posts in "
                    f"{duration / 3600:g} h); trying again when the oldest of them leaves "
                    "the window",
                    retry_after=wait,
                )
        except (AuthExpired, PermanentError):
            # Publishing meets the same refusal and handles it there (an expired token is
            # renewed only around publish); only throttling and the cap itself wait here.
            return

    def _window_frees_in(
        self, client: httpx2.Client, ig_user_id: str, duration: int, total: int
    ) -> float:
        body = call(
            INSTAGRAM,
            client,
            "GET",
            self._path(ig_user_id, "media"),
            params={"fields": "timestamp", "limit": str(min(max(total, 1), 100))},
        )
        now = datetime.now(UTC)
        window = [
            stamp
            for item in body.get("data") or []
            if isinstance(item, dict)
            and (stamp := _timestamp(item.get("timestamp"))) is not None
            and now - stamp < timedelta(seconds=duration)
        ]
        if not window:
            return 3600.0
        frees_at = min(window) + timedelta(seconds=duration)
        return max(60.0, (frees_at - now).total_seconds())

    def publish(self, account: AccountRef, request: PublishRequest) -> PublishResult:
        return self._publish(account, request, None)

    def resume(
        self, account: AccountRef, request: PublishRequest, state: dict[str, Any]
    ) -> PublishResult:
        """Carry on once Instagram has processed the containers the first attempt made:
        their status, the carousel's container when it was not made yet, media_publish
        and the first comment. Only a container that expired unpublished is made again."""
        return self._publish(account, request, state)

    def _publish(
        self, account: AccountRef, request: PublishRequest, state: dict[str, Any] | None
    ) -> PublishResult:
        ig_user_id = self._ig_user_id(account)
        if not request.media:
            raise PermanentError("Instagram needs an image or a video: it has no text-only posts")
        if len(request.media) > MAX_CAROUSEL_ITEMS:
            raise PermanentError(
                f"{len(request.media)} media items: an Instagram carousel takes at most "
                f"{MAX_CAROUSEL_ITEMS}"
            )
        urls = [self.media_url(item) for item in request.media]
        caption = "\n\n".join(part for part in request.parts if part)
        with self._graph(self.access_token(account)) as client:
            since: float | None = None
            if state is not None and not state["processing"]:
                # Handed over at media_publish: the container is finished.
                container, since = str(state["container"]), float(state[PROCESSING_SINCE])
            else:
                try:
                    container = self._container(
                        client, ig_user_id, request.media, urls, caption, state
                    )
                except _Expired as exc:
                    if state is None:
                        raise
                    # Never published, so making it again sends nothing twice.
                    log.info("%s; making the media container again", exc.message)
                    container = self._container(
                        client, ig_user_id, request.media, urls, caption, None
                    )
            media_id = self._publish_container(client, ig_user_id, container, since)
            url = self._permalink(client, media_id)
            extra: dict[str, Any] = {"container_id": container}
            if request.first_comment:
                # The post is live: a failed comment must not make the publish look failed
                # (a retry would post it twice), so it is logged and reported instead.
                try:
                    comment = call(
                        INSTAGRAM,
                        client,
                        "POST",
                        self._path(media_id, "comments"),
                        data={"message": request.first_comment},
                    )
                    extra["first_comment_id"] = comment.get("id")
                except PlatformError as exc:
                    log.warning("Instagram post %s: first comment failed: %s", media_id, exc)
                    extra["first_comment_error"] = exc.message
        return PublishResult(remote_id=media_id, url=url, extra=extra)

    def _container(
        self,
        client: httpx2.Client,
        ig_user_id: str,
        media: list[MediaItem],
        urls: list[str],
        caption: str,
        state: dict[str, Any] | None,
    ) -> str:
        """One finished container to publish, the item itself or a carousel of them: made
        now, or by the attempt `state` carries on. Processing that lasts past a moment
        hands the wait to the daemon (`Processing`) naming the containers made, so none
        is made twice."""
        made: dict[str, Any]
        if state is None:
            if len(media) == 1:
                params = self._item_params(media[0], urls[0], carousel_item=False)
                made = {
                    "container": self._create(client, ig_user_id, {**params, "caption": caption})
                }
            else:
                made = {
                    "children": [
                        self._create(
                            client, ig_user_id, self._item_params(item, url, carousel_item=True)
                        )
                        for item, url in zip(media, urls, strict=True)
                    ]
                }
            waiting = list(made.get("children") or [made["container"]])
            since = time.time()
        else:
            made = {key: state[key] for key in ("children", "container") if key in state}
            waiting = [str(container) for container in state["processing"]]
            since = float(state[PROCESSING_SINCE])
        self._wait_all(client, made, waiting, since)
        if "container" not in made:
            made["container"] = self._create(
                client,
                ig_user_id,
                {
                    "media_type": "CAROUSEL",
                    "children": ",".join(made["children"]),
                    "caption": caption,
                },
            )
            self._wait_all(client, made, [made["container"]], time.time())
        return str(made["container"])

    def _wait_all(
        self, client: httpx2.Client, made: dict[str, Any], waiting: list[str], since: float
    ) -> None:
        """Wait for each container in `waiting`, processing since `since`; a hand-over
        names what is made and what is still to wait for."""
        for position, container in enumerate(waiting):
            resume = {**made, "processing": waiting[position:], PROCESSING_SINCE: since}
            self._wait_until_ready(client, container, resume)

    @staticmethod
    def _item_params(item: MediaItem, url: str, *, carousel_item: bool) -> dict[str, str]:
        if item.mime_type.startswith("video/"):
            # Single feed videos are reels; VIDEO is only for carousel items.
            params = {"media_type": "VIDEO" if carousel_item else "REELS", "video_url": url}
        else:
            params = {"image_url": url}
            if item.alt_text:
                params["alt_text"] = item.alt_text
        if carousel_item:
            params["is_carousel_item"] = "true"
        return params

    def _create(self, client: httpx2.Client, ig_user_id: str, params: dict[str, str]) -> str:
        body = call(INSTAGRAM, client, "POST", self._path(ig_user_id, "media"), data=params)
        if not body.get("id"):
            raise TransientError(f"{self.title} gave no container id for the media")
        return str(body["id"])

    def _wait_until_ready(
        self, client: httpx2.Client, container: str, resume: dict[str, Any]
    ) -> None:
        def ready(body: dict[str, Any]) -> bool | None:
            status = body.get("status_code")
            if status == "FINISHED":
                return True
            if status == "ERROR":
                reason = body.get("status") or "no reason given"
                raise PermanentError(f"Instagram could not process the media: {reason}")
            if status == "EXPIRED":
                raise _Expired(
                    "Instagram's media container expired before it was published; "
                    "it is made again on the next attempt"
                )
            if status == "PUBLISHED":
                raise TransientError(
                    f"Instagram says container {container} is already published",
                    maybe_sent=True,
                )
            return None

        poll_until(
            self,
            ready,
            lambda: call(
                INSTAGRAM,
                client,
                "GET",
                self._path(container),
                params={"fields": "status_code,status"},
            ),
            resume=resume,
            **PROCESSING,
        )

    def _publish_container(
        self, client: httpx2.Client, ig_user_id: str, container: str, since: float | None
    ) -> str:
        """media_publish, asked again while Instagram is not done with the container;
        `since`: when a publish that handed over here began waiting."""

        def publish() -> dict[str, Any] | None:
            """The answer, or None while Instagram is not done with the container."""
            try:
                return call(
                    INSTAGRAM,
                    client,
                    "POST",
                    self._path(ig_user_id, "media_publish"),
                    data={"creation_id": container},
                    creates=True,
                )
            except _NotReady:
                return None

        resume: dict[str, Any] = {"container": container, "processing": [], PROCESSING_SINCE: since}
        body = poll_until(self, lambda answer: answer, publish, resume=resume, **PROCESSING)
        if not body.get("id"):
            # It may have gone out: the next attempt looks before publishing again.
            raise TransientError(
                f"{self.title} published without saying the post's id", maybe_sent=True
            )
        return str(body["id"])

    def _permalink(self, client: httpx2.Client, media_id: str) -> str | None:
        try:
            body = call(
                INSTAGRAM, client, "GET", self._path(media_id), params={"fields": "permalink"}
            )
        except PlatformError as exc:
            log.warning("Instagram post %s is live but its link is unknown: %s", media_id, exc)
            return None
        return str(body["permalink"]) if body.get("permalink") else None

    def find_published(
        self, account: AccountRef, request: PublishRequest
    ) -> PublishResult | UnknownOutcome | None:
        """A recent post with this caption is the one that went out; Instagram has no
        idempotency key, so without one nobody can say it did not."""
        caption = "\n\n".join(part for part in request.parts if part).strip()
        if not caption:
            return UNKNOWN  # any earlier post without a caption would look like this one
        with self._graph(self.access_token(account)) as client:
            body = call(
                INSTAGRAM,
                client,
                "GET",
                self._path(self._ig_user_id(account), "media"),
                params={"fields": "id,caption,timestamp,permalink", "limit": "25"},
            )
        now = datetime.now(UTC)
        for item in body.get("data") or []:
            if not isinstance(item, dict) or not item.get("id"):
                continue
            stamp = _timestamp(item.get("timestamp"))
            recent = stamp is not None and now - stamp < FIND_WINDOW
            if recent and str(item.get("caption") or "").strip() == caption:
                return PublishResult(remote_id=str(item["id"]), url=item.get("permalink"))
        return UNKNOWN

    # -- after publishing -----------------------------------------------------

    def delete(self, account: AccountRef, remote_id: str) -> bool:
        """Deleting through the API is recent and not granted everywhere: a refusal says
        so and points at the app."""
        with self._graph(self.access_token(account)) as client:
            try:
                body = call(INSTAGRAM, client, "DELETE", self._path(remote_id))
            except PermanentError as exc:
                raise NotSupported(
                    f"Instagram did not delete post {remote_id} ({exc.message}); "
                    "delete it in the Instagram app"
                ) from None
        if body.get("success") is not True:
            raise NotSupported(
                f"Instagram did not delete post {remote_id}; delete it in the Instagram app"
            )
        return True

    def metrics(self, account: AccountRef, remote_id: str) -> Metrics:
        with self._graph(self.access_token(account)) as client:
            return self._media_metrics(client, remote_id, insights=True)

    def post_metrics(
        self, account: AccountRef, posts: Sequence[MetricsTarget]
    ) -> dict[str, Metrics | PermanentError]:
        """Insights only once a post is older than their delay (Meta's numbers lag up to
        48 h, and it answers an empty set until then); before that the public counts
        alone, the rest unknown (None)."""
        now = datetime.now(UTC)
        found: dict[str, Metrics | PermanentError] = {}
        with self._graph(self.access_token(account)) as client:
            for post in posts:
                age = post.age(now)
                try:
                    found[post.remote_id] = self._media_metrics(
                        client, post.remote_id, insights=age is None or age >= INSIGHTS_DELAY
                    )
                except AuthExpired:
                    raise
                except PermanentError as exc:
                    found[post.remote_id] = exc
        return found

    def _media_metrics(self, client: httpx2.Client, remote_id: str, *, insights: bool) -> Metrics:
        values: dict[str, int] = {}
        if insights:
            try:
                body = call(
                    INSTAGRAM,
                    client,
                    "GET",
                    self._path(remote_id, "insights"),
                    params={"metric": ",".join(MEDIA_METRICS)},
                )
                values = _insight_values(body)
            except (AuthExpired, NotSupported):
                raise
            except PermanentError as exc:
                if _missing(exc):
                    raise Gone(f"Instagram no longer has post {remote_id}") from None
                # Too few viewers (#10), no insights permission, a carousel child: the
                # public counts still tell likes and comments.
                log.info("Instagram insights for %s unavailable: %s", remote_id, exc.message)
        raw: dict[str, Any] = {"insights": dict(values)}
        if "likes" not in values or "comments" not in values:
            try:
                counts = call(
                    INSTAGRAM,
                    client,
                    "GET",
                    self._path(remote_id),
                    params={"fields": "like_count,comments_count"},
                )
            except PermanentError as exc:
                if _missing(exc):
                    raise Gone(f"Instagram no longer has post {remote_id}") from None
                raise
            raw.update({k: v for k, v in counts.items() if k != "id"})
            for name, field_name in (("likes", "like_count"), ("comments", "comments_count")):
                number = to_int(counts.get(field_name))
                if name not in values and number is not None:
                    values[name] = number
        return Metrics(
            impressions=values.get("views"),
            reach=values.get("reach"),
            likes=values.get("likes"),
            comments=values.get("comments"),
            shares=values.get("shares"),
            saves=values.get("saved"),
            raw=raw,
        )

    def account_metrics(self, account: AccountRef) -> Metrics:
        with self._graph(self.access_token(account)) as client:
            me = call(
                INSTAGRAM,
                client,
                "GET",
                self._path(self._ig_user_id(account)),
                params={"fields": "followers_count,media_count"},
            )
        return Metrics(
            followers=to_int(me.get("followers_count")),
            raw={k: v for k, v in me.items() if k != "id"},
        )


def _missing(exc: PermanentError) -> bool:
    """Graph's "object does not exist" (code 100, subcode 33): the post was deleted."""
    return isinstance(exc, GraphError) and exc.subcode == MISSING_OBJECT_SUBCODE


def _insight_values(body: dict[str, Any]) -> dict[str, int]:
    """Metric name -> number, from either answer shape: `values: [{value}]` (lifetime
    metrics) or `total_value: {value}`."""
    found: dict[str, int] = {}
    for entry in body.get("data") or []:
        if not isinstance(entry, dict) or not entry.get("name"):
            continue
        value: Any = None
        total = entry.get("total_value")
        if isinstance(total, dict):
            value = total.get("value")
        elif isinstance(entry.get("values"), list) and entry["values"]:
            last = entry["values"][-1]
            value = last.get("value") if isinstance(last, dict) else None
        number = to_int(value)
        if number is not None:
            found[str(entry["name"])] = number
    return found
