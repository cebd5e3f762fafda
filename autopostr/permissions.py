"""Who may do what: one table consulted by the domain, so every caller agrees."""

from __future__ import annotations

from autopostr.errors import PermissionDenied
from autopostr.identity import Actor
from autopostr.models import Role

ROLES = tuple(Role)  # lowest first

# The lowest role allowed each action; higher roles inherit it.
REQUIRED_ROLE: dict[str, str] = {
    "posts.read": "viewer",
    "accounts.read": "viewer",
    "media.read": "viewer",
    "analytics.read": "viewer",
    "posts.write": "editor",
    "media.write": "editor",
    "ai.use": "editor",
    "analytics.sync": "editor",
    "posts.approve": "owner",
    "accounts.manage": "owner",
    "team.manage": "owner",
    "billing.manage": "owner",
}


def allowed(role: str | None, action: str) -> bool:
    needed = REQUIRED_ROLE[action]
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def require(actor: Actor, action: str) -> int:
    """The actor's team id if their role allows `action`; exit 4 naming the role otherwise."""
    if actor.team_id is None:
        raise PermissionDenied("you belong to no team: create one with `autopostr team create`")
    if not allowed(actor.role, action):
        needed = REQUIRED_ROLE[action]
        raise PermissionDenied(
            f"{action.replace('.', ' ')} needs the {needed} role in team {actor.team_name!r}; "
            f"you are {actor.role}"
        )
    return actor.team_id
