"""LinkedIn: member and organization posts through the versioned REST API (Posts API).

An account is an *author*: a member (`urn:li:person:…`, from `/v2/userinfo`) or an
organization the member administers (`urn:li:organization:…`, picked with
`accounts connect linkedin --page NAME`). Every `/rest/*` call names the API
version it speaks (`LinkedIn-Version`, setting `linkedin_version`), because
LinkedIn retires old versions after about a year.

LinkedIn has no threads and no idempotency key: later parts and the first
comment become comments on the post, and `find_published` looks for the text
among the author's recent posts. Quotas are daily and reset at midnight UTC,
and a 429 carries no reset header, so a throttled post waits for midnight.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlsplit

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
    NotSupported,
    OAuthSpec,
    PermanentError,
    Platform,
    PlatformError,
    PublishRequest,
    PublishResult,
    TransientError,
    UnknownOutcome,
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

log = logging.getLogger("autopostr.platforms.linkedin")

# Versions are monthly (YYYYMM) and sunset after about a year: override with
# AUTOPOSTR_LINKEDIN_VERSION when LinkedIn announces this one's end.
DEFAULT_VERSION = "202609"
RESTLI_PROTOCOL = "2.0.0"
DEFAULT_MEDIA_POLL_SECONDS = 5.0
DEFAULT_MEDIA_WAIT_SECONDS = 900.0
RECENT_POSTS = 20
DEFAULT_LOOKBACK_HOURS = 72.0

MEMBER_SCOPES = ("openid", "profile", "w_member_social")
ORGANIZATION_SCOPES = ("w_organization_social", "r_organization_social", "rw_organization_admin")
# Page roles that may post as the organization.
POSTING_ROLES = frozenset({"ADMINISTRATOR", "CONTENT_ADMIN", "DIRECT_SPONSORED_CONTENT_POSTER"})
PERSON = "urn:li:person:"
ORGANIZATION = "urn:li:organization:"
# serviceErrorCode of a 401: which kind of refusal it is.
TOKEN_REFUSALS = {65600: "invalid", 65601: "revoked", 65602: "expired"}

# "Little text": these characters start markup (mentions, hashtags, templates); left
# bare, LinkedIn silently cuts the commentary at the first one.
LITTLE_TEXT_RESERVED = re.compile(r"([\\|{}@\[\]()<>#*_~])")


def escape_little_text(text: str) -> str:
    return LITTLE_TEXT_RESERVED.sub(r"\\\1", text)


def seconds_until_midnight_utc(now: datetime | None = None) -> float:
    """LinkedIn's daily quotas reset at midnight UTC."""
    now = now or datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


def post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


def _encoded(urn: str) -> str:
    return quote(urn, safe="")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


class NotFound(PermanentError):
    """LinkedIn answered 404."""


class LinkedInPlatform(Platform):
    name: ClassVar[str] = "linkedin"
    title: ClassVar[str] = "LinkedIn"
    default_api_url: ClassVar[str] = "https://api.linkedin.com"
    default_auth_url: ClassVar[str] = "https://www.linkedin.com"
    # Organization share statistics cover a rolling 12 months.
    metrics_window: ClassVar[timedelta | None] = timedelta(days=365)
    limits: ClassVar[Limits] = Limits(
        max_chars=3000,
        counting="codepoints",
        media=MediaLimits(
            max_images=20,
            max_videos=1,
            mixed=False,
            image_types=frozenset({"image/jpeg", "image/png", "image/gif"}),
            video_types=frozenset({"video/mp4"}),
            max_image_bytes=5 * 1024 * 1024,
            max_video_bytes=500 * 1024 * 1024,
            max_video_seconds=30 * 60.0,
            min_video_aspect=1 / 2.4,
            max_video_aspect=2.4,
        ),
        threads=True,  # later parts become comments on the post
        first_comment=True,
    )

    # -- settings -------------------------------------------------------------

    @property
    def version(self) -> str:
        return self.settings.get("linkedin_version") or DEFAULT_VERSION

    # -- HTTP -----------------------------------------------------------------

    def _client(self, access_token: str) -> httpx2.Client:
        client = make_client(
            self.settings,
            self.api_url,
            {
                "Authorization": f"Bearer {access_token}",
                "LinkedIn-Version": self.version,
                "X-Restli-Protocol-Version": RESTLI_PROTOCOL,
            },
        )
        client.event_hooks = {"response": [self._raise_for_linkedin]}
        return client

    def _raise_for_linkedin(self, response: httpx2.Response) -> None:
        """LinkedIn's own signals, before `send` maps the rest: a 429 names no reset time
        (quotas reset at midnight UTC), a 401's serviceErrorCode says why, 404 is told apart."""
        status = response.status_code
        if status not in (401, 404, 429):
            return
        response.read()
        message = f"{self.title} answered {status}: {error_message(response)}"
        if status == 429:
            wait = retry_after(response.headers)
            if wait is None:
                wait = seconds_until_midnight_utc()
                message += " (the daily quota resets at midnight UTC)"
            raise TransientError(message, retry_after=wait)
        if status == 401:
            try:
                code = response.json().get("serviceErrorCode")
            except (ValueError, AttributeError):
                code = None
            reason = TOKEN_REFUSALS.get(code) if isinstance(code, int) else None
            raise AuthExpired(f"{message} (token {reason})" if reason else message)
        raise NotFound(message)

    def _json(self, response: httpx2.Response, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise TransientError(f"{self.title} sent an unexpected reply to {what}")
        return body

    def _value(self, response: httpx2.Response, what: str, *keys: str) -> dict[str, Any]:
        """`value` of an action's reply, checked to hold `keys`."""
        value = self._json(response, what).get("value")
        if not isinstance(value, dict) or any(not value.get(key) for key in keys):
            raise TransientError(f"{self.title} sent an unexpected reply to {what}")
        return value

    def _author(self, account: AccountRef) -> str:
        author = account.extra.get("author") or account.remote_id or ""
        if not author.startswith((PERSON, ORGANIZATION)):
            raise PermanentError(
                f"LinkedIn account {account.handle} does not know its author URN: run "
                "`autopostr accounts connect linkedin` again"
            )
        return str(author)

    def _upload_headers(self, url: str, access_token: str) -> dict[str, str]:
        """The token goes only to LinkedIn's own hosts, never to whatever URL a reply names."""
        host = urlsplit(url).hostname or ""
        ours = host == urlsplit(self.api_url).hostname
        if ours or host == "linkedin.com" or host.endswith(".linkedin.com"):
            return {"Authorization": f"Bearer {access_token}"}
        return {}

    # -- connecting -------------------------------------------------------------

    def oauth(self, options: dict[str, str], redirect_uri: str) -> OAuthSpec:
        client_id, secret = self.client_credentials_with_secret()
        scopes = MEMBER_SCOPES + (ORGANIZATION_SCOPES if options.get("page") else ())
        return OAuthSpec(
            authorize_url=f"{self.auth_url}/oauth/v2/authorization",
            token_url=f"{self.auth_url}/oauth/v2/accessToken",
            client_id=client_id,
            client_secret=secret,
            scopes=scopes,
            pkce=False,  # LinkedIn's web flow has none; the secret proves the client
            token_auth="client_secret_post",
        )

    @staticmethod
    def _token_fields(token: dict[str, Any]) -> dict[str, Any]:
        fields = {"access_token": token["access_token"]}
        if token.get("expires_in"):
            fields["expires_in"] = token["expires_in"]
        if token.get("refresh_token"):
            fields["refresh_token"] = token["refresh_token"]
            # Fixed a year from the first grant, refreshing does not extend it: kept so
            # `accounts list --expiring-within` warns before the account stops publishing.
            if token.get("refresh_token_expires_in"):
                fields["refresh_token_expires_in"] = token["refresh_token_expires_in"]
        return fields

    def connected_accounts(
        self, token: dict[str, Any], options: dict[str, str]
    ) -> list[ConnectedAccount]:
        access = str(token.get("access_token") or "")
        if not access:
            raise PermanentError("LinkedIn's token reply held no access token")
        credentials = self._token_fields(token)
        scopes = str(token.get("scope") or "")
        with self._client(access) as client:
            member = self._userinfo(client)
            person = PERSON + member["sub"]
            wanted = [p.strip() for p in options.get("page", "").split(",") if p.strip()]
            if not wanted:
                handle, name = self._member_handle(member)
                return [
                    ConnectedAccount(
                        handle=handle,
                        remote_id=person,
                        name=name,
                        scopes=scopes,
                        credentials={**credentials, "author": person},
                    )
                ]
            organizations = self._administered(client)
        granted = []
        for page in wanted:
            org = next((o for o in organizations if self._matches(o, page)), None)
            if org is None:
                known = ", ".join(f"{o['handle']} ({o['name']})" for o in organizations) or "none"
                raise PermanentError(
                    f"no LinkedIn organization you can post for matches {page!r}; yours: {known}"
                )
            granted.append(
                ConnectedAccount(
                    handle=org["handle"],
                    remote_id=org["urn"],
                    name=org["name"],
                    scopes=scopes,
                    credentials={**credentials, "author": org["urn"], "member": person},
                )
            )
        return granted

    def _userinfo(self, client: httpx2.Client) -> dict[str, Any]:
        member = self._json(send(client, "GET", "/v2/userinfo", self.title), "/v2/userinfo")
        if not member.get("sub"):
            raise TransientError(f"{self.title} sent an unexpected reply to /v2/userinfo")
        return member

    @staticmethod
    def _member_handle(member: dict[str, Any]) -> tuple[str, str]:
        name = str(member.get("name") or "").strip()
        return _slug(name) or str(member["sub"]), name

    def _administered(self, client: httpx2.Client) -> list[dict[str, str]]:
        """Organizations whose page role lets this member post, with their names."""
        acls = self._json(
            send(
                client,
                "GET",
                "/rest/organizationAcls",
                self.title,
                params={"q": "roleAssignee", "state": "APPROVED"},
            ),
            "/rest/organizationAcls",
        )
        found: list[dict[str, str]] = []
        for element in acls.get("elements") or []:
            urn = str(element.get("organization") or "")
            if element.get("role") not in POSTING_ROLES or not urn.startswith(ORGANIZATION):
                continue
            if any(o["urn"] == urn for o in found):
                continue
            org_id = urn.removeprefix(ORGANIZATION)
            org = self._json(
                send(client, "GET", f"/rest/organizations/{org_id}", self.title),
                "/rest/organizations",
            )
            name = str(org.get("localizedName") or org_id)
            found.append(
                {
                    "urn": urn,
                    "id": org_id,
                    "handle": str(org.get("vanityName") or org_id),
                    "name": name,
                }
            )
        return found

    @staticmethod
    def _matches(org: dict[str, str], page: str) -> bool:
        page = page.lower()
        return page in {org["urn"].lower(), org["id"], org["handle"].lower(), org["name"].lower()}

    @classmethod
    def reconnect_options(
        cls, handle: str, remote_id: str | None, extra: dict[str, Any]
    ) -> list[str]:
        # An organization is posted for only when connect is told which (--page).
        author = str(extra.get("author") or remote_id or "")
        return ["--page", handle] if author.startswith(ORGANIZATION) else []

    @classmethod
    def credentials_template(cls, extra: dict[str, Any]) -> dict[str, Any]:
        template: dict[str, Any] = {"access_token": "…", "refresh_token": "…"}
        author = str(extra.get("author") or "")
        if author.startswith(ORGANIZATION):
            template["organization"] = author
        return template

    def prepare_credentials(self, raw: dict[str, Any]) -> dict[str, Any]:
        """`accounts add linkedin`: {"access_token", "refresh_token"?, "expires_in"?,
        "organization"? (id or URN)}; without an organization the member is asked who it is."""
        access = str(raw.get("access_token") or "")
        if not access:
            raise PermanentError('LinkedIn credentials need "access_token"')
        fields = self._token_fields(raw)
        organization = str(raw.get("organization") or "").strip()
        author = str(raw.get("author") or "").strip()
        if organization:
            author = (
                organization
                if organization.startswith(ORGANIZATION)
                else ORGANIZATION + organization
            )
        elif not author.startswith((PERSON, ORGANIZATION)):
            with self._client(access) as client:
                author = PERSON + self._userinfo(client)["sub"]
        return {**fields, "author": author}

    def whoami(self, account: AccountRef) -> dict[str, Any]:
        author = self._author(account)
        with self._client(self.access_token(account)) as client:
            if author.startswith(ORGANIZATION):
                org_id = author.removeprefix(ORGANIZATION)
                org = self._json(
                    send(client, "GET", f"/rest/organizations/{org_id}", self.title),
                    "/rest/organizations",
                )
                return {
                    "handle": org.get("vanityName") or org_id,
                    "id": author,
                    "name": org.get("localizedName") or "",
                }
            member = self._userinfo(client)
        handle, name = self._member_handle(member)
        return {"handle": handle, "id": PERSON + member["sub"], "name": name}

    def refresh(self, account: AccountRef) -> dict[str, Any] | None:
        """Only apps LinkedIn approved for programmatic refresh get refresh tokens; without
        one the 60-day token cannot be renewed and the account must be connected again."""
        refresh_token = account.credentials.get("refresh_token")
        if not refresh_token:
            return None
        client_id, secret = self.client_credentials_with_secret()
        with make_client(self.settings) as client:
            response = send(
                client,
                "POST",
                f"{self.auth_url}/oauth/v2/accessToken",
                self.title,
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": refresh_token,
                    "client_id": client_id,
                    "client_secret": secret,
                },
            )
        token = self._json(response, "the token refresh")
        if not token.get("access_token"):
            raise TransientError(f"{self.title} sent no access token when refreshing")
        return self._token_fields(token)

    def revoke(self, account: AccountRef) -> None:
        client_id, secret = self.client_credentials_with_secret()
        with make_client(self.settings) as client:
            send(
                client,
                "POST",
                f"{self.auth_url}/oauth/v2/revoke",
                self.title,
                data={
                    "client_id": client_id,
                    "client_secret": secret,
                    "token": self.access_token(account),
                },
            )

    # -- publishing -------------------------------------------------------------

    def publish(self, account: AccountRef, request: PublishRequest) -> PublishResult:
        return self._publish(account, request, None)

    def resume(
        self, account: AccountRef, request: PublishRequest, state: dict[str, Any]
    ) -> PublishResult:
        """Carry on once LinkedIn has processed the video: its status, asked by the URN
        the first attempt uploaded, then the post with its comments."""
        return self._publish(account, request, state)

    def _publish(
        self, account: AccountRef, request: PublishRequest, state: dict[str, Any] | None
    ) -> PublishResult:
        author = self._author(account)
        token = self.access_token(account)
        text = request.parts[0] if request.parts else ""
        with self._client(token) as client:
            content = self._content(client, token, author, request.media, state)
            body: dict[str, Any] = {
                "author": author,
                "commentary": escape_little_text(text),
                "visibility": "PUBLIC",
                "distribution": {
                    "feedDistribution": "MAIN_FEED",
                    "targetEntities": [],
                    "thirdPartyDistributionChannels": [],
                },
                "lifecycleState": "PUBLISHED",
                "isReshareDisabledByAuthor": False,
            }
            if content:
                body["content"] = content
            # LinkedIn may have made the post before its server failed: `creates` has
            # the next attempt look first.
            response = send(client, "POST", "/rest/posts", self.title, json=body, creates=True)
            urn = response.headers.get("x-restli-id", "").strip()
            if not urn:
                # It was accepted: the next attempt looks for it instead of posting twice.
                raise TransientError(
                    f"{self.title} accepted the post but its reply named no post id",
                    maybe_sent=True,
                )
            follow_ups = [*request.parts[1:]]
            if request.first_comment:
                follow_ups.append(request.first_comment)
            problems = self._comment_all(client, author, urn, follow_ups)
        extra: dict[str, Any] = {}
        if problems:
            extra["follow_up_errors"] = problems
        return PublishResult(remote_id=urn, url=post_url(urn), extra=extra)

    def _comment_all(
        self, client: httpx2.Client, author: str, urn: str, texts: list[str]
    ) -> list[str]:
        """Thread parts and the first comment, in order. The post already exists, so a
        failed comment is reported rather than raised: retrying would post it twice."""
        problems = []
        for number, text in enumerate(texts, start=1):
            try:
                send(
                    client,
                    "POST",
                    f"/rest/socialActions/{_encoded(urn)}/comments",
                    self.title,
                    json={"actor": author, "object": urn, "message": {"text": text}},
                )
            except PlatformError as exc:
                problem = f"comment {number} of {len(texts)} was not posted: {exc.message}"
                log.warning("LinkedIn post %s: %s", urn, problem)
                problems.append(problem)
        return problems

    def _content(
        self,
        client: httpx2.Client,
        token: str,
        author: str,
        media: list[MediaItem],
        state: dict[str, Any] | None,
    ) -> dict[str, Any] | None:
        """The post's `content`, its media uploaded now, or the video by the publish
        `state` resumes (images need no processing, so only a video is ever resumed)."""
        images = [m for m in media if m.mime_type.startswith("image/")]
        videos = [m for m in media if m.mime_type.startswith("video/")]
        if videos and (images or len(videos) > 1):
            raise PermanentError("a LinkedIn post carries one video, or images, not both")
        if videos:
            if state is None:
                urn = self._upload_video(client, token, author, videos[0])
                since = time.time()
            else:
                urn, since = str(state["video"]), float(state[PROCESSING_SINCE])
            self._wait_until_available(client, urn, videos[0], since)
            return {"media": {"id": urn}}
        if not images:
            return None
        uploaded = []
        for image in images:
            entry = {"id": self._upload_image(client, token, author, image)}
            if image.alt_text:
                entry["altText"] = image.alt_text
            uploaded.append(entry)
        if len(uploaded) == 1:
            return {"media": uploaded[0]}
        return {"multiImage": {"images": uploaded}}

    def _upload_image(self, client: httpx2.Client, token: str, author: str, item: MediaItem) -> str:
        response = send(
            client,
            "POST",
            "/rest/images?action=initializeUpload",
            self.title,
            json={"initializeUploadRequest": {"owner": author}},
        )
        value = self._value(response, "the image upload request", "uploadUrl", "image")
        upload_url = str(value["uploadUrl"])
        with make_client(self.settings) as uploader:
            send(
                uploader,
                "PUT",
                upload_url,
                self.title,
                shown=f"the upload of {item.filename}",  # the URL itself is signed
                content=item.content(),
                headers={
                    "Content-Type": "application/octet-stream",
                    **self._upload_headers(upload_url, token),
                },
            )
        return str(value["image"])

    def _upload_video(self, client: httpx2.Client, token: str, author: str, item: MediaItem) -> str:
        response = send(
            client,
            "POST",
            "/rest/videos?action=initializeUpload",
            self.title,
            json={
                "initializeUploadRequest": {
                    "owner": author,
                    "fileSizeBytes": item.size,
                    "uploadCaptions": False,
                    "uploadThumbnail": False,
                }
            },
        )
        value = self._value(response, "the video upload request", "video", "uploadInstructions")
        urn = str(value["video"])
        etags = self._upload_parts(token, item, value["uploadInstructions"])
        send(
            client,
            "POST",
            "/rest/videos?action=finalizeUpload",
            self.title,
            json={
                "finalizeUploadRequest": {
                    "video": urn,
                    "uploadToken": value.get("uploadToken") or "",
                    "uploadedPartIds": etags,
                }
            },
        )
        return urn

    def _upload_parts(self, token: str, item: MediaItem, instructions: Any) -> list[str]:
        """PUT each byte range where LinkedIn says; the ETags, in order, prove the upload."""
        if not isinstance(instructions, list) or not instructions:
            raise TransientError(f"{self.title} sent no upload instructions for the video")
        etags = []
        with item.stream() as stream, make_client(self.settings) as uploader:
            for part in instructions:
                try:
                    url, first, last = (
                        str(part["uploadUrl"]),
                        int(part["firstByte"]),
                        int(part["lastByte"]),
                    )
                except (KeyError, TypeError, ValueError):
                    raise TransientError(
                        f"{self.title} sent unreadable upload instructions for the video"
                    ) from None
                stream.seek(first)
                chunk = stream.read(last - first + 1)
                response = send(
                    uploader,
                    "PUT",
                    url,
                    self.title,
                    shown=f"the upload of {item.filename}",  # the URL itself is signed
                    content=chunk,
                    headers={
                        "Content-Type": "application/octet-stream",
                        **self._upload_headers(url, token),
                    },
                )
                etag = response.headers.get("etag")
                if not etag:
                    raise TransientError(f"{self.title} gave no ETag for a video part")
                etags.append(etag)
        return etags

    def _wait_until_available(
        self, client: httpx2.Client, urn: str, item: MediaItem, since: float
    ) -> None:
        """Ask for the video's status until it is AVAILABLE; one LinkedIn is still
        processing after a moment hands the wait to the daemon (`Processing`), naming
        the uploaded video so it is not sent twice."""

        def available(video: dict[str, Any]) -> bool | None:
            status = video.get("status")
            if status == "PROCESSING_FAILED":
                reason = video.get("processingFailureReason") or "no reason given"
                raise PermanentError(
                    f"{self.title} could not process the video {item.filename}: {reason}"
                )
            return True if status == "AVAILABLE" else None

        poll_until(
            self,
            available,
            lambda: self._json(
                send(client, "GET", f"/rest/videos/{_encoded(urn)}", self.title),
                "the video status",
            ),
            what=f"the video {item.filename}",
            wait=DEFAULT_MEDIA_WAIT_SECONDS,
            every=DEFAULT_MEDIA_POLL_SECONDS,
            resume={"video": urn, PROCESSING_SINCE: since},
        )

    # -- after publishing ---------------------------------------------------------

    def delete(self, account: AccountRef, remote_id: str) -> bool:
        """LinkedIn answers 204 for a post already gone, too: only a 404 tells."""
        with self._client(self.access_token(account)) as client:
            try:
                send(
                    client,
                    "DELETE",
                    f"/rest/posts/{_encoded(remote_id)}",
                    self.title,
                    headers={"X-RestLi-Method": "DELETE"},
                )
            except NotFound:
                return False  # already gone: that is what was asked
        return True

    def metrics(self, account: AccountRef, remote_id: str) -> Metrics:
        """Organizations get share statistics (impressions, reach, clicks); members get
        the likes and comments every post has, as member analytics need a partner scope
        (the rest is None). A post LinkedIn no longer has is Gone."""
        author = self._author(account)
        with self._client(self.access_token(account)) as client:
            if author.startswith(ORGANIZATION):
                stats = self._share_statistics(client, author, remote_id)
                if stats is not None:
                    return stats
            try:
                actions = self._json(
                    send(client, "GET", f"/rest/socialActions/{_encoded(remote_id)}", self.title),
                    "the post's social actions",
                )
            except NotFound:
                raise Gone(f"{self.title} no longer has post {remote_id}") from None
        likes = actions.get("likesSummary") or {}
        comments = actions.get("commentsSummary") or {}
        return Metrics(
            likes=count(likes.get("totalLikes")),
            comments=count(
                comments.get("aggregatedTotalComments", comments.get("totalFirstLevelComments"))
            ),
            raw={"likesSummary": likes, "commentsSummary": comments},
        )

    def _share_statistics(self, client: httpx2.Client, author: str, urn: str) -> Metrics | None:
        """The post's organic statistics; None when LinkedIn lists none for it."""
        kind = "ugcPosts" if urn.startswith("urn:li:ugcPost:") else "shares"
        # Rest.li 2.0 lists: List(…) stays literal, the URNs inside are encoded.
        path = (
            "/rest/organizationalEntityShareStatistics?q=organizationalEntity"
            f"&organizationalEntity={_encoded(author)}&{kind}=List({_encoded(urn)})"
        )
        body = self._json(send(client, "GET", path, self.title), "the share statistics")
        elements = body.get("elements") or []
        stats = elements[0].get("totalShareStatistics") if elements else None
        if not isinstance(stats, dict):
            return None
        return Metrics(
            impressions=count(stats.get("impressionCount")),
            reach=count(stats.get("uniqueImpressionsCount")),
            likes=count(stats.get("likeCount")),
            comments=count(stats.get("commentCount")),
            shares=count(stats.get("shareCount")),
            clicks=count(stats.get("clickCount")),
            raw={"totalShareStatistics": stats},
        )

    def account_metrics(self, account: AccountRef) -> Metrics:
        """An organization's followers (network size); LinkedIn tells members' only to
        partner apps."""
        author = self._author(account)
        if not author.startswith(ORGANIZATION):
            raise NotSupported("LinkedIn tells a member's followers only to partner apps")
        with self._client(self.access_token(account)) as client:
            body = self._json(
                send(
                    client,
                    "GET",
                    f"/rest/networkSizes/{_encoded(author)}",
                    self.title,
                    params={"edgeType": "COMPANY_FOLLOWED_BY_MEMBER"},
                ),
                "the network size",
            )
        return Metrics(followers=count(body.get("firstDegreeSize")), raw=body)

    def find_published(
        self, account: AccountRef, request: PublishRequest
    ) -> PublishResult | UnknownOutcome | None:
        """LinkedIn has no idempotency key: look for the text among the author's latest
        posts. Not finding it proves nothing (the list can lag), so that is UNKNOWN; nor
        does an empty text or an older post with the same text prove it went out."""
        author = self._author(account)
        text = request.parts[0] if request.parts else ""
        if not text.strip():
            return UNKNOWN  # a media-only post looks like any other
        wanted = {escape_little_text(text), text}
        hours = self.settings.number("linkedin_lookback_hours", DEFAULT_LOOKBACK_HOURS)
        since_ms = (time.time() - hours * 3600) * 1000
        with self._client(self.access_token(account)) as client:
            body = self._json(
                send(
                    client,
                    "GET",
                    "/rest/posts",
                    self.title,
                    params={
                        "author": author,
                        "q": "author",
                        "count": str(RECENT_POSTS),
                        "sortBy": "LAST_MODIFIED",
                    },
                ),
                "the author's posts",
            )
        for post in body.get("elements") or []:
            if not isinstance(post, dict) or post.get("commentary") not in wanted:
                continue
            created = post.get("createdAt", post.get("publishedAt"))
            if isinstance(created, int | float) and created >= since_ms and post.get("id"):
                urn = str(post["id"])
                return PublishResult(remote_id=urn, url=post_url(urn))
        return UNKNOWN
