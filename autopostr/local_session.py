"""Which user this machine acts as: `AUTOPOSTR_TOKEN`, else the stored session token.

The session token is stored per database, so one home can sign in to a
laptop's SQLite file and to the team's PostgreSQL without mixing them up.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from autopostr.config import Settings
from autopostr.db import Database
from autopostr.errors import NotLoggedIn
from autopostr.identity import (
    Actor,
    actor_from_api_token,
    actor_from_session_token,
    stored_password_hash,
)
from autopostr.models import User
from autopostr.secretstore import SecretStore, Stored

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession


def _secret_name(db: Database) -> str:
    fingerprint = hashlib.sha256(db.url.display.encode("utf-8")).hexdigest()[:16]
    return f"session-{fingerprint}"


def _store(settings: Settings) -> SecretStore:
    return SecretStore(settings.home, settings.get("keyring"))


def save_session_token(settings: Settings, db: Database, token: str) -> Stored:
    return _store(settings).set(_secret_name(db), token)


def load_session_token(settings: Settings, db: Database) -> str | None:
    return _store(settings).get(_secret_name(db))[0]


def forget_session_token(settings: Settings, db: Database) -> None:
    _store(settings).delete(_secret_name(db))


def solo_user(db: Database, session: DbSession) -> User | None:
    """The one user of a local SQLite file, who may sign back in without a password
    (whoever can open the file owns its data already); None anywhere else."""
    from sqlmodel import select

    if db.url.dialect != "sqlite":
        return None
    users = list(session.exec(select(User).limit(2)))
    return users[0] if len(users) == 1 else None


def sign_in_fix(db: Database, session: DbSession) -> str:
    """The command that signs this machine in, naming the user where there is only one."""
    user = solo_user(db, session)
    if user is None:
        return "run `autopostr auth login --email YOUR-EMAIL` (or set AUTOPOSTR_TOKEN)"
    if stored_password_hash(session, user) is None:
        return (
            f"run `autopostr init` to sign in as {user.email} again "
            f"(or `autopostr auth login --email {user.email}`)"
        )
    return f"run `autopostr auth login --email {user.email}`"


def current_actor(settings: Settings, db: Database, session: DbSession) -> Actor:
    """The signed-in user; raises NotLoggedIn (exit 4) with the command that fixes it."""
    token = settings.get("token")
    if token:
        return actor_from_api_token(session, token)
    session_token = load_session_token(settings, db)
    try:
        if not session_token:
            raise NotLoggedIn("you are not signed in")
        return actor_from_session_token(session, session_token)
    except NotLoggedIn as exc:
        # Why (signed out, expired …), then the fix for this database and its users.
        reason = exc.message.partition(": run ")[0]
        raise NotLoggedIn(f"{reason}: {sign_in_fix(db, session)}") from None


def signed_in_actor(settings: Settings, db: Database, session: DbSession) -> Actor | None:
    try:
        return current_actor(settings, db, session)
    except NotLoggedIn:
        return None
