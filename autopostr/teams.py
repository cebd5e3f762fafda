"""Teams: members and roles, invitations, settings, and the audit trail.

Roles come from `autopostr.permissions`; every function here checks them, so
the CLI, the daemon and any future API enforce the same rules. A membership is
looked up on every command, so removing someone takes effect at once, even
for their open sessions and access tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from autopostr import audit
from autopostr.config import Settings
from autopostr.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from autopostr.identity import Actor, hash_token, new_token, normalize_email
from autopostr.models import AuditLog, Team, TeamInvite, TeamMember, User, utcnow
from autopostr.permissions import ROLES, require

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

INVITE_PREFIX = "api"
INVITE_LIFETIME = timedelta(days=7)


def _role(role: str) -> str:
    role = role.strip().lower()
    if role not in ROLES:
        raise InvalidInput(f"--role: {role!r} is not one of {', '.join(ROLES)}")
    return role


def create(db: DbSession, actor: Actor, name: str) -> Team:
    name = name.strip()
    if not name:
        raise InvalidInput("team name: give the team a name")
    team = Team(name=name[:200])
    db.add(team)
    db.flush()
    assert team.id is not None
    db.add(TeamMember(team_id=team.id, user_id=actor.user_id, role="owner"))
    user = db.get(User, actor.user_id)
    assert user is not None
    user.current_team_id = team.id
    db.add(user)
    audit.record(db, actor, "team.create", "team", team.id, team_id=team.id, name=name)
    return team


def memberships(db: DbSession, user_id: int) -> list[tuple[Team, str]]:
    from sqlmodel import col, select

    rows = db.exec(
        select(Team, TeamMember.role)
        .join(TeamMember, col(TeamMember.team_id) == col(Team.id))
        .where(TeamMember.user_id == user_id)
        .order_by(col(Team.id))
    ).all()
    return [(team, role) for team, role in rows]


def find_my_team(db: DbSession, actor: Actor, name: str) -> tuple[Team, str]:
    """One of the actor's teams by id or name; other teams look like they do not exist."""
    wanted = name.strip()
    for team, role in memberships(db, actor.user_id):
        if str(team.id) == wanted or team.name.lower() == wanted.lower():
            return team, role
    raise NotFound(f"team {name!r} not found among your teams: see `autopostr team list`")


def use(db: DbSession, actor: Actor, name: str) -> tuple[Team, str]:
    team, role = find_my_team(db, actor, name)
    user = db.get(User, actor.user_id)
    assert user is not None
    user.current_team_id = team.id
    db.add(user)
    return team, role


def members(db: DbSession, actor: Actor) -> list[tuple[User, str]]:
    from sqlmodel import col, select

    team_id = require(actor, "posts.read")
    rows = db.exec(
        select(User, TeamMember.role)
        .join(TeamMember, col(TeamMember.user_id) == col(User.id))
        .where(TeamMember.team_id == team_id)
        .order_by(col(User.email))
    ).all()
    return [(user, role) for user, role in rows]


@dataclass
class Invitation:
    invite: TeamInvite
    token: str
    emailed: bool = False
    # The invitee's own PostgreSQL URL (a login role of theirs), shown or e-mailed once.
    connection_url: str | None = None


def invite(
    db: DbSession,
    actor: Actor,
    settings: Settings,
    email: str,
    role: str,
    expires_in: timedelta = INVITE_LIFETIME,
) -> Invitation:
    team_id = require(actor, "team.manage")
    email = normalize_email(email)
    role = _role(role)
    from autopostr.billing.limits import check_seats

    check_seats(db, settings, team_id)
    token = new_token(INVITE_PREFIX)
    row = TeamInvite(
        team_id=team_id,
        email=email,
        role=role,
        token_hash=hash_token(token),
        invited_by=actor.user_id,
        expires_at=utcnow() + expires_in,
    )
    db.add(row)
    db.flush()
    audit.record(db, actor, "team.invite", "invite", row.id, email=email, role=role)
    result = Invitation(row, token)
    from autopostr.dbroles import grant_on_invite

    login = grant_on_invite(settings, email)
    if login is not None:
        result.connection_url = login.connection_url
    if settings.get("smtp_host"):
        from autopostr.mail import send_invitation

        send_invitation(settings, email, actor, token, role, result.connection_url)
        result.emailed = True
    return result


def join(db: DbSession, actor: Actor, token: str) -> tuple[Team, str]:
    from sqlmodel import select

    row = db.exec(
        select(TeamInvite).where(TeamInvite.token_hash == hash_token(token.strip()))
    ).first()
    if row is None:
        raise InvalidInput("invitation: that token is not a valid invitation (mistyped?)")
    if row.used_at is not None:
        raise InvalidInput("invitation: that invitation was used already; ask for a new one")
    if row.expires_at <= utcnow():
        raise InvalidInput(
            f"invitation: that invitation expired at {row.expires_at.isoformat()}; ask for a new one"
        )
    if row.email.lower() != actor.email.lower():
        raise PermissionDenied(
            f"invitation: it is for {row.email}, you are signed in as {actor.email}"
        )
    team = db.get(Team, row.team_id)
    if team is None:
        raise NotFound("invitation: its team no longer exists")
    existing = db.get(TeamMember, (row.team_id, actor.user_id))
    if existing is not None:
        raise Conflict(f"you are already a member of {team.name!r} ({existing.role})")
    db.add(TeamMember(team_id=row.team_id, user_id=actor.user_id, role=row.role))
    # The membership first: on a PostgreSQL with row-level security, joining is allowed
    # only while the invitation is still unused.
    db.flush()
    row.used_at = utcnow()
    row.used_by = actor.user_id
    db.add(row)
    user = db.get(User, actor.user_id)
    assert user is not None
    user.current_team_id = row.team_id
    db.add(user)
    audit.record(db, actor, "team.join", "user", actor.user_id, team_id=row.team_id, role=row.role)
    return team, row.role


def _member(db: DbSession, team_id: int, who: str) -> tuple[User, TeamMember]:
    from sqlmodel import select

    who = who.strip()
    query = (
        select(User).where(User.id == int(who))
        if who.isdigit()
        else select(User).where(User.email == who.lower())
    )
    user = db.exec(query).first()
    membership = db.get(TeamMember, (team_id, user.id)) if user is not None else None
    if user is None or membership is None:
        raise NotFound(f"{who} is not a member of this team: see `autopostr team members`")
    return user, membership


def _owners(db: DbSession, team_id: int) -> int:
    from sqlalchemy import func
    from sqlmodel import select

    return int(
        db.exec(
            select(func.count())
            .select_from(TeamMember)
            .where(TeamMember.team_id == team_id, TeamMember.role == "owner")
        ).one()
    )


def set_role(db: DbSession, actor: Actor, who: str, role: str) -> tuple[User, str]:
    team_id = require(actor, "team.manage")
    role = _role(role)
    user, membership = _member(db, team_id, who)
    if membership.role == "owner" and role != "owner" and _owners(db, team_id) <= 1:
        raise Conflict(f"{user.email} is the last owner: make someone else owner first")
    old = membership.role
    membership.role = role
    db.add(membership)
    audit.record(db, actor, "team.role", "user", user.id, email=user.email, old=old, new=role)
    return user, role


def to_remove(db: DbSession, actor: Actor, who: str) -> tuple[User, TeamMember]:
    """The member `team remove` would remove, checked before anyone is asked."""
    team_id = require(actor, "team.manage")
    user, membership = _member(db, team_id, who)
    if membership.role == "owner" and _owners(db, team_id) <= 1:
        raise Conflict(f"{user.email} is the last owner and cannot be removed")
    return user, membership


def remove(db: DbSession, actor: Actor, who: str) -> User:
    user, membership = to_remove(db, actor, who)
    db.delete(membership)
    audit.record(db, actor, "team.remove", "user", user.id, email=user.email)
    return user


# Who approves an editor's post: an owner in autopostr, or (also) a merged pull request
# of the team's content folder, applied by an owner with `apply --as-approved`.
APPROVERS = ("owner", "git")


def update_settings(
    db: DbSession,
    actor: Actor,
    *,
    approval_required: bool | None = None,
    name: str | None = None,
    approval_by: str | None = None,
) -> Team:
    team_id = require(actor, "team.manage")
    team = db.get(Team, team_id)
    assert team is not None
    changes: dict[str, Any] = {}
    if approval_required is not None and approval_required != team.approval_required:
        team.approval_required = approval_required
        changes["approval_required"] = approval_required
    if approval_by is not None:
        if approval_by not in APPROVERS:
            raise InvalidInput(
                f"--approval-by: {approval_by!r} is not one of {', '.join(APPROVERS)}"
            )
        stored = None if approval_by == "owner" else approval_by
        if stored != team.approval_by:
            team.approval_by = stored
            changes["approval_by"] = approval_by
    if name is not None and name.strip() and name.strip() != team.name:
        team.name = name.strip()[:200]
        changes["name"] = team.name
    if changes:
        db.add(team)
        audit.record(db, actor, "team.settings", "team", team.id, **changes)
    return team


def current_team(db: DbSession, actor: Actor) -> Team:
    team_id = require(actor, "posts.read")
    team = db.get(Team, team_id)
    assert team is not None
    return team


def audit_entries(
    db: DbSession,
    actor: Actor,
    *,
    since: datetime | None = None,
    user: str | None = None,
    action: str | None = None,
    limit: int = 200,
) -> list[tuple[AuditLog, str | None]]:
    from sqlmodel import col

    query = _audit_query(actor, since, user, action)
    rows = db.exec(query.order_by(col(AuditLog.id).desc()).limit(limit)).all()
    return [(entry, email) for entry, email in reversed(rows)]


def count_audit_entries(
    db: DbSession,
    actor: Actor,
    *,
    since: datetime | None = None,
    user: str | None = None,
    action: str | None = None,
) -> int:
    """How many entries match, whatever the limit: `200 of 5,000 entries shown`."""
    from sqlalchemy import func, select

    inner = _audit_query(actor, since, user, action).subquery()
    return int(db.execute(select(func.count()).select_from(inner)).scalar_one())


def _audit_query(actor: Actor, since: datetime | None, user: str | None, action: str | None) -> Any:
    from sqlmodel import col, select

    team_id = require(actor, "team.manage")
    query = (
        select(AuditLog, User.email)
        .join(User, col(User.id) == col(AuditLog.user_id), isouter=True)
        .where(AuditLog.team_id == team_id)
    )
    if since is not None:
        query = query.where(col(AuditLog.created_at) >= since)
    if user:
        who = user.strip()
        if "@" in who:
            query = query.where(col(User.email) == who.lower())
        elif who.isdigit():
            query = query.where(col(AuditLog.user_id) == int(who))
        else:
            raise InvalidInput(
                f"--user {user!r}: give a member's e-mail or id (see `autopostr team members`)"
            )
    if action:
        # autoescape: % and _ in the prefix match themselves, not any text.
        query = query.where(col(AuditLog.action).startswith(action.strip(), autoescape=True))
    return query
