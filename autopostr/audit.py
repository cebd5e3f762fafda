"""The audit log: who did what to what, and when."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from autopostr.identity import Actor
from autopostr.models import AuditLog

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession


def record(
    db: DbSession,
    actor: Actor | None,
    action: str,
    target_type: str = "",
    target_id: object = "",
    team_id: int | None = None,
    **details: Any,
) -> None:
    db.add(
        AuditLog(
            team_id=team_id if team_id is not None else (actor.team_id if actor else None),
            user_id=actor.user_id if actor else None,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            details=json.dumps(details, default=str, sort_keys=True),
        )
    )
