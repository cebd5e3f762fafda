"""A generic webhook destination: a JSON POST to any URL (Discord, Slack, a static site).

The body is signed with HMAC-SHA256 over `timestamp.body` when a secret is set,
so the receiver can check it came from us and is fresh. Credentials (stdin of
`accounts add webhook`): {"handle": "site", "url": "https://…", "secret": "…",
"format": "json" | "discord" | "slack"}; the secret is stored encrypted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, ClassVar

from autopostr.platforms.base import (
    AccountRef,
    Limits,
    MediaLimits,
    PermanentError,
    Platform,
    PublishRequest,
    PublishResult,
)
from autopostr.platforms.http import make_client, send

FORMATS = ("json", "discord", "slack")
SIGNATURE_HEADER = "X-Autopostr-Signature"
TIMESTAMP_HEADER = "X-Autopostr-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(
        secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256
    )
    return "sha256=" + digest.hexdigest()


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

    @classmethod
    def credential_fields(cls, raw: dict[str, Any]) -> dict[str, Any]:
        url = str(raw.get("url", "")).strip()
        if not url.startswith(("http://", "https://")):
            raise PermanentError('webhook credentials need "url": "https://…"')
        fmt = str(raw.get("format", "json")).lower()
        if fmt not in FORMATS:
            raise PermanentError(f"webhook format must be one of {', '.join(FORMATS)}")
        return {"access_token": raw.get("secret") or None, "url": url, "format": fmt}

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
            "media": [
                {
                    "sha256": m.sha256,
                    "mime_type": m.mime_type,
                    "filename": m.filename,
                    "size": m.size,
                }
                for m in request.media
            ],
        }

    def publish(self, account: AccountRef, request: PublishRequest) -> PublishResult:
        url = account.extra.get("url")
        if not url:
            raise PermanentError(
                f"webhook {account.handle} has no URL: add it again with its credentials"
            )
        body = json.dumps(self._body(account, request), separators=(",", ":")).encode("utf-8")
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": request.idempotency_key,
            TIMESTAMP_HEADER: timestamp,
        }
        secret = account.credentials.get("access_token")
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
        with make_client(self.settings) as client:
            response = send(client, "POST", url, self.title, content=body, headers=headers)
        remote_id, remote_url = request.idempotency_key, None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            remote_id = str(answer.get("id") or remote_id)
            remote_url = answer.get("url")
        return PublishResult(remote_id=remote_id, url=remote_url)
