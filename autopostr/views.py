"""The JSON shapes of PRODUCT §2: stable keys, string ids, ISO 8601 times with offset."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from autopostr.identity import Actor, token_status
from autopostr.models import ApiToken, Session, User


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
