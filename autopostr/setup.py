"""`autopostr init`: home, schema, key and — on an empty database — the solo user.

Running it again is safe: each step only does what is still missing.
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from autopostr.config import Settings
from autopostr.db import Database
from autopostr.identity import count_users, create_user, start_session
from autopostr.keys import (
    KeySet,
    check_probe,
    create_keyset,
    load_keyset,
    require_database_key,
    write_probe,
)
from autopostr.local_session import save_session_token, sign_in_fix, signed_in_actor, solo_user
from autopostr.migrate import upgrade
from autopostr.secretstore import Stored, ensure_private_dir


@dataclass
class InitResult:
    home: str
    database: str
    schema_before: str | None
    schema_after: str | None
    key_source: str
    key_created: bool
    user_created: str | None = None
    signed_in_as: str | None = None
    notes: list[str] = field(default_factory=list)


def local_username() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "me"


def session_label() -> str:
    return f"{local_username()}@{socket.gethostname()}"


def _check_key_fits(db: Database, keyset: KeySet | None) -> None:
    """Refuse a key that cannot open a database set up before, and never replace a lost one."""
    require_database_key(db, keyset)  # names the key the database needs and `keys import`


def _check_home_usable(home: Path) -> None:
    """Fail early, without creating anything, when the home can never be a writable folder."""
    from autopostr.secretstore import HomeNotWritable

    existing = home
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise HomeNotWritable(
            f"cannot use AUTOPOSTR_HOME {home}: {existing} is not a writable folder. "
            "Point AUTOPOSTR_HOME at a writable folder"
        )


def initialize(settings: Settings) -> InitResult:
    # A bad home, database URL or a corrupt, wrong or missing key fails here, before
    # anything is written.
    _check_home_usable(settings.home)
    db = Database(settings)
    keyset = load_keyset(settings)
    _check_key_fits(db, keyset)
    home = ensure_private_dir(settings.home)
    probe = home / ".write-test"
    try:
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        from autopostr.secretstore import HomeNotWritable

        raise HomeNotWritable(
            f"cannot write to AUTOPOSTR_HOME {home}: {exc.strerror or exc}. "
            "Point AUTOPOSTR_HOME at a writable folder"
        ) from None

    before, after = upgrade(db)
    result = InitResult(
        home=str(home),
        database=db.url.display,
        schema_before=before,
        schema_after=after,
        key_source=keyset.source if keyset else "",
        key_created=keyset is None,
    )
    if keyset is None:
        keyset, stored = create_keyset(settings)
        result.key_source = stored.where
        if stored.where != "keyring":
            result.notes.append(
                f"No keyring backend works here, so the encryption key is in {stored.where} "
                "(mode 0600). Back it up: without it, stored account tokens cannot be decrypted."
            )

    with db.session() as session:
        if check_probe(session, keyset) is None:
            write_probe(session, keyset)
        kept: Stored | None = None
        if count_users(session) == 0:
            name = local_username()
            user = create_user(session, f"{name}@localhost", name, password=None)
            _row, token = start_session(session, user, session_label())
            kept = save_session_token(settings, db, token)
            result.user_created = user.email
            result.signed_in_as = user.email
        elif not settings.get("token") and signed_in_actor(settings, db, session) is None:
            # Signed out, or the home moved: the solo user of a SQLite file signs back in.
            solo = solo_user(db, session)
            if solo is not None and solo.password_hash is None:
                _row, token = start_session(session, solo, session_label())
                kept = save_session_token(settings, db, token)
                result.signed_in_as = solo.email
            else:
                result.notes.append(f"You are not signed in: {sign_in_fix(db, session)}.")
        if kept is not None and kept.new_file and not result.notes:
            result.notes.append(
                f"No keyring backend works here, so your session token is in {kept.where} "
                "(mode 0600)."
            )
    return result
