"""Users, personal teams, sign-in sessions and personal access tokens.

Tokens are random and long, so the database keeps only their SHA-256: a leaked
database cannot sign anyone in. Passwords are hashed with scrypt (memory-hard,
in the standard library). Sessions last seven days from their last use.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from autopostr.errors import Conflict, InvalidInput, NotFound, NotLoggedIn, PermissionDenied
from autopostr.models import ApiToken, Session, Team, TeamMember, User, utcnow

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

SESSION_LIFETIME = timedelta(days=7)
# Sliding a session on every command would turn every read into a write.
SESSION_TOUCH_INTERVAL = timedelta(minutes=1)
SESSION_PREFIX = "aps"
API_TOKEN_PREFIX = "apt"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MIN_PASSWORD_LENGTH = 8
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
BAD_CREDENTIALS = "wrong email or password"
# Checked for unknown users: the same scrypt work as a real check, and no match.
_DUMMY_HASH = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${'00' * 16}${'00' * 64}"


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=2**26
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=2**26,
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password: use at least {MIN_PASSWORD_LENGTH} characters")


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise InvalidInput(f"email: {email!r} is not an email address")
    return email


@dataclass(frozen=True)
class Actor:
    """Who runs a command, in which team, and how they signed in."""

    user_id: int
    email: str
    name: str
    team_id: int | None
    team_name: str | None
    role: str | None
    via: str  # "session" | "token"
    credential_id: int


def personal_team_name(name: str) -> str:
    return f"{name}'s team" if not name.endswith("s") else f"{name}' team"


def create_user(db: DbSession, email: str, name: str, password: str | None) -> User:
    """A user with their personal team, where they are the owner."""
    from sqlalchemy.exc import IntegrityError
    from sqlmodel import select

    email = normalize_email(email)
    name = name.strip() or email.split("@")[0]
    if password is not None:
        validate_password(password)
    taken = Conflict(f"email: {email} is already registered: sign in with `autopostr auth login`")
    if db.exec(select(User).where(User.email == email)).first() is not None:
        raise taken
    password_hash = hash_password(password) if password is not None else None
    team = Team(name=personal_team_name(name), personal=True)
    db.add(team)
    db.flush()
    user = User(email=email, name=name, password_hash=password_hash, current_team_id=team.id)
    db.add(user)
    try:
        db.flush()
    except IntegrityError:
        # Registered by another process between the check and the insert (PostgreSQL).
        raise taken from None
    assert team.id is not None and user.id is not None
    db.add(TeamMember(team_id=team.id, user_id=user.id, role="owner"))
    db.flush()
    return user


def stored_password_hash(db: DbSession, user: User) -> str | None:
    """The user's password hash. A member's database role reads no one's (the column is
    left out of its queries): the database hands it only its own, for signing in."""
    from sqlalchemy import inspect, text

    if "password_hash" not in inspect(user).unloaded:
        return user.password_hash
    value = db.execute(text("SELECT autopostr_password_hash(:id)"), {"id": user.id}).scalar()
    return None if value is None else str(value)


def count_users(db: DbSession) -> int:
    from sqlalchemy import func
    from sqlmodel import select

    return int(db.exec(select(func.count()).select_from(User)).one())


def authenticate(
    db: DbSession, email: str, password: str, *, passwordless_ok: bool = False
) -> User:
    """The user with this email and password; the same error for either being wrong."""
    from sqlmodel import select

    user = db.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        # Spend the same time as a real check, so timing does not reveal who exists.
        verify_password(password, _DUMMY_HASH)
        raise PermissionDenied(BAD_CREDENTIALS)
    stored = stored_password_hash(db, user)
    if stored is None:
        if passwordless_ok:
            return user
        raise PermissionDenied(
            f"{user.email} has no password yet: set one with `autopostr auth password` "
            "from a machine where you are signed in"
        )
    if not verify_password(password, stored):
        raise PermissionDenied(BAD_CREDENTIALS)
    return user


def needs_password(db: DbSession, email: str, *, passwordless_ok: bool) -> bool:
    """False only for an existing passwordless user where that is allowed."""
    from sqlmodel import select

    user = db.exec(select(User).where(User.email == email.strip().lower())).first()
    return not (passwordless_ok and user is not None and stored_password_hash(db, user) is None)


def set_password(db: DbSession, user_id: int, password: str) -> None:
    validate_password(password)
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    user.password_hash = hash_password(password)
    db.add(user)


def start_session(db: DbSession, user: User, label: str = "") -> tuple[Session, str]:
    """A new session and its token; the token is returned once and never stored."""
    assert user.id is not None
    token = new_token(SESSION_PREFIX)
    now = utcnow()
    row = Session(
        user_id=user.id,
        token_hash=hash_token(token),
        label=label[:200],
        created_at=now,
        last_used_at=now,
        expires_at=now + SESSION_LIFETIME,
    )
    db.add(row)
    db.flush()
    return row, token


def end_session(db: DbSession, token: str) -> bool:
    from sqlmodel import select

    row = db.exec(select(Session).where(Session.token_hash == hash_token(token))).first()
    if row is None:
        return False
    db.delete(row)
    return True


def _actor_for(db: DbSession, user: User, via: str, credential_id: int) -> Actor:
    from sqlmodel import col, select

    assert user.id is not None
    team: Team | None = None
    role: str | None = None
    membership = None
    if user.current_team_id is not None:
        membership = db.get(TeamMember, (user.current_team_id, user.id))
    if membership is None:
        # The current team is gone or the user left it: fall back to any team of theirs.
        membership = db.exec(
            select(TeamMember)
            .where(TeamMember.user_id == user.id)
            .order_by(col(TeamMember.created_at))
        ).first()
    if membership is not None:
        team = db.get(Team, membership.team_id)
        role = membership.role
    return Actor(
        user_id=user.id,
        email=user.email,
        name=user.name,
        team_id=team.id if team else None,
        team_name=team.name if team else None,
        role=role,
        via=via,
        credential_id=credential_id,
    )


def actor_in_team(db: DbSession, user_id: int | None, team_id: int, via: str) -> Actor | None:
    """A member acting in one team without signing in: the daemon making a series'
    next post as the person who set the series up. None once they left the team."""
    if user_id is None:
        return None
    user = db.get(User, user_id)
    membership = db.get(TeamMember, (team_id, user_id))
    team = db.get(Team, team_id)
    if user is None or membership is None or team is None:
        return None
    return Actor(
        user_id=user_id,
        email=user.email,
        name=user.name,
        team_id=team_id,
        team_name=team.name,
        role=membership.role,
        via=via,
        credential_id=0,
    )


def actor_from_api_token(db: DbSession, token: str) -> Actor:
    from sqlmodel import select

    now = utcnow()
    row = db.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token.strip()))).first()
    if row is None or row.revoked_at is not None:
        raise NotLoggedIn(
            "AUTOPOSTR_TOKEN is not a valid token (revoked or mistyped): create a new one "
            "with `autopostr auth token create`"
        )
    if row.expires_at is not None and row.expires_at <= now:
        raise NotLoggedIn(
            f"AUTOPOSTR_TOKEN expired at {row.expires_at.isoformat()}: create a new one with "
            "`autopostr auth token create`"
        )
    user = db.get(User, row.user_id)
    if user is None:
        raise NotLoggedIn("AUTOPOSTR_TOKEN belongs to a user who no longer exists")
    if row.last_used_at is None or now - row.last_used_at > SESSION_TOUCH_INTERVAL:
        row.last_used_at = now
        db.add(row)
    assert row.id is not None
    return _actor_for(db, user, "token", row.id)


def actor_from_session_token(db: DbSession, token: str) -> Actor:
    from sqlmodel import select

    now = utcnow()
    row = db.exec(select(Session).where(Session.token_hash == hash_token(token.strip()))).first()
    if row is None:
        raise NotLoggedIn("your session was revoked or signed out: run `autopostr auth login`")
    user = db.get(User, row.user_id)
    if user is None:
        raise NotLoggedIn("your session's user no longer exists: run `autopostr auth login`")
    if row.expires_at <= now:
        # The hourly cleanup deletes it; the raise rolls this transaction back anyway.
        raise NotLoggedIn(
            f"your session as {user.email} has expired: run `autopostr auth login --email "
            f"{user.email}`"
        )
    if now - row.last_used_at > SESSION_TOUCH_INTERVAL:
        row.last_used_at = now
        row.expires_at = now + SESSION_LIFETIME
        db.add(row)
    assert row.id is not None
    return _actor_for(db, user, "session", row.id)


def list_sessions(db: DbSession, user_id: int) -> list[Session]:
    from sqlmodel import col, select

    return list(
        db.exec(
            select(Session)
            .where(Session.user_id == user_id, Session.expires_at > utcnow())
            .order_by(col(Session.id))
        )
    )


def find_session(db: DbSession, user_id: int, session_id: int) -> Session:
    """One of the user's own sessions (another user's is not found)."""
    row = db.get(Session, session_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"session {session_id} not found: see `autopostr auth sessions`")
    return row


def revoke_session(db: DbSession, user_id: int, session_id: int) -> Session:
    row = find_session(db, user_id, session_id)
    db.delete(row)
    return row


def create_api_token(
    db: DbSession, user_id: int, name: str, expires_in: timedelta | None
) -> tuple[ApiToken, str]:
    name = name.strip()
    if not name:
        raise InvalidInput("--name: give the token a name, e.g. `--name ci`")
    token = new_token(API_TOKEN_PREFIX)
    now = utcnow()
    row = ApiToken(
        user_id=user_id,
        name=name[:200],
        token_hash=hash_token(token),
        prefix=token[:10],
        created_at=now,
        expires_at=now + expires_in if expires_in else None,
    )
    db.add(row)
    db.flush()
    return row, token


def list_api_tokens(db: DbSession, user_id: int) -> list[ApiToken]:
    from sqlmodel import col, select

    return list(
        db.exec(select(ApiToken).where(ApiToken.user_id == user_id).order_by(col(ApiToken.id)))
    )


def find_api_token(db: DbSession, user_id: int, token_id: int) -> ApiToken:
    """One of the user's own access tokens (another user's is not found)."""
    row = db.get(ApiToken, token_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"token {token_id} not found: see `autopostr auth token list`")
    return row


def revoke_api_token(db: DbSession, user_id: int, token_id: int) -> ApiToken:
    row = find_api_token(db, user_id, token_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.add(row)
    return row


def cleanup_expired_sessions(db: DbSession, now: datetime | None = None) -> int:
    """Delete sessions past their expiry; the daemon runs this hourly."""
    from sqlalchemy import delete
    from sqlmodel import col

    result = db.execute(delete(Session).where(col(Session.expires_at) <= (now or utcnow())))
    return int(getattr(result, "rowcount", 0) or 0)


def token_status(row: ApiToken, now: datetime | None = None) -> str:
    now = now or utcnow()
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"
