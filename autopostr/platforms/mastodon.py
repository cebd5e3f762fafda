"""Mastodon: every account lives on an instance, and each instance is its own server.

`accounts connect mastodon --instance mastodon.social` registers autopostr as an
app on that instance (`POST /api/v1/apps`, remembered in
`<home>/mastodon-apps.json` so reconnecting does not register again), then runs
the OAuth flow there with PKCE. The instance's URL is kept with the account, so
each publish goes to the right server. Tokens never expire and there is no
refresh token: a 401 means the token was revoked and the account needs
connecting again.

Each status is sent with an `Idempotency-Key` (kept an hour by the server), so a
retry returns the status already made instead of posting twice. Limits are
static (500 characters, 4 media); the instance's own limits are read from
`/api/v2/instance` at publish time, so a post over a smaller limit fails with a
clear message before anything is sent.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from autopostr.platforms.base import (
    IMAGE_TYPES,
    UNKNOWN,
    AccountRef,
    ConnectedAccount,
    Gone,
    Limits,
    MediaItem,
    MediaLimits,
    Metrics,
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
from autopostr.platforms.http import (
    PROCESSING_SINCE,
    make_client,
    poll_until,
    raise_for_status,
    send,
)

if TYPE_CHECKING:
    import httpx2

    from autopostr.config import Settings

log = logging.getLogger("autopostr.platforms.mastodon")

APP_NAME = "autopostr"
APP_WEBSITE = "https://github.com/autopostr/autopostr"
# read:accounts (not the 4.3+ `profile` scope) so verify_credentials works on older servers.
SCOPES = ("read:accounts", "read:statuses", "write:statuses", "write:media")
APPS_FILE = "mastodon-apps.json"

DEFAULT_MAX_CHARS = 500
DEFAULT_MAX_MEDIA = 4
DEFAULT_URL_CHARS = 23
DEFAULT_IMAGE_BYTES = 16 * 1024 * 1024
DEFAULT_VIDEO_BYTES = 99 * 1024 * 1024
DEFAULT_DESCRIPTION_CHARS = 1500
DEFAULT_MEDIA_POLL_SECONDS = 2.0
DEFAULT_MEDIA_WAIT_SECONDS = 600.0
INSTANCE_CACHE_SECONDS = 3600.0
# The server keeps an Idempotency-Key for an hour; stay clear of the edge.
IDEMPOTENCY_WINDOW_SECONDS = 50 * 60
STATUS_COUNTS = ("favourites_count", "replies_count", "reblogs_count", "quotes_count")
ACCOUNT_COUNTS = ("followers_count", "following_count", "statuses_count")
RECENT_STATUSES = 40
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

# `comparable` drops a mention's domain, as Mastodon renders mentions.
_MENTION_DOMAIN = re.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_])?)@[\w.-]+\w", re.IGNORECASE
)


def mastodon_length(text: str, url_chars: int = DEFAULT_URL_CHARS) -> int:
    """A status's length as Mastodon's StatusLengthValidator counts it (see mastodontext)."""
    from autopostr.platforms.mastodontext import countable_text
    from autopostr.platforms.textcount import graphemes

    return graphemes(countable_text(text, url_chars))


def instance_url(value: str) -> str:
    """`mastodon.social`, `https://mastodon.social/@me` or `me@mastodon.social` -> the
    server's base URL. Plain http only for this machine (local test servers)."""
    raw = value.strip()
    if not raw:
        raise PermanentError("no Mastodon server given: use --instance, e.g. mastodon.social")
    if "://" not in raw:
        raw = "https://" + raw.lstrip("@").rpartition("@")[2]
    parts = urlsplit(raw)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        raise PermanentError(f"{value!r} is not a Mastodon server (e.g. mastodon.social)")
    if parts.scheme == "http" and host not in LOCAL_HOSTS:
        raise PermanentError(f"{value!r}: Mastodon servers are reached over https")
    try:
        port = parts.port
    except ValueError:
        raise PermanentError(f"{value!r} has an invalid port") from None
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{netloc}" + (f":{port}" if port else "")


def host_of(instance: str) -> str:
    """The instance as handles name it: `mastodon.social` (with a port only off 443/80)."""
    return urlsplit(instance).netloc


@dataclass(frozen=True)
class InstanceLimits:
    max_chars: int = DEFAULT_MAX_CHARS
    max_media: int = DEFAULT_MAX_MEDIA
    url_chars: int = DEFAULT_URL_CHARS
    image_bytes: int = DEFAULT_IMAGE_BYTES
    video_bytes: int = DEFAULT_VIDEO_BYTES
    description_chars: int = DEFAULT_DESCRIPTION_CHARS
    mime_types: frozenset[str] | None = None  # None: the instance did not say


def _positive(value: Any, default: int) -> int:
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_instance(body: Any) -> InstanceLimits:
    """Limits from `/api/v2/instance`; anything missing or odd keeps its default."""
    config = _dict(_dict(body).get("configuration"))
    statuses = _dict(config.get("statuses"))
    media = _dict(config.get("media_attachments"))
    types = media.get("supported_mime_types")
    mime_types = (
        frozenset(str(t).lower() for t in types) if isinstance(types, list) and types else None
    )
    return InstanceLimits(
        max_chars=_positive(statuses.get("max_characters"), DEFAULT_MAX_CHARS),
        max_media=_positive(statuses.get("max_media_attachments"), DEFAULT_MAX_MEDIA),
        url_chars=_positive(statuses.get("characters_reserved_per_url"), DEFAULT_URL_CHARS),
        image_bytes=_positive(media.get("image_size_limit"), DEFAULT_IMAGE_BYTES),
        video_bytes=_positive(media.get("video_size_limit"), DEFAULT_VIDEO_BYTES),
        description_chars=_positive(media.get("description_limit"), DEFAULT_DESCRIPTION_CHARS),
        mime_types=mime_types,
    )


_instance_cache: dict[str, tuple[float, InstanceLimits]] = {}
_instance_lock = threading.Lock()


def forget_instance_limits() -> None:
    """Ask every instance for its limits again on the next publish."""
    with _instance_lock:
        _instance_cache.clear()


_apps_lock = threading.Lock()


class _TextOf(HTMLParser):
    """A status's HTML `content` back to its text: paragraphs and line breaks kept,
    link markup (the hidden `https://` and shortened URL parts included) flattened."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self.chunks.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


def comparable(text: str) -> str:
    """Text reduced to what survives Mastodon's formatting: words, in order."""
    return " ".join(_MENTION_DOMAIN.sub(r"@\1", text).split())


def status_text(content: str) -> str:
    parser = _TextOf()
    parser.feed(content)
    parser.close()
    return comparable("".join(parser.chunks))


class MastodonPlatform(Platform):
    """The account's instance is in `extra["instance"]`; its token in `access_token`."""

    name: ClassVar[str] = "mastodon"
    title: ClassVar[str] = "Mastodon"
    limits: ClassVar[Limits] = Limits(
        max_chars=DEFAULT_MAX_CHARS,
        counting="mastodon",  # graphemes, with URLs as 23 and mentions as @user
        media=MediaLimits(
            max_images=DEFAULT_MAX_MEDIA,
            max_videos=1,
            mixed=False,
            image_types=IMAGE_TYPES | {"image/heic", "image/heif", "image/avif"},
            video_types=frozenset({"video/mp4", "video/quicktime", "video/webm"}),
            max_image_bytes=DEFAULT_IMAGE_BYTES,
            max_video_bytes=DEFAULT_VIDEO_BYTES,
            max_video_seconds=None,
        ),
        threads=True,
        first_comment=True,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._app: dict[str, str] | None = None  # the app oauth() used, for connected_accounts

    # -- settings -------------------------------------------------------------

    def _default_instance(self) -> str:
        return self.settings.get(f"{self.name}_api_url") or ""

    def _instance_of(self, account: AccountRef) -> str:
        chosen = str(account.extra.get("instance") or "") or self._default_instance()
        if not chosen:
            raise PermanentError(
                f"{self.title} account {account.handle} has no server: connect it again with "
                "`autopostr accounts connect mastodon --instance HOST`"
            )
        return instance_url(chosen)

    def _label(self, instance: str) -> str:
        return f"{self.title} ({host_of(instance)})"

    def _client(self, instance: str, token: str | None = None) -> httpx2.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return make_client(self.settings, instance, headers)

    @staticmethod
    def _token(account: AccountRef) -> str:
        token = account.credentials.get("access_token")
        if not token:
            instance = str(account.extra.get("instance") or "HOST")
            raise PermanentError(
                f"{account.handle} has no Mastodon token: run "
                f"`autopostr accounts connect mastodon --instance {instance}`"
            )
        return str(token)

    def _json(self, response: httpx2.Response, instance: str, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise TransientError(
                f"{self._label(instance)} answered {what} with something that is not JSON "
                f"(HTTP {response.status_code})"
            ) from None

    # -- the app, per instance ------------------------------------------------

    @property
    def _apps_path(self) -> Path:
        return self.settings.home / APPS_FILE

    def _read_apps(self) -> dict[str, Any]:
        try:
            data = json.loads(self._apps_path.read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_apps(self, apps: dict[str, Any]) -> None:
        """Client secrets inside: written 0600, replaced whole so a crash leaves the old file."""
        path = self._apps_path
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(apps, handle, indent=2, sort_keys=True)
        os.replace(temporary, path)

    def _app_for(self, instance: str, redirect_uri: str) -> dict[str, str]:
        """The registered app for this instance and redirect, registering it the first time
        (or again when the server has forgotten it)."""
        key = f"{instance} {redirect_uri}"
        with _apps_lock:
            cached = self._read_apps().get(key)
        if (
            isinstance(cached, dict)
            and cached.get("client_id")
            and cached.get("client_secret")
            and cached.get("scopes") == " ".join(SCOPES)
            and self._app_still_known(instance, cached)
        ):
            return {k: str(v) for k, v in cached.items()}
        with self._client(instance) as client:
            response = send(
                client,
                "POST",
                "/api/v1/apps",
                self._label(instance),
                data={
                    "client_name": APP_NAME,
                    "redirect_uris": redirect_uri,
                    "scopes": " ".join(SCOPES),
                    "website": APP_WEBSITE,
                },
            )
        body = self._json(response, instance, "the app registration")
        if not isinstance(body, dict) or not body.get("client_id") or not body.get("client_secret"):
            raise PermanentError(
                f"{self._label(instance)} registered no app (no client_id in its answer): "
                "is it a Mastodon server?"
            )
        app = {
            "client_id": str(body["client_id"]),
            "client_secret": str(body["client_secret"]),
            "scopes": " ".join(SCOPES),
            "instance": instance,
            "redirect_uri": redirect_uri,
        }
        with _apps_lock:
            apps = self._read_apps()
            apps[key] = app
            self._write_apps(apps)
        return app

    def _app_still_known(self, instance: str, app: dict[str, Any]) -> bool:
        """Ask for an app token: a server that deleted the app answers 401 invalid_client,
        and then we register again instead of sending the person to a broken authorize page."""
        import httpx2

        try:
            with self._client(instance) as client:
                response = client.post(
                    "/oauth/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": app["client_id"],
                        "client_secret": app["client_secret"],
                        "scope": SCOPES[0],  # within the app's scopes, or it is invalid_scope
                    },
                )
        except httpx2.HTTPError:  # unreachable now: the authorize step will say so
            return True
        return response.status_code != 401

    def oauth(self, options: dict[str, str], redirect_uri: str) -> OAuthSpec:
        instance = instance_url(options.get("instance") or self._default_instance())
        app = self._app_for(instance, redirect_uri)
        self._app = app
        return OAuthSpec(
            authorize_url=f"{instance}/oauth/authorize",
            token_url=f"{instance}/oauth/token",
            client_id=app["client_id"],
            client_secret=app["client_secret"],
            scopes=SCOPES,
            pkce=True,  # Mastodon 4.3+ checks it; older servers ignore it
            token_auth="client_secret_post",
        )

    def connected_accounts(
        self, token: dict[str, Any], options: dict[str, str]
    ) -> list[ConnectedAccount]:
        instance = instance_url(options.get("instance") or self._default_instance())
        access_token = str(token.get("access_token") or "")
        if not access_token:
            raise PermanentError(f"{self._label(instance)} gave no access token")
        me = self._verify(instance, access_token)
        credentials: dict[str, Any] = {
            "access_token": access_token,
            "expires_in": None,  # Mastodon tokens do not expire
            "instance": instance,
        }
        app = self._app
        if app and app.get("instance") == instance:
            credentials["client_id"] = app["client_id"]
            credentials["client_secret"] = app["client_secret"]  # sealed: needed to revoke
        return [
            ConnectedAccount(
                handle=f"{me['username']}@{host_of(instance)}",
                remote_id=str(me["id"]),
                name=str(me.get("display_name") or ""),
                scopes=str(token.get("scope") or ""),
                credentials=credentials,
            )
        ]

    @classmethod
    def can_connect(cls, settings: Settings) -> bool:
        return True  # autopostr registers itself as an app on each server

    @classmethod
    def reconnect_options(
        cls, handle: str, remote_id: str | None, extra: dict[str, Any]
    ) -> list[str]:
        instance = str(extra.get("instance") or "")
        return ["--instance", instance] if instance else []

    @classmethod
    def credentials_template(cls, extra: dict[str, Any]) -> dict[str, Any]:
        return {"access_token": "…", "instance": str(extra.get("instance") or "…")}

    def prepare_credentials(self, raw: dict[str, Any]) -> dict[str, Any]:
        """`accounts add mastodon`: {"handle": "me@mastodon.social", "access_token": "…"}
        (with "instance" where the handle does not name the server); the token is checked."""
        token = str(raw.get("access_token") or "").strip()
        if not token:
            raise PermanentError(
                'Mastodon credentials need "access_token" (Preferences > Development > '
                'New application on your server) and "instance", e.g. "mastodon.social"'
            )
        handle = str(raw.get("handle") or "").lstrip("@")
        chosen = str(raw.get("instance") or "")
        if not chosen and "@" in handle:
            chosen = handle.rpartition("@")[2]
        instance = instance_url(chosen or self._default_instance())
        me = self._verify(instance, token)
        return {
            "access_token": token,
            "expires_in": None,
            "instance": instance,
            "account_id": str(me["id"]),
        }

    def _verify(self, instance: str, token: str) -> dict[str, Any]:
        with self._client(instance, token) as client:
            response = send(
                client,
                "GET",
                "/api/v1/accounts/verify_credentials",
                self._label(instance),
            )
        me = self._json(response, instance, "verify_credentials")
        if not isinstance(me, dict) or not me.get("id") or not me.get("username"):
            raise PermanentError(
                f"{self._label(instance)} answered verify_credentials without an account "
                "id and username"
            )
        return me

    def whoami(self, account: AccountRef) -> dict[str, Any]:
        instance = self._instance_of(account)
        me = self._verify(instance, self._token(account))
        return {
            "handle": f"{me['username']}@{host_of(instance)}",
            "id": str(me["id"]),
            "name": me.get("display_name") or "",
            "url": me.get("url"),
            "followers": me.get("followers_count"),
        }

    def refresh(self, account: AccountRef) -> dict[str, Any] | None:
        return None  # Mastodon tokens never expire; a refused one means connect again

    def revoke(self, account: AccountRef) -> None:
        instance = self._instance_of(account)
        form = {"token": self._token(account)}
        client_id = account.extra.get("client_id") or account.credentials.get("client_id")
        if client_id:
            form["client_id"] = str(client_id)
            form["client_secret"] = str(account.credentials.get("client_secret") or "")
        with self._client(instance) as client:
            send(client, "POST", "/oauth/revoke", self._label(instance), data=form)

    # -- instance limits --------------------------------------------------------

    def instance_limits(self, client: httpx2.Client, instance: str) -> InstanceLimits:
        """The instance's own limits, asked once an hour; the defaults when it will not say."""
        now = time.monotonic()
        with _instance_lock:
            cached = _instance_cache.get(instance)
        if cached is not None and now - cached[0] < INSTANCE_CACHE_SECONDS:
            return cached[1]
        try:
            response = send(client, "GET", "/api/v2/instance", self._label(instance))
            limits = parse_instance(response.json())
        except (PlatformError, ValueError) as exc:
            # Older servers have no v2; a hiccup here must not stop the post itself.
            log.info("%s: using default limits (%s)", self._label(instance), exc)
            return InstanceLimits()
        with _instance_lock:
            _instance_cache[instance] = (now, limits)
        return limits

    def _check(self, instance: str, limits: InstanceLimits, request: PublishRequest) -> None:
        """Refuse what this instance would refuse, before anything is sent."""
        where = self._label(instance)
        texts = [
            (f"part {n}" if len(request.parts) > 1 else "the text", t)
            for n, t in enumerate(request.parts, start=1)
        ]
        if request.first_comment:
            texts.append(("the first comment", request.first_comment))
        for which, text in texts:
            length = mastodon_length(text, limits.url_chars)
            if length > limits.max_chars:
                raise PermanentError(
                    f"{where}: {which} is {length} characters, this server's limit is "
                    f"{limits.max_chars}"
                )
        if len(request.media) > limits.max_media:
            raise PermanentError(
                f"{where}: {len(request.media)} media, this server takes at most "
                f"{limits.max_media} per post"
            )
        for item in request.media:
            video = item.mime_type.startswith("video/")
            cap = limits.video_bytes if video else limits.image_bytes
            if item.size > cap:
                raise PermanentError(
                    f"{where}: {item.filename} is {item.size} bytes, this server's "
                    f"{'video' if video else 'image'} limit is {cap} bytes"
                )
            if limits.mime_types is not None and item.mime_type not in limits.mime_types:
                raise PermanentError(f"{where}: this server does not take {item.mime_type} files")
            if item.alt_text and len(item.alt_text) > limits.description_chars:
                raise PermanentError(
                    f"{where}: the alt text of {item.filename} is {len(item.alt_text)} "
                    f"characters, this server's limit is {limits.description_chars}"
                )

    # -- publishing -------------------------------------------------------------

    def publish(self, account: AccountRef, request: PublishRequest) -> PublishResult:
        return self._publish(account, request, None)

    def resume(
        self, account: AccountRef, request: PublishRequest, state: dict[str, Any]
    ) -> PublishResult:
        """Carry on once the server has processed the media: the state of what was still
        processing, then the statuses, with the media ids the first attempt uploaded."""
        return self._publish(account, request, state)

    def _publish(
        self, account: AccountRef, request: PublishRequest, state: dict[str, Any] | None
    ) -> PublishResult:
        if not request.parts:
            raise PermanentError("nothing to publish (no text)")
        instance = self._instance_of(account)
        with self._client(instance, self._token(account)) as client:
            self._check(instance, self.instance_limits(client, instance), request)
            media_ids = self._media(client, instance, request.media, state)
            posted: list[dict[str, Any]] = []
            texts = [*request.parts]
            if request.first_comment:
                texts.append(request.first_comment)
            for index, text in enumerate(texts):
                try:
                    status = self._post_status(
                        client,
                        instance,
                        text,
                        media_ids=media_ids if index == 0 else [],
                        reply_to=posted[-1]["id"] if posted else None,
                        key=self._key(request, index, is_comment=index >= len(request.parts)),
                    )
                except PermanentError as exc:
                    if posted:
                        raise PermanentError(
                            f"{exc.message} (sent {len(posted)} of {len(texts)} statuses; the "
                            f"first is {posted[0].get('url') or posted[0]['id']})"
                        ) from None
                    raise
                except TransientError as exc:
                    if posted and not exc.maybe_sent:
                        # Part of it is out: the next attempt looks first, since resending
                        # is safe only while the server still remembers the keys (an hour).
                        raise TransientError(
                            f"{exc.message} (sent {len(posted)} of {len(texts)} statuses)",
                            retry_after=exc.retry_after,
                            maybe_sent=True,
                        ) from None
                    raise
                posted.append(status)
        first = posted[0]
        extra: dict[str, Any] = {"instance": instance}
        if len(request.parts) > 1:
            extra["thread_ids"] = [s["id"] for s in posted[: len(request.parts)]]
        if request.first_comment:
            extra["comment_id"] = posted[-1]["id"]
        return PublishResult(remote_id=first["id"], url=first.get("url"), extra=extra)

    @staticmethod
    def _key(request: PublishRequest, index: int, *, is_comment: bool) -> str:
        """The request's key for the first status, derived ones for the rest, so each
        status of a retried thread is recognised by the server on its own."""
        base = request.idempotency_key or f"autopostr-{request.post_id}-{request.destination_id}"
        if is_comment:
            return f"{base}-comment"
        return base if index == 0 else f"{base}-{index + 1}"

    def _post_status(
        self,
        client: httpx2.Client,
        instance: str,
        text: str,
        *,
        media_ids: list[str],
        reply_to: str | None,
        key: str,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"status": text}
        if media_ids:
            body["media_ids"] = media_ids
        if reply_to:
            body["in_reply_to_id"] = reply_to
        response = send(
            client,
            "POST",
            "/api/v1/statuses",
            self._label(instance),
            json=body,
            headers={"Idempotency-Key": key},
            check_status=False,
        )
        # A 5xx can come after the status was made: the next attempt looks first.
        raise_for_status(response, self._label(instance), creates=True)
        try:
            status = response.json()
        except ValueError:
            status = None
        if not isinstance(status, dict) or not status.get("id"):
            # It may well have been posted: the next attempt looks before sending again.
            raise TransientError(
                f"{self._label(instance)} answered the post without a status id "
                f"(HTTP {response.status_code})",
                maybe_sent=True,
            )
        status["id"] = str(status["id"])
        return status

    def _media(
        self,
        client: httpx2.Client,
        instance: str,
        media: list[MediaItem],
        state: dict[str, Any] | None,
    ) -> list[str]:
        """The first status's media ids, processed: uploaded now, or by the publish `state`
        resumes. Media the server is still processing after a moment hands the wait to
        the daemon (`Processing`), naming what is uploaded so nothing is sent twice."""
        if state is None:
            ids, waiting = self._upload_all(client, instance, media)
            since = time.time()
        else:
            ids = [str(media_id) for media_id in state["media_ids"]]
            waiting = [int(index) for index in state["processing"]]
            since = float(state[PROCESSING_SINCE])
        for position, index in enumerate(waiting):
            resume = {
                "media_ids": ids,
                "processing": waiting[position:],
                PROCESSING_SINCE: since,
            }
            # Just uploaded, the server's answer said: not yet; resumed, ask first.
            self._wait_for_processing(
                client, instance, media[index], ids[index], resume, asked=state is None
            )
        return ids

    def _upload_all(
        self, client: httpx2.Client, instance: str, media: list[MediaItem]
    ) -> tuple[list[str], list[int]]:
        """Every item uploaded: their ids, and which the server is still processing."""
        ids: list[str] = []
        waiting: list[int] = []
        for index, item in enumerate(media):
            media_id, processing = self._upload(client, instance, item)
            ids.append(media_id)
            if processing:
                waiting.append(index)
        return ids, waiting

    def _upload(self, client: httpx2.Client, instance: str, item: MediaItem) -> tuple[str, bool]:
        """The media id, and whether the server is still processing it."""
        where = self._label(instance)
        data = {"description": item.alt_text} if item.alt_text else {}
        with item.stream() as stream:
            response = send(
                client,
                "POST",
                "/api/v2/media",
                where,
                files={"file": (item.filename, stream, item.mime_type)},
                data=data,
            )
        media = self._json(response, instance, "the upload")
        if not isinstance(media, dict) or not media.get("id"):
            raise TransientError(f"{where} answered the upload of {item.filename} without an id")
        # 202 (or a 200 without url): the server is still processing it.
        return str(media["id"]), response.status_code == 202 or not media.get("url")

    def _wait_for_processing(
        self,
        client: httpx2.Client,
        instance: str,
        item: MediaItem,
        media_id: str,
        resume: dict[str, Any],
        *,
        asked: bool,
    ) -> None:
        """Ask for the media until the server has processed it (it has a url); `asked`:
        the upload's answer already said not yet."""
        where = self._label(instance)

        def processed() -> bool:
            response = send(client, "GET", f"/api/v1/media/{media_id}", where)
            media = self._json(response, instance, "the media check")
            return bool(
                response.status_code == 200 and isinstance(media, dict) and media.get("url")
            )

        seen: dict[str, Any] = {"first": False} if asked else {}
        poll_until(
            self,
            lambda done: done or None,
            processed,
            what=f"{item.filename} on {host_of(instance)}",
            wait=DEFAULT_MEDIA_WAIT_SECONDS,
            every=DEFAULT_MEDIA_POLL_SECONDS,
            resume=resume,
            **seen,
        )

    # -- after publishing -------------------------------------------------------

    def delete(self, account: AccountRef, remote_id: str) -> bool:
        """The status and, for a thread, the replies it is continued with."""
        instance = self._instance_of(account)
        with self._client(instance, self._token(account)) as client:
            chain = self._own_chain(client, instance, remote_id)
            for status_id in reversed(chain):
                # 404: already gone, which is what was asked.
                self._unless_gone(client, instance, "DELETE", f"/api/v1/statuses/{status_id}")
            path = f"/api/v1/statuses/{remote_id}"
            return self._unless_gone(client, instance, "DELETE", path) is not None

    def _unless_gone(
        self, client: httpx2.Client, instance: str, method: str, path: str
    ) -> httpx2.Response | None:
        """Like `send`, but a 404 is an answer (None), not an error."""
        import httpx2

        where = self._label(instance)
        try:
            response = client.request(method, path)
        except httpx2.HTTPError as exc:
            raise TransientError(
                f"{where}: {method} {path} failed ({type(exc).__name__})",
                maybe_sent=method != "GET",
            ) from None
        if response.status_code == 404:
            return None
        raise_for_status(response, where)
        return response

    def _own_chain(self, client: httpx2.Client, instance: str, root_id: str) -> list[str]:
        """The ids of our own replies continuing `root_id` (a thread, a first comment)."""
        response = self._unless_gone(client, instance, "GET", f"/api/v1/statuses/{root_id}/context")
        if response is None:
            return []
        context = self._json(response, instance, "the thread")
        descendants = context.get("descendants") if isinstance(context, dict) else None
        chain: list[str] = []
        parent = root_id
        for status in descendants if isinstance(descendants, list) else []:
            if not isinstance(status, dict) or str(status.get("in_reply_to_id")) != parent:
                continue
            if status.get("in_reply_to_account_id") == _dict(status.get("account")).get("id"):
                parent = str(status["id"])
                chain.append(parent)
        return chain

    def metrics(self, account: AccountRef, remote_id: str) -> Metrics:
        """A status's counts; Mastodon has no impressions, reach or clicks (None)."""
        instance = self._instance_of(account)
        with self._client(instance, self._token(account)) as client:
            response = self._unless_gone(client, instance, "GET", f"/api/v1/statuses/{remote_id}")
        if response is None:
            raise Gone(f"{self._label(instance)} no longer has status {remote_id}")
        status = self._json(response, instance, "the status")
        if not isinstance(status, dict):
            raise TransientError(f"{self._label(instance)} answered the status without one")
        raw = {key: status.get(key) for key in STATUS_COUNTS if key in status}
        return Metrics(
            likes=count(status.get("favourites_count")),
            comments=count(status.get("replies_count")),
            shares=added(count(status.get("reblogs_count")), count(status.get("quotes_count"))),
            raw=raw,
        )

    def account_metrics(self, account: AccountRef) -> Metrics:
        me = self._verify(self._instance_of(account), self._token(account))
        raw = {key: me.get(key) for key in ACCOUNT_COUNTS if key in me}
        return Metrics(followers=count(me.get("followers_count")), raw=raw)

    def find_published(
        self, account: AccountRef, request: PublishRequest
    ) -> PublishResult | UnknownOutcome | None:
        """Look for the post among the account's latest statuses. Not there: None, and the
        retry is safe anyway (same Idempotency-Key). A thread only partly there: None while
        the server still remembers the keys (the retry completes it), else UNKNOWN."""
        if not request.parts:
            return None
        instance = self._instance_of(account)
        with self._client(instance, self._token(account)) as client:
            account_id = (
                account.remote_id
                or account.extra.get("account_id")
                or self._verify(instance, self._token(account))["id"]
            )
            response = send(
                client,
                "GET",
                f"/api/v1/accounts/{account_id}/statuses",
                self._label(instance),
                params={"limit": str(RECENT_STATUSES), "exclude_reblogs": "true"},
            )
            recent = self._json(response, instance, "the account's statuses")
            if not isinstance(recent, list):
                return UNKNOWN
            wanted = comparable(request.parts[0])
            root = next(
                (
                    s
                    for s in recent
                    if isinstance(s, dict)
                    and s.get("id")
                    and not s.get("in_reply_to_id")
                    and status_text(str(s.get("content") or "")) == wanted
                    and len(s.get("media_attachments") or []) == len(request.media)
                ),
                None,
            )
            if root is None:
                return None
            result = PublishResult(remote_id=str(root["id"]), url=root.get("url"))
            expected = len(request.parts) - 1 + (1 if request.first_comment else 0)
            if not expected:
                return result
            chain = self._own_chain(client, instance, str(root["id"]))
        if len(chain) >= expected:
            return result
        if _age_seconds(root.get("created_at")) < IDEMPOTENCY_WINDOW_SECONDS:
            return None  # resending the same keys returns what is there and adds the rest
        return UNKNOWN


def _age_seconds(created_at: Any) -> float:
    try:
        moment = datetime.fromisoformat(str(created_at).replace("Z", "+00:00"))
    except ValueError:
        return float("inf")
    if moment.tzinfo is None:
        return float("inf")
    return time.time() - moment.timestamp()
