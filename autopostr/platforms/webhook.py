"""A generic webhook destination: a JSON POST to any URL (Discord, Slack, a static site).

The body is signed with HMAC-SHA256 over `timestamp.body` when a secret is set,
so the receiver can check it came from us and is fresh. Credentials (stdin of
`accounts add webhook`): {"handle": "site", "url": "https://…", "secret": "…",
"format": "json" | "discord" | "slack"}; the secret and the URL are stored
encrypted, since for Discord and Slack the URL is the credential (others carry a
`?token=`), and neither log lines nor error messages show more of it than its host.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from autopostr.platforms.base import (
    AccountRef,
    Limits,
    MediaLimits,
    NotSupported,
    PermanentError,
    Platform,
    PlatformError,
    PublishRequest,
    PublishResult,
)
from autopostr.platforms.http import hide, keep_out_of_logs, make_client, send

FORMATS = ("json", "discord", "slack")
SIGNATURE_HEADER = "X-Autopostr-Signature"
TIMESTAMP_HEADER = "X-Autopostr-Timestamp"
DEFAULT_INLINE_BYTES = 8 * 1024 * 1024


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(
        secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256
    )
    return "sha256=" + digest.hexdigest()


@contextmanager
def _url_kept_secret(url: str) -> Iterator[None]:
    """Errors name the webhook by its host only (a timeout message names the URL)."""
    try:
        yield
    except PlatformError as exc:
        exc.message = hide(exc.message, url)
        exc.args = (exc.message,)
        raise


class WebhookPlatform(Platform):
    name = "webhook"
    title = "Webhook"
    limits: ClassVar[Limits] = Limits(
        max_chars=40_000,
        counting="codepoints",
        media=MediaLimits(max_images=10, max_videos=1, mixed=True, max_image_bytes=50 * 2**20),
        threads=True,
        first_comment=True,
    )
    secret_extras: ClassVar[frozenset[str]] = frozenset({"url"})

    @classmethod
    def credentials_template(cls, extra: dict[str, Any]) -> dict[str, Any]:
        # The URL is a secret of its own (anyone holding it can post): asked, never shown.
        fmt = str(extra.get("format") or "json")
        template: dict[str, Any] = {"url": "…", "format": fmt}
        if fmt == "json":
            template["secret"] = "…"
        return template

    @classmethod
    def credential_fields(cls, raw: dict[str, Any]) -> dict[str, Any]:
        url = str(raw.get("url", "")).strip()
        if not url.startswith(("http://", "https://")):
            raise PermanentError('webhook credentials need "url": "https://…"')
        fmt = str(raw.get("format", "json")).lower()
        if fmt not in FORMATS:
            raise PermanentError(f"webhook format must be one of {', '.join(FORMATS)}")
        return {"access_token": raw.get("secret") or None, "url": url, "format": fmt}

    def _inline_limit(self) -> int:
        return self.settings.integer("webhook_inline_bytes", DEFAULT_INLINE_BYTES)

    def _media(self, request: PublishRequest) -> list[dict[str, Any]]:
        """Media as JSON: the bytes inline (base64) while the post's media stay under the
        inline limit, so any receiver gets the files; beyond it, what they are."""
        inline = sum(m.size for m in request.media) <= self._inline_limit()
        items = []
        for m in request.media:
            item: dict[str, Any] = {
                "sha256": m.sha256,
                "mime_type": m.mime_type,
                "filename": m.filename,
                "size": m.size,
                "width": m.width,
                "height": m.height,
                "duration": m.duration,
                "alt_text": m.alt_text,
            }
            if inline and m.open is not None:
                with m.open() as handle:
                    item["data_base64"] = base64.b64encode(handle.read()).decode("ascii")
            items.append(item)
        return items

    def _body(self, account: AccountRef, request: PublishRequest) -> dict[str, Any]:
        text = "\n\n".join(request.parts)
        fmt = account.extra.get("format", "json")
        if fmt == "discord":
            return {"content": text[:2000]}
        if fmt == "slack":
            return {"text": text}
        return {
            "event": "post",
            "account": account.handle,
            "post_id": request.post_id,
            "destination_id": request.destination_id,
            "idempotency_key": request.idempotency_key,
            "text": text,
            "parts": request.parts,
            "first_comment": request.first_comment,
            "media": self._media(request),
        }

    def _signed_headers(self, account: AccountRef, body: bytes, key: str) -> dict[str, str]:
        timestamp = str(int(time.time()))
        headers = {"Idempotency-Key": key, TIMESTAMP_HEADER: timestamp}
        secret = account.credentials.get("access_token")
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
        return headers

    def _url(self, account: AccountRef) -> str:
        url = account.credentials.get("url") or account.extra.get("url")
        if not url:
            raise PermanentError(
                f"webhook {account.handle} has no URL: add it again with its credentials"
            )
        keep_out_of_logs(str(url))
        return str(url)

    def publish(self, account: AccountRef, request: PublishRequest) -> PublishResult:
        url = self._url(account)
        fmt = account.extra.get("format", "json")
        body = json.dumps(self._body(account, request), separators=(",", ":")).encode("utf-8")
        headers = self._signed_headers(account, body, request.idempotency_key)
        with _url_kept_secret(url), make_client(self.settings) as client:
            if fmt == "discord":
                response = self._post_to_discord(client, url, body, headers, request)
            else:
                response = send(
                    client,
                    "POST",
                    url,
                    self.title,
                    content=body,
                    headers={**headers, "Content-Type": "application/json"},
                )
        remote_id, remote_url = request.idempotency_key, None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            remote_id = str(answer.get("id") or remote_id)
            remote_url = answer.get("url")
        return PublishResult(remote_id=remote_id, url=remote_url)

    def _post_to_discord(
        self,
        client: Any,
        url: str,
        body: bytes,
        headers: dict[str, str],
        request: PublishRequest,
    ) -> Any:
        """wait=true makes Discord answer with the message, whose id lets us delete it;
        media go as attached files beside the JSON payload."""
        if not request.media:
            return send(
                client,
                "POST",
                url,
                self.title,
                params={"wait": "true"},
                content=body,
                headers={**headers, "Content-Type": "application/json"},
            )
        handles = [m.open() for m in request.media if m.open is not None]
        try:
            files = [
                (f"files[{i}]", (m.filename, handle, m.mime_type))
                for i, (m, handle) in enumerate(zip(request.media, handles, strict=False))
            ]
            return send(
                client,
                "POST",
                url,
                self.title,
                params={"wait": "true"},
                headers=headers,
                data={"payload_json": body.decode("utf-8")},
                files=files,
            )
        finally:
            for handle in handles:
                handle.close()

    def whoami(self, account: AccountRef) -> dict[str, Any]:
        """`accounts test`: JSON receivers get a signed `ping` event (as GitHub's webhooks
        send one); Discord describes its webhook on a GET; Slack has no harmless call."""
        url = self._url(account)
        fmt = account.extra.get("format", "json")
        with _url_kept_secret(url), make_client(self.settings) as client:
            if fmt == "discord":
                answer = send(client, "GET", url, self.title).json()
                name = answer.get("name") if isinstance(answer, dict) else None
                return {"handle": name or account.handle, "format": fmt}
            if fmt == "slack":
                raise NotSupported("a Slack incoming webhook cannot be tested without posting")
            ping = {"event": "ping", "account": account.handle}
            self._send_event(client, account, url, ping, f"ping-{int(time.time())}")
        return {"handle": account.handle, "format": fmt}

    def delete(self, account: AccountRef, remote_id: str) -> bool:
        """JSON receivers get a signed `delete` event; Discord deletes the message itself."""
        url = self._url(account)
        fmt = account.extra.get("format", "json")
        with _url_kept_secret(url), make_client(self.settings) as client:
            if fmt == "discord":
                try:
                    send(client, "DELETE", f"{url}/messages/{remote_id}", self.title)
                except PermanentError as exc:
                    if "404" not in exc.message:  # already gone is what we wanted
                        raise
                    return False
                return True
            if fmt == "slack":
                raise NotSupported("Slack incoming webhooks cannot delete a message")
            event = {"event": "delete", "account": account.handle, "remote_id": remote_id}
            self._send_event(client, account, url, event, f"delete-{remote_id}")
        return True

    def _send_event(
        self, client: Any, account: AccountRef, url: str, event: dict[str, Any], key: str
    ) -> None:
        """A signed JSON event that is not a post (ping, delete)."""
        body = json.dumps(event, separators=(",", ":")).encode("utf-8")
        headers = self._signed_headers(account, body, key)
        send(
            client,
            "POST",
            url,
            self.title,
            content=body,
            headers={**headers, "Content-Type": "application/json"},
        )
