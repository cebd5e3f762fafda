"""Facebook Pages through the Graph API: one account per page, posting with its page token.

`accounts connect facebook --page NAME_OR_ID` runs the Facebook Login dialog (no
PKCE: Facebook does not take it for server apps), trades the short-lived user
token for a long-lived one (~60 days), and stores one account per page picked,
with the page token (which does not expire) and the long-lived user token
(encrypted; it can derive a fresh page token and is needed by the resumable video
upload). When Facebook refuses a page token (code 190), `refresh` asks for the
page's token again with the stored user token; when that is refused too, the
account needs `autopostr accounts connect facebook` again.

Tokens travel in the Authorization header or a POST body, never in a URL: Graph
error messages and our own can quote URLs. Throttling is signalled by error codes
(4, 17, 32, 613, 80001), not HTTP 429; the usage headers say when access returns.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

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
from autopostr.platforms.graph import (
    Dialect,
    ErrorBody,
    GraphError,
    as_dict,
    call,
    long_lived_form,
    managed_pages,
    snippet,
    to_int,
)
from autopostr.platforms.graph import usage_wait as usage_wait  # where the tests look for it
from autopostr.platforms.http import PROCESSING_SINCE, StillProcessing, make_client, poll_until

log = logging.getLogger("autopostr.platforms.facebook")

DEFAULT_GRAPH_VERSION = "v23.0"
WEB_URL = "https://www.facebook.com"
VIDEO_API_URL = "https://graph-video.facebook.com"
SCOPES = (
    "pages_show_list",
    "pages_read_engagement",
    "pages_manage_posts",
    "pages_manage_engagement",
    "publish_video",
    "read_insights",
)
DUPLICATE_CODE = 506
MISSING_OBJECT_SUBCODE = 33
POST_INSIGHTS = ("post_total_media_view_unique", "post_reactions_by_type_total", "post_clicks")
DEFAULT_MEDIA_POLL_SECONDS = 5.0
DEFAULT_MEDIA_WAIT_SECONDS = 900.0
UPLOAD_TRIES = 3
RECENT_POSTS = 25
# Only posts this recent count as "the one that went out" when looking for a lost publish.
FIND_WINDOW = timedelta(hours=48)


class FacebookPlatform(Platform):
    """A Facebook Page; `remote_id` is the page id, `access_token` the page token."""

    name: ClassVar[str] = "facebook"
    title: ClassVar[str] = "Facebook"
    default_api_url: ClassVar[str] = "https://graph.facebook.com"
    default_auth_url: ClassVar[str] = "https://www.facebook.com"
    limits: ClassVar[Limits] = Limits(
        max_chars=63_206,
        counting="codepoints",
        media=MediaLimits(
            max_images=10,
            max_videos=1,
            mixed=False,
            image_types=frozenset({"image/jpeg", "image/png", "image/gif"}),
            max_image_bytes=4 * 1024 * 1024,
            max_video_bytes=1024 * 1024 * 1024,
            max_video_seconds=240 * 60.0,
        ),
        threads=False,
        first_comment=True,
    )

    # -- settings -------------------------------------------------------------

    @property
    def graph_version(self) -> str:
        """AUTOPOSTR_FACEBOOK_GRAPH_VERSION, as `v23.0` or `23.0`."""
        raw = (self.settings.get("facebook_graph_version") or DEFAULT_GRAPH_VERSION).strip()
        version = raw if raw.startswith("v") else f"v{raw}"
        if not re.fullmatch(r"v\d+\.\d+", version):
            from autopostr.errors import ConfigError

            raise ConfigError(f"AUTOPOSTR_FACEBOOK_GRAPH_VERSION must look like v23.0, not {raw!r}")
        return version

    @property
    def graph_url(self) -> str:
        return f"{self.api_url}/{self.graph_version}"

    @property
    def video_url(self) -> str:
        """Videos go to graph-video.facebook.com, unless the API address was moved."""
        configured = self.settings.get("facebook_video_api_url")
        if configured:
            base = configured.rstrip("/")
        elif self.api_url != self.default_api_url:
            base = self.api_url
        else:
            base = VIDEO_API_URL
        return f"{base}/{self.graph_version}"

    # -- HTTP -------------------------------------------------------------------

    def _call(
        self,
        method: str,
        url: str,
        token: str | None,
        *,
        auth_scheme: str = "Bearer",
        creates: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """One Graph call (see `graph.call`), on a client of its own: the URLs are whole,
        as videos go to another host."""
        with make_client(self.settings) as client:
            return call(
                FACEBOOK,
                client,
                method,
                url,
                token=token,
                auth_scheme=auth_scheme,
                creates=creates,
                **kwargs,
            )

    # -- connecting -------------------------------------------------------------

    def oauth(self, options: dict[str, str], redirect_uri: str) -> OAuthSpec:
        client_id, secret = self.client_credentials()
        return OAuthSpec(
            authorize_url=f"{self.auth_url}/{self.graph_version}/dialog/oauth",
            token_url=f"{self.graph_url}/oauth/access_token",
            client_id=client_id,
            client_secret=secret,
            scopes=SCOPES,
            pkce=False,
            token_auth="client_secret_post",
            scope_separator=",",
        )

    def connected_accounts(
        self, token: dict[str, Any], options: dict[str, str]
    ) -> list[ConnectedAccount]:
        short_lived = str(token.get("access_token") or "")
        if not short_lived:
            raise PermanentError(f"{self.title} gave no access token")
        long_lived = self._long_lived(short_lived)
        user_token = str(long_lived["access_token"])
        user_expires_in = to_int(long_lived.get("expires_in"))
        pages = self._pages(user_token)
        picked = _pick_pages(pages, options.get("page", ""))
        accounts = []
        for page in picked:
            credentials: dict[str, Any] = {
                "access_token": page["access_token"],
                "expires_in": None,  # page tokens from a long-lived user token do not expire
                "user_token": user_token,
                "page_name": page.get("name") or "",
            }
            if user_expires_in:
                credentials["user_token_expires_at"] = int(time.time()) + user_expires_in
            accounts.append(
                ConnectedAccount(
                    handle=_handle(page),
                    remote_id=str(page["id"]),
                    name=str(page.get("name") or ""),
                    credentials=credentials,
                    scopes=",".join(SCOPES),
                )
            )
        return accounts

    def _long_lived(self, short_lived: str) -> dict[str, Any]:
        # Without the secret the login would last only a few hours.
        client_id, secret = self.client_credentials_with_secret()
        answer = self._call(
            "POST",
            f"{self.graph_url}/oauth/access_token",
            None,
            data=long_lived_form(client_id, secret, short_lived),
        )
        if not answer.get("access_token"):
            raise PermanentError(f"{self.title} did not give a long-lived token")
        return answer

    def _pages(self, user_token: str) -> list[dict[str, Any]]:
        return managed_pages(
            lambda params: self._call(
                "GET", f"{self.graph_url}/me/accounts", user_token, params=params
            ),
            "id,name,username,access_token,tasks",
            self.title,
        )

    @classmethod
    def reconnect_options(
        cls, handle: str, remote_id: str | None, extra: dict[str, Any]
    ) -> list[str]:
        # A login that manages several pages connects none without --page.
        return ["--page", str(remote_id or extra.get("page_id") or handle)]

    @classmethod
    def credentials_template(cls, extra: dict[str, Any]) -> dict[str, Any]:
        return {"access_token": "…", "page_id": str(extra.get("page_id") or "…")}

    @classmethod
    def credential_fields(cls, raw: dict[str, Any]) -> dict[str, Any]:
        fields = {k: v for k, v in raw.items() if k not in ("handle",)}
        if not fields.get("access_token"):
            raise PermanentError(
                'Facebook credentials need "access_token" (a page access token) and '
                '"page_id"; or use `autopostr accounts connect facebook --page NAME`'
            )
        fields.setdefault("expires_in", None)
        if fields.get("page_id") is not None:
            fields["page_id"] = str(fields["page_id"])
        return fields

    def prepare_credentials(self, raw: dict[str, Any]) -> dict[str, Any]:
        """A pasted page token names its page: ask Facebook which one when `page_id` is missing."""
        fields = self.credential_fields(raw)
        if not fields.get("page_id"):
            me = self._call(
                "GET", f"{self.graph_url}/me", fields["access_token"], params={"fields": "id,name"}
            )
            if not me.get("id"):
                raise PermanentError(f"{self.title} did not say which page the token is for")
            fields["page_id"] = str(me["id"])
            fields.setdefault("page_name", me.get("name") or "")
        return fields

    def whoami(self, account: AccountRef) -> dict[str, Any]:
        page = self._call(
            "GET",
            f"{self.graph_url}/{self._page_id(account)}",
            self.access_token(account),
            params={"fields": "id,name,username,followers_count"},
        )
        return {
            "handle": _handle(page),
            "id": str(page.get("id") or ""),
            "name": page.get("name") or "",
            "followers": page.get("followers_count"),
        }

    def refresh(self, account: AccountRef) -> dict[str, Any] | None:
        """Page tokens have no refresh token: the stored long-lived user token asks for
        the page's token again. When it cannot (no user token, the 60-day login ran
        out, the role is gone), a page token that still works needs nothing (None);
        one Facebook refuses means logging in again, which PermanentError brings about."""
        page_id = self._page_id(account)
        user_token = account.credentials.get("user_token")
        expires_at = to_int(account.extra.get("user_token_expires_at"))
        reason = f"{self.title} page tokens cannot be renewed without the login that made them"
        if user_token and expires_at and expires_at <= time.time():
            reason = f"the {self.title} login (60 days) has run out"
        elif user_token:
            try:
                pages = self._pages(str(user_token))
            except AuthExpired as exc:
                reason = exc.message
            else:
                for page in pages:
                    if str(page.get("id")) == page_id and page.get("access_token"):
                        return {"access_token": page["access_token"], "expires_in": None}
                reason = f"page {page_id} is no longer among the pages this login manages"
        if self._page_token_works(account):
            return None
        raise PermanentError(
            f"{reason}: run `autopostr accounts connect {self.name} --page {page_id}` "
            "to log in again"
        )

    def _page_token_works(self, account: AccountRef) -> bool:
        try:
            self._call(
                "GET", f"{self.graph_url}/me", self.access_token(account), params={"fields": "id"}
            )
        except AuthExpired:
            return False
        return True

    def revoke(self, account: AccountRef) -> None:
        """Nothing to do: Facebook revokes a whole login (every page of it) through
        DELETE /me/permissions, never one page's token, so disconnecting one page must
        not call it. Remove the app in Facebook's settings to revoke everything."""
        return None

    # -- publishing -------------------------------------------------------------

    def publish(self, account: AccountRef, request: PublishRequest) -> PublishResult:
        page_id, token = self._page_id(account), self.access_token(account)
        text = "\n\n".join(part for part in request.parts if part.strip())
        images = [m for m in request.media if m.mime_type.startswith("image/")]
        videos = [m for m in request.media if m.mime_type.startswith("video/")]
        if videos and (images or len(videos) > 1):
            raise PermanentError(f"{self.title} posts take one video alone, or images")
        if videos:
            result = self._publish_video(account, page_id, token, text, videos[0])
        elif len(images) == 1:
            result = self._publish_photo(page_id, token, text, images[0])
        elif images:
            result = self._publish_album(page_id, token, text, images)
        elif text:
            answer = self._call(
                "POST",
                f"{self.graph_url}/{page_id}/feed",
                token,
                data={"message": text},
                creates=True,
            )
            result = self._result(page_id, _id(answer, "id", self.title))
        else:
            raise PermanentError(f"{self.title}: nothing to publish (no text, no media)")
        if request.first_comment:
            result = self._comment(token, result, request.first_comment)
        return result

    def resume(
        self, account: AccountRef, request: PublishRequest, state: dict[str, Any]
    ) -> PublishResult:
        """Carry on once Facebook has processed the video the first attempt uploaded (the
        upload published it): its status, then the first comment. Nothing is sent again."""
        page_id, token = self._page_id(account), self.access_token(account)
        result = self._video_result(page_id, token, str(state["video_id"]), state)
        if request.first_comment:
            result = self._comment(token, result, request.first_comment)
        return result

    def _publish_photo(self, page_id: str, token: str, text: str, item: MediaItem) -> PublishResult:
        data = {"message": text} if text else {}
        # Photos are small (4 MB at most): read whole, so the upload has a known length.
        answer = self._call(
            "POST",
            f"{self.graph_url}/{page_id}/photos",
            token,
            data=data,
            files={"source": (item.filename, item.content(), item.mime_type)},
            creates=True,
        )
        # The post's id where Facebook gives one; the photo's own id otherwise.
        if answer.get("post_id"):
            return self._result(page_id, str(answer["post_id"]), photo_id=answer.get("id"))
        photo_id = _id(answer, "id", self.title)
        return PublishResult(remote_id=photo_id, url=f"{WEB_URL}/photo.php?fbid={photo_id}")

    def _publish_album(
        self, page_id: str, token: str, text: str, items: list[MediaItem]
    ) -> PublishResult:
        """Unpublished photos first, then one feed post that attaches them all."""
        photo_ids = []
        for item in items:
            answer = self._call(
                "POST",
                f"{self.graph_url}/{page_id}/photos",
                token,
                data={"published": "false"},
                files={"source": (item.filename, item.content(), item.mime_type)},
            )
            photo_ids.append(_id(answer, "id", self.title))
        data = {
            "attached_media": json.dumps([{"media_fbid": photo} for photo in photo_ids]),
            "published": "true",
        }
        if text:
            data["message"] = text
        answer = self._call(
            "POST", f"{self.graph_url}/{page_id}/feed", token, data=data, creates=True
        )
        return self._result(page_id, _id(answer, "id", self.title), photos=photo_ids)

    def _publish_video(
        self, account: AccountRef, page_id: str, token: str, text: str, item: MediaItem
    ) -> PublishResult:
        user_token = account.credentials.get("user_token")
        app_id = self.settings.get("facebook_client_id")
        data = {"description": text} if text else {}
        # After the 60-day login runs out the page token still posts videos, by the
        # other route; the resumable one would be refused and the account marked for
        # reconnecting.
        login_ends = to_int(account.extra.get("user_token_expires_at"))
        if user_token and app_id and not (login_ends and login_ends <= time.time()):
            handle = self._resumable_upload(str(app_id), str(user_token), item)
            answer = self._call(
                "POST",
                f"{self.video_url}/{page_id}/videos",
                token,
                data={**data, "fbuploader_video_file_chunk": handle},
                creates=True,
            )
        else:
            # Accounts added with only a page token: the video endpoint takes the file itself.
            with item.stream() as stream:
                answer = self._call(
                    "POST",
                    f"{self.video_url}/{page_id}/videos",
                    token,
                    data=data,
                    files={"source": (item.filename, stream, item.mime_type)},
                    creates=True,
                )
        return self._video_result(page_id, token, _id(answer, "id", self.title), None)

    def _video_result(
        self, page_id: str, token: str, video_id: str, state: dict[str, Any] | None
    ) -> PublishResult:
        """The uploaded video, once Facebook has processed it (or the wait ran out); `state`
        is the hand-over being carried on, None right after the upload."""
        status = self._wait_for_video(token, video_id, (state or {}).get(PROCESSING_SINCE))
        return PublishResult(
            remote_id=video_id,
            url=f"{WEB_URL}/{page_id}/videos/{video_id}",
            extra={"video_status": status},
        )

    def _resumable_upload(self, app_id: str, user_token: str, item: MediaItem) -> str:
        """Graph's resumable upload: open a session, send the bytes, resume from the
        offset Facebook reports when the connection breaks; returns the file handle."""
        session = self._call(
            "POST",
            f"{self.graph_url}/{app_id}/uploads",
            user_token,
            params={
                "file_name": item.filename,
                "file_length": str(item.size),
                "file_type": item.mime_type,
            },
        )
        session_id = _id(session, "id", self.title)
        url = f"{self.graph_url}/{session_id}"
        offset = 0
        for attempt in range(1, UPLOAD_TRIES + 1):
            try:
                answer = self._call(
                    "POST",
                    url,
                    user_token,
                    auth_scheme="OAuth",
                    headers={
                        "file_offset": str(offset),
                        "Content-Length": str(item.size - offset),
                        "Content-Type": "application/octet-stream",
                    },
                    content=_chunks(item, offset),
                )
            except TransientError:
                if attempt == UPLOAD_TRIES:
                    raise
                state = self._call("GET", url, user_token, auth_scheme="OAuth")
                offset = to_int(state.get("file_offset")) or 0
                continue
            if answer.get("h"):
                return str(answer["h"])
            offset = to_int(answer.get("file_offset")) or offset
        raise TransientError(f"{self.title} did not finish the video upload of {item.filename}")

    def _wait_for_video(self, token: str, video_id: str, since: float | None) -> str:
        """Poll the processing status; a video still processing at the deadline is
        published by Facebook when it is done, so it counts as sent. Processing that lasts
        past a moment hands the wait to the daemon (`Processing`, naming the video: it is
        never uploaded again); the wait counts from `since`, when processing began."""

        def video_status() -> str:
            try:
                answer = self._call(
                    "GET", f"{self.graph_url}/{video_id}", token, params={"fields": "status"}
                )
            except PlatformError as exc:
                # The video exists: raising would make the retry upload it a second time.
                log.warning(
                    "facebook video %s is uploaded; its processing status is unknown: %s",
                    video_id,
                    exc.message,
                )
                return "unknown"
            status = as_dict(answer.get("status"))
            if status.get("video_status") in ("error", "expired"):
                raise PermanentError(
                    f"{self.title} could not process the video: {_video_errors(status)}"
                )
            return str(status.get("video_status") or "processing")

        try:
            return poll_until(
                self,
                lambda status: status if status in ("ready", "unknown") else None,
                video_status,
                what=f"video {video_id}",
                wait=DEFAULT_MEDIA_WAIT_SECONDS,
                every=DEFAULT_MEDIA_POLL_SECONDS,
                resume={"video_id": video_id, PROCESSING_SINCE: since},
            )
        except StillProcessing as exc:
            log.warning("facebook video %s is still processing; it will appear when done", video_id)
            return str(exc.last)

    def _comment(self, token: str, result: PublishResult, message: str) -> PublishResult:
        """The post is out whatever happens here: a failed comment is noted, not raised,
        so a retry never posts the same thing twice."""
        try:
            answer = self._call(
                "POST",
                f"{self.graph_url}/{result.remote_id}/comments",
                token,
                data={"message": message},
                creates=True,
            )
        except PlatformError as exc:
            log.warning(
                "facebook post %s is out, its first comment is not: %s",
                result.remote_id,
                exc.message,
            )
            return PublishResult(
                result.remote_id, result.url, {**result.extra, "first_comment_error": exc.message}
            )
        comment_id = str(answer.get("id") or "")
        return PublishResult(
            result.remote_id, result.url, {**result.extra, "first_comment_id": comment_id}
        )

    def _result(self, page_id: str, post_id: str, **extra: Any) -> PublishResult:
        page, _, story = post_id.partition("_")
        url = f"{WEB_URL}/{page}/posts/{story}" if story else f"{WEB_URL}/{post_id}"
        return PublishResult(
            remote_id=post_id, url=url, extra={k: v for k, v in extra.items() if v is not None}
        )

    def delete(self, account: AccountRef, remote_id: str) -> bool:
        try:
            answer = self._call(
                "DELETE", f"{self.graph_url}/{remote_id}", self.access_token(account)
            )
        except GraphError as exc:
            if exc.subcode == MISSING_OBJECT_SUBCODE:
                return False  # already gone: what deleting wanted
            raise
        if answer.get("success") is False:
            raise PermanentError(f"{self.title} did not delete post {remote_id}")
        return True

    def metrics(self, account: AccountRef, remote_id: str) -> Metrics:
        """A post's insights by their current names (the `*_impressions*` ones were
        removed in 2025: unique media views are its reach, and Graph has no total
        impressions for a post any more, so those are None) and its public counts."""
        token = self.access_token(account)
        try:
            insights = self._call(
                "GET",
                f"{self.graph_url}/{remote_id}/insights",
                token,
                params={"metric": ",".join(POST_INSIGHTS)},
            )
            counts = self._call(
                "GET",
                f"{self.graph_url}/{remote_id}",
                token,
                params={
                    "fields": "shares,comments.summary(true).limit(0),"
                    "reactions.summary(total_count).limit(0)"
                },
            )
        except GraphError as exc:
            if exc.subcode == MISSING_OBJECT_SUBCODE:
                raise Gone(f"{self.title} no longer has post {remote_id}") from None
            raise
        values: dict[str, Any] = {}
        for metric in insights.get("data") or []:
            if isinstance(metric, dict) and metric.get("values"):
                latest = metric["values"][-1]
                values[str(metric.get("name"))] = (
                    latest.get("value") if isinstance(latest, dict) else None
                )
        reactions = values.get("post_reactions_by_type_total")
        if isinstance(reactions, dict):
            likes = added(*(count(v) for v in reactions.values()))
        else:
            likes = _summary(counts.get("reactions"))
        shares = counts.get("shares")
        return Metrics(
            reach=count(values.get("post_total_media_view_unique")),
            likes=likes,
            comments=_summary(counts.get("comments")),
            # Graph leaves `shares` out of a post nobody shared.
            shares=count(shares.get("count")) if isinstance(shares, dict) else 0,
            clicks=count(values.get("post_clicks")),
            raw={"insights": values, **{k: v for k, v in counts.items() if k != "id"}},
        )

    def account_metrics(self, account: AccountRef) -> Metrics:
        """The page's followers (`followers_count`; `page_fans` is gone since 2025)."""
        page = self._call(
            "GET",
            f"{self.graph_url}/{self._page_id(account)}",
            self.access_token(account),
            params={"fields": "followers_count"},
        )
        return Metrics(
            followers=count(page.get("followers_count")),
            raw={k: v for k, v in page.items() if k != "id"},
        )

    def find_published(
        self, account: AccountRef, request: PublishRequest
    ) -> PublishResult | UnknownOutcome | None:
        """Facebook takes no idempotency key: look for the text among the page's recent
        posts (an older one with the same text is another post). Not finding it proves
        nothing (media posts, slow indexing), so UNKNOWN."""
        text = "\n\n".join(part for part in request.parts if part.strip()).strip()
        if not text:
            return UNKNOWN
        page_id = self._page_id(account)
        answer = self._call(
            "GET",
            f"{self.graph_url}/{page_id}/posts",
            self.access_token(account),
            params={"fields": "id,message,created_time", "limit": str(RECENT_POSTS)},
        )
        now = datetime.now(UTC)
        for post in answer.get("data") or []:
            if not isinstance(post, dict):
                continue
            created = _created(post.get("created_time"))
            recent = created is not None and now - created < FIND_WINDOW
            if recent and str(post.get("message") or "").strip() == text:
                return self._result(page_id, str(post.get("id")))
        return UNKNOWN

    # -- helpers --------------------------------------------------------------

    def _page_id(self, account: AccountRef) -> str:
        page_id = account.remote_id or account.extra.get("page_id")
        if not page_id:
            raise PermanentError(
                f"{self.title} account {account.handle} has no page id: run "
                f"`autopostr accounts connect {self.name} --page {account.handle}`"
            )
        return str(page_id)


def _duplicate(error: ErrorBody, text: str) -> GraphError | None:
    if error.code != DUPLICATE_CODE:
        return None
    return GraphError(
        f"{text}: Facebook refuses to post the same text twice in a row",
        code=error.code,
        subcode=error.subcode,
    )


FACEBOOK = Dialect(FacebookPlatform.title, specific=_duplicate)


def _pick_pages(pages: list[dict[str, Any]], wanted: str) -> list[dict[str, Any]]:
    """The pages named by --page (ids, names or usernames); the only page when none is
    named; otherwise an error that lists the pages to pick from."""
    listing = "; ".join(f"{p.get('name') or '?'} (id {p['id']})" for p in pages)
    if not pages:
        raise PermanentError(
            "this Facebook login manages no pages, or none were granted: run the command "
            "again and tick the pages in Facebook's dialog"
        )
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    if not names:
        if len(pages) == 1:
            return pages
        raise PermanentError(
            f"this Facebook login manages {len(pages)} pages: {listing}. Pick with "
            '--page NAME_OR_ID (repeat it for more), e.g. --page "'
            f'{pages[0].get("name") or pages[0]["id"]}"'
        )
    picked: list[dict[str, Any]] = []
    for name in names:
        key = name.casefold()
        match = next(
            (
                p
                for p in pages
                if key in (str(p["id"]), str(p.get("name") or "").casefold(), _handle(p).casefold())
            ),
            None,
        )
        if match is None:
            raise PermanentError(f"no page {name!r} among the pages this login manages: {listing}")
        if match not in picked:
            picked.append(match)
    for page in picked:
        tasks = page.get("tasks")
        if isinstance(tasks, list) and "CREATE_CONTENT" not in tasks:
            raise PermanentError(
                f"your role on page {page.get('name') or page['id']} cannot publish "
                f"(tasks: {', '.join(map(str, tasks)) or 'none'}): ask an admin for content access"
            )
        if not page.get("access_token"):
            raise PermanentError(
                f"Facebook gave no token for page {page.get('name') or page['id']}: check "
                "the permissions granted in the dialog"
            )
    return picked


def _handle(page: dict[str, Any]) -> str:
    """The page's username, else its name made into a handle, else its id."""
    username = str(page.get("username") or "").strip()
    if username:
        return username
    slug = re.sub(r"[^\w.]+", "-", str(page.get("name") or "").strip().lower()).strip("-")
    return slug or str(page.get("id"))


def _id(answer: dict[str, Any], key: str, title: str) -> str:
    value = answer.get(key)
    if not value:
        raise TransientError(
            f"{title} answered without {key!r}: {snippet(json.dumps(answer))}", maybe_sent=True
        )
    return str(value)


def _created(value: Any) -> datetime | None:
    """Graph's `created_time` (2025-01-31T12:00:00+0000); None when it is not one."""
    try:
        created = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return created if created.tzinfo is not None else created.replace(tzinfo=UTC)


def _summary(edge: Any) -> int | None:
    """An edge's `summary.total_count`; None when Graph sent none (not zero: unknown)."""
    if isinstance(edge, dict) and isinstance(edge.get("summary"), dict):
        return count(edge["summary"].get("total_count"))
    return None


def _video_errors(status: dict[str, Any]) -> str:
    messages = []
    for phase in ("uploading_phase", "processing_phase", "publishing_phase"):
        details = status.get(phase)
        if isinstance(details, dict):
            for error in details.get("errors") or []:
                if isinstance(error, dict) and error.get("message"):
                    messages.append(str(error["message"]))
    return "; ".join(messages) or f"status {status.get('video_status')}"


def _chunks(item: MediaItem, offset: int, size: int = 1024 * 1024) -> Iterator[bytes]:
    """The item's bytes from `offset` on, a chunk at a time."""
    with item.stream() as stream:
        skip = offset
        while skip > 0:
            skipped = stream.read(min(size, skip))
            if not skipped:
                return
            skip -= len(skipped)
        while chunk := stream.read(size):
            yield chunk
