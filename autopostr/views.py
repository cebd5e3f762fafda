"""The JSON shapes of PRODUCT §2: stable keys, string ids, ISO 8601 times with offset."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from autopostr.identity import Actor, token_status
from autopostr.models import ApiToken, Media, PostDestination, Session, SocialAccount, User
from autopostr.posts import PostView

if TYPE_CHECKING:
    from autopostr.outcomes import Outcome
    from autopostr.unpublishing import Unpublished


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def user_json(user: User | Actor) -> dict[str, Any]:
    user_id = user.user_id if isinstance(user, Actor) else user.id
    return {"id": str(user_id), "email": user.email, "name": user.name}


def actor_json(actor: Actor) -> dict[str, Any]:
    return {
        "user": user_json(actor),
        "team": (
            {"id": str(actor.team_id), "name": actor.team_name, "role": actor.role}
            if actor.team_id is not None
            else None
        ),
        "via": actor.via,
    }


def session_json(row: Session, current_id: int | None = None) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "label": row.label,
        "created_at": iso(row.created_at),
        "last_used_at": iso(row.last_used_at),
        "expires_at": iso(row.expires_at),
        "current": row.id == current_id,
    }


def token_json(row: ApiToken) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "prefix": row.prefix,
        "status": token_status(row),
        "created_at": iso(row.created_at),
        "last_used_at": iso(row.last_used_at),
        "expires_at": iso(row.expires_at),
    }


def account_json(account: SocialAccount) -> dict[str, Any]:
    return {
        "id": str(account.id),
        "platform": account.platform,
        "handle": account.handle,
        "name": account.name,
        "status": account.status,
        "expires_at": iso(account.expires_at),
    }


def media_json(item: Media) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "filename": item.filename,
        "mime_type": item.mime_type,
        "size": item.size,
        "sha256": item.sha256,
        "width": item.width,
        "height": item.height,
        "duration": item.duration,
        "alt_text": item.alt_text,
    }


def destination_json(dest: PostDestination, account: SocialAccount) -> dict[str, Any]:
    return {
        "id": str(dest.id),
        "account": f"{account.platform}:{account.handle}",
        "account_id": str(account.id),
        "status": dest.status,
        "text": dest.text,
        "remote_id": dest.remote_id,
        "url": dest.url,
        "error": dest.error,
        "attempts": dest.attempts,
        "next_attempt_at": iso(dest.next_attempt_at),
        "published_at": iso(dest.published_at),
    }


def post_json(view: PostView) -> dict[str, Any]:
    post = view.post
    return {
        "id": str(post.id),
        "status": post.status,
        "text": post.text,
        "scheduled_at": iso(post.scheduled_at),
        "timezone": post.timezone,
        "first_comment": post.first_comment,
        "external_id": post.external_id,
        "team": str(post.team_id),
        "team_name": view.team_name,
        "author": view.author_email,
        "destinations": [destination_json(d, a) for d, a in view.destinations],
        "media": [media_json(m) for m in view.media],
        "review_comment": post.review_comment,
        "created_at": iso(post.created_at),
        "updated_at": iso(post.updated_at),
    }


def unpublished_json(result: Unpublished) -> dict[str, Any]:
    """`posts unpublish --json`: what happened on each platform the post was on."""
    return {
        "post": str(result.post_id),
        "status": result.post_status,
        "destinations": [
            {
                "destination": str(t.target.destination_id),
                "account": t.target.account,
                "outcome": t.outcome,
                "status": t.status,
                "remote_id": t.target.remote_id,
                "url": t.target.url,
                "error": t.error,
            }
            for t in result.takedowns
        ],
    }


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """What came of one publish call (`daemon run --json`, `posts publish --json`, hooks)."""
    return {
        "destination": str(outcome.destination_id),
        "post": str(outcome.post_id),
        "account": outcome.account,
        "status": outcome.status,
        "attempt": outcome.attempt,
        "remote_id": outcome.remote_id,
        "url": outcome.url,
        "error": outcome.error,
        "next_attempt_at": outcome.next_attempt_at.isoformat() if outcome.next_attempt_at else None,
    }
