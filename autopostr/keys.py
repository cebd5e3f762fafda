"""Encryption keys, and sealing: AES-256-GCM for every secret autopostr stores.

A ciphertext reads `v1.<key id>.<base64url(nonce + ciphertext + tag)>`. The key
id is a fingerprint of the key, so any holder of a key set can tell which key
sealed a value and old keys stay readable during a rotation. Associated data
binds a ciphertext to its table, column and row (`Slot`): a token copied into
another row fails to decrypt. An account's tokens have columns of their own;
its other credentials (app passwords, page tokens, a webhook's URL) sit sealed
in its `extra` JSON, marked with `SEALED_PREFIX`.

Sealed boxes (`v2.<key id>.<base64url(ephemeral public key + nonce + ciphertext + tag)>`):
once `keys migrate` has run on a database, secrets are sealed to its public key (X25519,
published in `app_meta`) instead: an ephemeral X25519 key agreement, HKDF-SHA256, then
AES-256-GCM with the same associated data. Anyone connected may seal (a member adding
an account); only a holder of the key set opens, since the private key is derived from
the key with that id (HKDF), so the daemons' key set opens both formats and rotating it
re-seals everything to a new public key.

Keys come from, in order: `AUTOPOSTR_ENCRYPTION_KEY` (comma-separated, newest
first), systemd's `$CREDENTIALS_DIRECTORY/autopostr-encryption-key`, then the home's
secret store: keyring, or the 0600 file written where keyring could not take them (a
file, when there is one, is the newer: a write to keyring removes it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopostr.config import Settings, is_secret
from autopostr.db import Database
from autopostr.errors import EncryptionKeyError, InvalidInput, KeyMissing, NotFound
from autopostr.secretstore import SecretStore, Stored

if TYPE_CHECKING:
    from sqlmodel import Session

KEYSET_SECRET = "encryption-keys"
CREDENTIAL_NAME = "autopostr-encryption-key"
PROBE_META_KEY = "key_probe"
PROBE_PLAINTEXT = "autopostr key probe"
VERSION = "v1"
SEALED_BOX_VERSION = "v2"
PUBLIC_KEY_META_KEY = "sealing_public_key"  # app_meta: `<key id>.<base64 public key>`

IMPORT_HINT = (
    "import it with `autopostr keys import` (pipe in what `autopostr keys export` prints on "
    "a machine that has it), set AUTOPOSTR_ENCRYPTION_KEY to it, or restore your backup of it"
)

# An account's token columns; its other credentials are sealed inside `extra`.
TOKEN_COLUMNS = ("access_token", "refresh_token")
# Every encrypted column, so a rotation can find them all: (table, column, primary key).
ENCRYPTED_COLUMNS: list[tuple[str, str, str]] = [
    ("social_accounts", column, "id") for column in TOKEN_COLUMNS
]
# Marks a sealed value among the clear ones of a JSON column.
SEALED_PREFIX = "sealed:"


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"autopostr-key-id" + key).hexdigest()[:12]


def decode_key(text: str, source: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise EncryptionKeyError(
            f"the encryption key from {source} is not valid base64: it must be base64 of 32 "
            "random bytes (e.g. `openssl rand -base64 32`)"
        ) from None
    if len(key) != 32:
        raise EncryptionKeyError(
            f"the encryption key from {source} is {len(key)} bytes; it must be 32 bytes "
            "(base64 of `openssl rand -base64 32`)"
        )
    return key


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


@dataclass
class KeySet:
    active: str
    keys: dict[str, bytes] = field(default_factory=dict)
    source: str = ""
    # Read from `keys export --team`: one team's key, which never becomes the active one.
    team_only: bool = False

    @classmethod
    def of(cls, keys: list[bytes], source: str) -> KeySet:
        return cls(key_id(keys[0]), {key_id(k): k for k in keys}, source)

    def to_json(self) -> str:
        ordered = [self.active] + [kid for kid in self.keys if kid != self.active]
        return json.dumps(
            {"active": self.active, "keys": [encode_key(self.keys[k]) for k in ordered]}
        )

    @classmethod
    def from_json(cls, text: str, source: str) -> KeySet:
        try:
            data = json.loads(text)
            keys = [decode_key(k, source) for k in data["keys"]]
            active = str(data["active"])
        except EncryptionKeyError:
            raise
        except (ValueError, KeyError, TypeError):
            # A bare base64 key (hand-written file) is accepted too.
            return cls.of([decode_key(text, source)], source)
        keyset = cls.of(keys, source)
        if active in keyset.keys:
            keyset.active = active
        return keyset

    def encrypt(self, plaintext: str, context: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[self.active]).encrypt(
            nonce, plaintext.encode("utf-8"), context.encode("utf-8")
        )
        blob = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{VERSION}.{self.active}.{blob}"

    def public_key(self) -> PublicKey:
        """The public key members seal to; its private half is derived from the active key."""
        return PublicKey(self.active, _public_bytes(self.keys[self.active]))

    def decrypt(self, ciphertext: str, context: str) -> str:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            version, kid, blob = ciphertext.split(".", 2)
        except ValueError:
            raise EncryptionKeyError(
                f"a stored secret ({context}) is not an autopostr ciphertext"
            ) from None
        if version == SEALED_BOX_VERSION:
            return self._open_box(kid, blob, context)
        if version != VERSION:
            raise EncryptionKeyError(f"a stored secret ({context}) uses unknown format {version!r}")
        key = self.keys.get(kid)
        if key is None:
            raise KeyMissing(
                f"a stored secret ({context}) was sealed with key {kid}, which is not among the "
                f"keys from {self.source}: {IMPORT_HINT}",
                key_id=kid,
            )
        try:
            raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) < 12 + 16:  # nonce + tag: a truncated or mangled value
            raise EncryptionKeyError(
                f"a stored secret ({context}) is not an autopostr ciphertext: it was truncated "
                "or altered"
            )
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode("utf-8")).decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise EncryptionKeyError(
                f"a stored secret ({context}) does not decrypt with key {kid}: it was altered "
                "or copied from another row"
            ) from None

    def _open_box(self, kid: str, blob: str, context: str) -> str:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key = self.keys.get(kid)
        if key is None:
            raise KeyMissing(
                f"a stored secret ({context}) was sealed to the public key of key {kid}, whose "
                f"private half is not among the keys from {self.source}: only the daemons' "
                f"machines hold it; {IMPORT_HINT}",
                key_id=kid,
            )
        raw = _b64decode(blob)
        if len(raw) < 32 + 12 + 16:
            raise EncryptionKeyError(
                f"a stored secret ({context}) is not an autopostr sealed box: it was truncated "
                "or altered"
            )
        ephemeral, nonce, sealed = raw[:32], raw[32:44], raw[44:]
        private = _private_key(key)
        recipient = _public_bytes(key)
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral))
        try:
            box_key = _box_key(shared, ephemeral, recipient)
            return AESGCM(box_key).decrypt(nonce, sealed, context.encode("utf-8")).decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise EncryptionKeyError(
                f"a stored secret ({context}) does not open with key {kid}: it was altered "
                "or copied from another row"
            ) from None


def _b64decode(blob: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
    except (binascii.Error, ValueError):
        return b""


def _private_key(key: bytes) -> Any:
    """The X25519 private key of a key set's key: derived, so nothing new to keep or copy."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    seed = HKDF(hashes.SHA256(), 32, salt=None, info=b"autopostr x25519 private key").derive(key)
    return X25519PrivateKey.from_private_bytes(seed)


def _public_bytes(key: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(
        _private_key(key)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def _box_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    # Both public keys in the salt bind the box key to this exchange (as libsodium's
    # sealed boxes bind their nonce to them).
    return HKDF(
        hashes.SHA256(), 32, salt=ephemeral + recipient, info=b"autopostr sealed box v2"
    ).derive(shared)


@dataclass(frozen=True)
class PublicKey:
    """A database's public key: seals secrets that only its key set's holders open."""

    kid: str
    raw: bytes

    def to_text(self) -> str:
        return f"{self.kid}.{base64.b64encode(self.raw).decode('ascii')}"

    @classmethod
    def from_text(cls, text: str) -> PublicKey:
        kid, _, encoded = text.partition(".")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if not kid or len(raw) != 32:
            raise EncryptionKeyError(
                "the database's public key (app_meta sealing_public_key) is damaged: run "
                "`autopostr keys migrate` on a daemon's machine to publish it again"
            )
        return cls(kid, raw)

    def encrypt(self, plaintext: str, context: str) -> str:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.x25519 import (
            X25519PrivateKey,
            X25519PublicKey,
        )
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        ephemeral = X25519PrivateKey.generate()
        ephemeral_public = ephemeral.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(self.raw))
        nonce = os.urandom(12)
        sealed = AESGCM(_box_key(shared, ephemeral_public, self.raw)).encrypt(
            nonce, plaintext.encode("utf-8"), context.encode("utf-8")
        )
        blob = base64.urlsafe_b64encode(ephemeral_public + nonce + sealed).decode("ascii")
        return f"{SEALED_BOX_VERSION}.{self.kid}.{blob.rstrip('=')}"


# What seals: a key set (symmetric, v1) or a database's public key (sealed box, v2).
Sealer = KeySet | PublicKey


@dataclass(frozen=True)
class Slot:
    """Where a sealed value lives; its ciphertext opens there and nowhere else. Its text
    is the associated data of every stored secret: changing it locks them all away."""

    table: str
    column: str  # `extra.<key>` for a credential inside an account's extra JSON
    row: int | str

    def __str__(self) -> str:  # the associated data: `social_accounts.access_token:12`
        return f"{self.table}.{self.column}:{self.row}"

    @classmethod
    def token(cls, account_id: int, column: str) -> Slot:
        return cls("social_accounts", column, account_id)

    @classmethod
    def extra(cls, account_id: int, key: str) -> Slot:
        return cls("social_accounts", f"extra.{key}", account_id)


PROBE_SLOT = Slot("app_meta", "value", PROBE_META_KEY)


def seal(keyset: Sealer, plaintext: str, slot: Slot) -> str:
    return keyset.encrypt(plaintext, str(slot))


def unseal(keyset: KeySet, ciphertext: str, slot: Slot) -> str:
    return keyset.decrypt(ciphertext, str(slot))


def is_sealed(value: object) -> bool:
    """A value of a JSON column that `seal_extra` wrote."""
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def seal_extra(keyset: Sealer, account_id: int, key: str, value: str) -> str:
    return SEALED_PREFIX + seal(keyset, value, Slot.extra(account_id, key))


def unseal_extra(keyset: KeySet, account_id: int, key: str, value: str) -> str:
    return unseal(keyset, value[len(SEALED_PREFIX) :], Slot.extra(account_id, key))


def is_secret_extra(key: str, platform: str = "") -> bool:
    """Whether an account's extra field is a credential, kept sealed like its tokens.

    The name decides first, by the rule settings are masked by (`config.is_secret`);
    a platform may declare more, whose names do not say so (a webhook's URL)."""
    if is_secret(key):
        return True
    if not platform:
        return False
    from autopostr.platforms.registry import get_platform_class

    try:
        return key in get_platform_class(platform).secret_extras
    except InvalidInput:  # a plugin that is gone: its names alone decide
        return False


def unsealed_extras(platform: str, extra: dict[str, Any]) -> list[str]:
    """Credential fields of `extra` still kept in clear (written by an older autopostr)."""
    return sorted(
        key
        for key, value in extra.items()
        if isinstance(value, str)
        and value
        and not is_sealed(value)
        and is_secret_extra(key, platform)
    )


def _store(settings: Settings) -> SecretStore:
    return SecretStore(settings.home, settings.get("keyring"))


def load_keyset(settings: Settings) -> KeySet | None:
    """The keys from the first place that has any, or None when there are none yet."""
    configured = settings.get("encryption_key")
    if configured:
        source = settings.source("encryption_key")
        parts = [p for p in configured.split(",") if p.strip()]
        return KeySet.of([decode_key(p, source) for p in parts], source)
    credentials_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if credentials_dir:
        path = Path(credentials_dir) / CREDENTIAL_NAME
        if path.exists():
            return KeySet.from_json(path.read_text(encoding="utf-8"), f"systemd credential {path}")
    text, where = _store(settings).get(KEYSET_SECRET)
    if text is None:
        return None
    return KeySet.from_json(text, where)


def require_keyset(settings: Settings) -> KeySet:
    keyset = load_keyset(settings)
    if keyset is None:
        raise EncryptionKeyError(
            "no encryption key: set AUTOPOSTR_ENCRYPTION_KEY (base64 of 32 bytes) or run "
            "`autopostr init` to create one; to use a team's database, `autopostr keys import` "
            "the keys exported on a machine that has them"
        )
    return keyset


def create_keyset(settings: Settings) -> tuple[KeySet, Stored]:
    keyset = KeySet.of([os.urandom(32)], "")
    stored = _store(settings).set(KEYSET_SECRET, keyset.to_json())
    keyset.source = stored.where
    return keyset, stored


def published_key(session: Session) -> PublicKey | None:
    """The public key secrets are sealed to here, once `keys migrate` ran; else None."""
    from autopostr.models import AppMeta

    row = session.get(AppMeta, PUBLIC_KEY_META_KEY)
    return PublicKey.from_text(row.value) if row is not None else None


def publish_key(session: Session, public: PublicKey) -> None:
    from autopostr.models import AppMeta, utcnow

    row = session.get(AppMeta, PUBLIC_KEY_META_KEY)
    if row is None:
        session.add(AppMeta(key=PUBLIC_KEY_META_KEY, value=public.to_text()))
    else:
        row.value = public.to_text()
        row.updated_at = utcnow()
        session.add(row)


def sealer_for(settings: Settings, session: Session, team_id: int | None = None) -> Sealer:
    """What new secrets are sealed with: the team's own public key where it has one, else
    the database's where one is published (no private key needed: members seal, daemons
    open), else this machine's key set."""
    own = team_key(session, team_id) if team_id is not None else None
    if own is not None:
        return own
    public = published_key(session)
    return public if public is not None else require_keyset(settings)


def team_key(session: Session, team_id: int) -> PublicKey | None:
    """The team's own public key (`keys migrate --team`), or None."""
    from autopostr.models import Team

    team = session.get(Team, team_id)
    if team is None or not team.sealing_public_key:
        return None
    return PublicKey.from_text(team.sealing_public_key)


def teams_keyed_here(session: Session, keyset: KeySet) -> list[str]:
    """`name (id)` of the teams whose own key is in `keyset`."""
    from sqlmodel import col, select

    from autopostr.models import Team

    teams = session.exec(
        select(Team).where(col(Team.sealing_public_key).is_not(None)).order_by(col(Team.id))
    ).all()
    return [
        f"{team.name} ({team.id})"
        for team in teams
        if str(team.sealing_public_key).partition(".")[0] in keyset.keys
    ]


def teams_out_of_reach(settings: Settings, db: Database) -> list[int]:
    """`unservable_teams` for this machine's keys; none on SQLite (one person's)."""
    if db.url.dialect != "postgresql":
        return []
    with db.engine.connect() as conn:
        return unservable_teams(conn, load_keyset(settings))


def unservable_teams(conn: Any, keyset: KeySet | None) -> list[int]:
    """The teams whose account secrets this machine's keys cannot open, which it leaves to
    the daemons that hold their keys: those with a key of their own that is not here,
    and, on a machine that holds some team's key but not the database's (a team's own
    daemon host), those without one. A machine holding neither (the wrong key) skips
    nothing: its posts wait for the key and it says so (`publishing._wait_for_key`)."""
    from sqlalchemy import text

    held = keyset.keys if keyset is not None else {}
    probe = conn.execute(
        text("SELECT value FROM app_meta WHERE key = :key"), {"key": PROBE_META_KEY}
    ).scalar()
    teams = _team_key_ids(conn)
    team_host = (
        probe is not None
        and probe_key_id(str(probe)) not in held
        and any(kid in held for kid in teams.values() if kid)
    )
    return [team_id for team_id, kid in teams.items() if (kid not in held if kid else team_host)]


def _team_key_ids(conn: Any) -> dict[int, str | None]:
    """Every team's id, with the id of its own key (None: it has none)."""
    from sqlalchemy import text

    rows = conn.execute(text("SELECT id, sealing_public_key FROM teams ORDER BY id")).all()
    return {
        int(team_id): str(public).partition(".")[0] if public else None for team_id, public in rows
    }


def write_probe(session: Session, keyset: KeySet) -> None:
    from autopostr.models import AppMeta, utcnow

    row = session.get(AppMeta, PROBE_META_KEY)
    value = seal(keyset, PROBE_PLAINTEXT, PROBE_SLOT)
    if row is None:
        session.add(AppMeta(key=PROBE_META_KEY, value=value))
    else:
        row.value = value
        row.updated_at = utcnow()
        session.add(row)


def probe_key_id(probe: str) -> str:
    return probe.split(".")[1] if probe.count(".") >= 2 else "?"


def require_database_key(db: Database, keyset: KeySet | None) -> None:
    """Stop before any work when this machine's keys cannot open the database's secrets
    (a daemon would otherwise spend every destination's attempts on them)."""
    from sqlalchemy import inspect, text

    if db.revision() is None:
        return
    with db.engine.connect() as conn:
        if not inspect(conn).has_table("app_meta"):
            return
        probe = conn.execute(
            text("SELECT value FROM app_meta WHERE key = :key"), {"key": PROBE_META_KEY}
        ).scalar()
    if probe is None:
        return
    kid = probe_key_id(str(probe))
    if keyset is not None and kid not in keyset.keys and _holds_a_team_key(db, keyset):
        return  # it serves the teams whose own keys it holds (`unservable_teams`)
    if keyset is None or kid not in keyset.keys:
        here = (
            f"it has key(s) {', '.join(sorted(keyset.keys))} from {keyset.source}"
            if keyset
            else "it has no key"
        )
        raise KeyMissing(
            f"this database's secrets are sealed with key {kid}, which is not on this machine "
            f"({here}): {IMPORT_HINT}",
            key_id=kid,
        )
    # A key id is the key's fingerprint: holding that id is holding the key. Opening the
    # probe is left to `doctor` (a damaged probe); a daemon that starts or answers its
    # health checks then loads no cipher until a secret is needed.


def _holds_a_team_key(db: Database, keyset: KeySet) -> bool:
    from sqlalchemy import inspect

    with db.engine.connect() as conn:
        columns = {column["name"] for column in inspect(conn).get_columns("teams")}
        if "sealing_public_key" not in columns:  # a schema from before team keys
            return False
        return any(kid in keyset.keys for kid in _team_key_ids(conn).values() if kid)


def check_probe(session: Session, keyset: KeySet) -> bool | None:
    """True if the key opens this database's probe, None if there is no probe yet."""
    from autopostr.models import AppMeta

    row = session.get(AppMeta, PROBE_META_KEY)
    if row is None:
        return None
    return unseal(keyset, row.value, PROBE_SLOT) == PROBE_PLAINTEXT


@dataclass
class RotationResult:
    old_keys: list[str]
    new_key: str
    reencrypted: int
    source: str
    env_instructions: bool


def _reencrypt_all(
    session: Session, old: KeySet, new: KeySet, *, sealed_box: bool | None = None
) -> int:
    """Every stored secret opened with `old` and sealed again with `new` (to its public key
    when the database seals to one, or when `sealed_box` says so). Secrets of teams with
    a key of their own are theirs: `keys migrate --team` re-seals those."""
    if sealed_box is None:
        sealed_box = published_key(session) is not None
    target: Sealer = new.public_key() if sealed_box else new
    _lock_secrets(session)
    count = _reseal_accounts(
        session,
        old,
        target,
        "team_id NOT IN (SELECT id FROM teams WHERE sealing_public_key IS NOT NULL)",
        {},
    )
    check_probe(session, old)  # raises when the old key is not this database's key
    write_probe(session, new)
    if sealed_box:
        publish_key(session, new.public_key())
    return count


def _lock_secrets(session: Session) -> None:
    from sqlalchemy import text

    if session.get_bind().dialect.name == "postgresql":
        # Writers of tokens wait for the re-sealing, so none lands under a key being retired.
        for table in sorted({table for table, _, _ in ENCRYPTED_COLUMNS}):
            session.execute(text(f"LOCK TABLE {table} IN EXCLUSIVE MODE"))


def _reseal_accounts(
    session: Session, old: KeySet, new: Sealer, where: str, params: dict[str, Any]
) -> int:
    """The secrets of the accounts `where` holds, opened with `old` and sealed with `new`:
    their token columns and the credentials inside their `extra` JSON (app passwords, page
    tokens, webhook URLs); those an older autopostr kept in clear are sealed on the way."""
    from sqlalchemy import text

    count = 0
    rows = session.execute(
        text(
            f"SELECT id, platform, extra, {', '.join(TOKEN_COLUMNS)} FROM social_accounts "
            f"WHERE {where} ORDER BY id"
        ),
        params,
    ).all()
    for row_id, platform, raw, *tokens in rows:
        values: dict[str, Any] = {}
        for column, ciphertext in zip(TOKEN_COLUMNS, tokens, strict=True):
            if ciphertext is not None:
                slot = Slot.token(row_id, column)
                values[column] = seal(new, unseal(old, ciphertext, slot), slot)
        extra = json.loads(raw or "{}")
        changed = 0
        for key, value in extra.items():
            if is_sealed(value):
                extra[key] = seal_extra(new, row_id, key, unseal_extra(old, row_id, key, value))
                changed += 1
        for key in unsealed_extras(platform, extra):
            extra[key] = seal_extra(new, row_id, key, extra[key])
            changed += 1
        if changed:
            values["extra"] = json.dumps(extra, sort_keys=True)
        if not values:
            continue
        count += len(values) - (1 if changed else 0) + changed
        assignments = ", ".join(f"{column} = :{column}" for column in values)
        session.execute(
            text(f"UPDATE social_accounts SET {assignments} WHERE id = :id"),
            {**values, "id": row_id},
        )
    return count


def check_rotation(settings: Settings, new_key_given: bool) -> tuple[KeySet, bool]:
    """The key set a rotation would replace, and whether its new key is saved here; refused
    (before anyone is asked) when the key lives elsewhere and no new key is given."""
    old = require_keyset(settings)
    configured = bool(settings.get("encryption_key"))
    # Keys from the environment or a systemd credential are not ours to write: a key
    # generated here could never be saved there, and every secret would be lost.
    managed_here = not configured and not old.source.startswith("systemd")
    if not managed_here and not new_key_given:
        where = "AUTOPOSTR_ENCRYPTION_KEY" if configured else "the systemd credential"
        raise InvalidInput(
            f"the encryption key comes from {old.source}: pass the new key on stdin with "
            "`--new-key-stdin` (e.g. `openssl rand -base64 32 | autopostr keys rotate "
            f"--new-key-stdin --yes`), then set {where} to it"
        )
    return old, managed_here


def rotate(settings: Settings, db: Database, new_key_text: str | None) -> RotationResult:
    """Re-encrypt every stored secret under a new key in one transaction.

    The new key is saved beside the old ones before the transaction and the old
    ones are dropped only after it commits, so a crash at any point leaves every
    secret readable.
    """
    old, managed_here = check_rotation(settings, bool(new_key_text))
    new_key = decode_key(new_key_text, "stdin") if new_key_text else os.urandom(32)
    new_kid = key_id(new_key)
    # A key already in the set (say "new,old" in the environment) is fine: every
    # secret simply ends up sealed with it.
    both = KeySet(new_kid, {new_kid: new_key, **old.keys}, old.source)
    store = _store(settings)
    if managed_here:
        pending = KeySet(old.active, {**old.keys, new_kid: new_key}, old.source)
        store.set(KEYSET_SECRET, pending.to_json())

    with db.session() as session:
        count = _reencrypt_all(session, old, both)
        # Teams' own keys are not the database's to retire: they stay in the set.
        team_kids = set(_team_key_ids(session.connection()).values())

    if managed_here:
        kept = {kid: key for kid, key in old.keys.items() if kid in team_kids}
        store.set(KEYSET_SECRET, KeySet(new_kid, {new_kid: new_key, **kept}, old.source).to_json())
    return RotationResult(
        old_keys=sorted(old.keys),
        new_key=new_kid,
        reencrypted=count,
        source=old.source,
        env_instructions=not managed_here,
    )


def export_keys(settings: Settings, db: Database | None = None, team: str | None = None) -> str:
    """The key set as `keys import` reads it (the key file's format too); with `team`,
    only that team's own key, for the daemons that are to publish for it alone."""
    keyset = require_keyset(settings)
    if team is None:
        return keyset.to_json()
    assert db is not None
    with db.session() as session:
        found = _find_team(session, team)
        team_id, name = int(found.id), str(found.name)
        public = team_key(session, team_id)
    if public is None:
        raise InvalidInput(
            f"team {name!r} has no key of its own; give it one with "
            f"`autopostr keys migrate --team {team_id}`, or export the whole key set"
        )
    key = keyset.keys.get(public.kid)
    if key is None:
        raise KeyMissing(
            f"team {name!r}'s key {public.kid} is not among the keys from "
            f"{keyset.source}: export it where `keys migrate --team` ran",
            key_id=public.kid,
        )
    return json.dumps(
        {
            "active": public.kid,
            "keys": [encode_key(key)],
            "team": {"id": str(team_id), "name": name},
        }
    )


def _find_team(session: Session, team: str) -> Any:
    """A team by id or name, among every team this connection sees (a daemon's or the
    administrative URL sees them all)."""
    from sqlmodel import col, func, select

    from autopostr.models import Team

    wanted = team.strip()
    if wanted.isdigit():
        found = session.get(Team, int(wanted))
        if found is not None:
            return found
    matches = session.exec(
        select(Team).where(func.lower(col(Team.name)) == wanted.lower()).order_by(col(Team.id))
    ).all()
    if len(matches) == 1:
        return matches[0]
    if matches:
        ids = ", ".join(str(t.id) for t in matches)
        raise InvalidInput(f"{len(matches)} teams are named {team!r} (ids {ids}): name one by id")
    raise NotFound(f"team {team!r} not found in this database")


@dataclass
class TeamMigrationResult:
    team_id: int
    team: str
    key: str
    public_key: str
    previous_key: str | None
    resealed: int


def migrate_team(settings: Settings, db: Database, team: str) -> TeamMigrationResult:
    """Give a team a sealing key of its own and re-seal its accounts' secrets to it, in one
    transaction: then only the daemons given that key (`keys export --team`) open them,
    and the daemons that hold the database's key no longer do. Run again, it replaces the
    team's key (the old one must be here to open what it sealed).

    The new key is saved with this machine's keys before the transaction, so a crash at
    any point leaves every secret readable."""
    if db.url.dialect != "postgresql":
        raise InvalidInput(
            "a team's own key is for a database that teams share (PostgreSQL); on SQLite, "
            "`autopostr keys migrate` is all there is"
        )
    old, managed_here = check_rotation(settings, new_key_given=False)
    if not managed_here:
        raise InvalidInput(
            f"the keys here come from {old.source}, which autopostr cannot add a key to: run "
            "`keys migrate --team` where the key set is kept in keyring or the key file, then "
            "`keys export --team` it to the daemons"
        )
    new_key = os.urandom(32)
    new_kid = key_id(new_key)
    public = PublicKey(new_kid, _public_bytes(new_key))
    with db.session() as session:
        team_id = int(_find_team(session, team).id)  # before a key is saved for nothing
    _store(settings).set(
        KEYSET_SECRET, KeySet(old.active, {**old.keys, new_kid: new_key}, old.source).to_json()
    )
    with db.session() as session:
        _lock_secrets(session)
        found = _find_team(session, str(team_id))
        name, previous = found.name, found.sealing_public_key
        count = _reseal_accounts(session, old, public, "team_id = :team", {"team": team_id})
        found.sealing_public_key = public.to_text()
        session.add(found)
    return TeamMigrationResult(
        team_id=team_id,
        team=name,
        key=new_kid,
        public_key=public.to_text(),
        previous_key=previous.partition(".")[0] if previous else None,
        resealed=count,
    )


def parse_export(text: str) -> KeySet:
    """What `keys export` printed, or keys as AUTOPOSTR_ENCRYPTION_KEY takes them
    (base64, comma-separated, the active one first). Never echoes what it read."""
    text = text.strip()
    if not text:
        raise InvalidInput("stdin: nothing to import; pipe in what `autopostr keys export` prints")
    if not text.startswith("{"):
        keys = [decode_key(part, "stdin") for part in text.split(",") if part.strip()]
        if not keys:
            raise InvalidInput("stdin holds no key; pipe in what `autopostr keys export` prints")
        return KeySet.of(keys, "stdin")
    try:
        data = json.loads(text)
    except ValueError:
        raise InvalidInput(
            "stdin is not what `autopostr keys export` prints: it is not valid JSON"
        ) from None
    raw_keys = data.get("keys") if isinstance(data, dict) else None
    if (
        not isinstance(raw_keys, list)
        or not raw_keys
        or not all(isinstance(k, str) for k in raw_keys)
    ):
        raise InvalidInput(
            'stdin is not what `autopostr keys export` prints: it needs "keys", a list of '
            "base64 keys"
        )
    keyset = KeySet.of([decode_key(k, "stdin") for k in raw_keys], "stdin")
    active = data.get("active", keyset.active)
    if active not in keyset.keys:
        raise InvalidInput(
            'stdin is not what `autopostr keys export` prints: its "active" is not the id '
            "of one of its keys"
        )
    keyset.active = str(active)
    keyset.team_only = "team" in data
    return keyset


@dataclass
class ImportResult:
    added: list[str]
    active: str
    keys: list[str]
    source: str
    changed: bool


def import_keys(settings: Settings, text: str) -> ImportResult:
    """Merge an exported key set into this machine's; its active key becomes the active
    one here, so what this machine seals the exporting machine can open. Importing the
    same set again changes nothing."""
    incoming = parse_export(text)
    current = load_keyset(settings)
    if current is not None and (
        settings.get("encryption_key") or current.source.startswith("systemd")
    ):
        # Keys from the environment or a systemd credential are not ours to write.
        missing = [kid for kid in incoming.keys if kid not in current.keys]
        if missing:
            raise InvalidInput(
                f"the keys here come from {current.source}, which `keys import` cannot "
                f"change: add key(s) {', '.join(missing)} there (AUTOPOSTR_ENCRYPTION_KEY "
                "takes several, comma-separated, the active one first), or unset it"
            )
        return ImportResult([], current.active, sorted(current.keys), current.source, False)
    before = current or KeySet("", {}, "")
    added = [kid for kid in incoming.keys if kid not in before.keys]
    # A team's key joins the set; the key this machine seals with stays the active one.
    active = before.active if incoming.team_only and before.active else incoming.active
    merged = KeySet(active, {**before.keys, **incoming.keys}, before.source)
    if not added and merged.active == before.active:
        return ImportResult([], before.active, sorted(before.keys), before.source, False)
    stored = _store(settings).set(KEYSET_SECRET, merged.to_json())
    return ImportResult(added, merged.active, sorted(merged.keys), stored.where, True)


@dataclass
class MigrationResult:
    key: str
    public_key: str
    resealed: int
    already: bool


def migrate_to_sealed_boxes(settings: Settings, db: Database) -> MigrationResult:
    """One transaction: publish the public key of this machine's active key and re-seal
    every stored secret to it, each opened first (nothing is lost: the same key set opens
    the new boxes). Afterwards members seal without any key; only daemons need the set."""
    keyset = require_keyset(settings)
    with db.session() as session:
        already = published_key(session) is not None
        count = _reencrypt_all(session, keyset, keyset, sealed_box=True)
    public = keyset.public_key()
    return MigrationResult(keyset.active, public.to_text(), count, already)
