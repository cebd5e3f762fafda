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
from autopostr.identity import Actor, actor_from_api_token, actor_from_session_token
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


def current_actor(settings: Settings, db: Database, session: DbSession) -> Actor:
    """The signed-in user; raises NotLoggedIn (exit 4) with the command that fixes it."""
    token = settings.get("token")
    if token:
        return actor_from_api_token(session, token)
    session_token = load_session_token(settings, db)
    if not session_token:
        raise NotLoggedIn()
    return actor_from_session_token(session, session_token)
