"""Connected social accounts of a team, named by id or `platform:handle`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from autopostr import audit
from autopostr.config import Settings
from autopostr.errors import ConfigError, Conflict, InvalidInput, NotFound, PermissionDenied
from autopostr.identity import Actor
from autopostr.keys import (
    TOKEN_COLUMNS,
    KeySet,
    Slot,
    is_sealed,
    is_secret_extra,
    load_keyset,
    seal,
    seal_extra,
    sealer_for,
    unseal,
    unseal_extra,
    unsealed_extras,
)
from autopostr.models import AccountStatus, SocialAccount, utcnow
from autopostr.permissions import require
from autopostr.platforms.base import AccountRef, ConnectedAccount

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

ACTIVE = AccountStatus.ACTIVE
DISCONNECTED = AccountStatus.DISCONNECTED
NEEDS_RECONNECT = AccountStatus.NEEDS_RECONNECT


def normalize_handle(handle: str) -> str:
    handle = handle.strip().lstrip("@").strip()
    if not handle:
        raise InvalidInput(
            "--handle: no handle was given; name the account, e.g. --handle acme "
            '(or "handle" in the JSON on stdin)'
        )
    if any(ch.isspace() for ch in handle):
        raise InvalidInput(f"--handle: {handle!r} is not a handle (no spaces, e.g. acme)")
    return handle


def parse_account_name(name: str) -> tuple[int | None, str | None, str | None]:
    """`12` -> id; `x:acme`, `x:@acme` or `@x:acme` -> platform and handle."""
    name = name.strip().lstrip("@")
    if name.isdigit():
        return int(name), None, None
    platform, sep, handle = name.partition(":")
    if not sep or not platform or not handle.strip().lstrip("@"):
        raise InvalidInput(
            f"account {name!r}: name an account by id or as platform:handle, e.g. x:acme"
        )
    return None, platform.strip().lower(), handle.strip().lstrip("@")


def resolve(db: DbSession, team_id: int, name: str) -> SocialAccount:
    """The team's account so named; exit 3 when there is none (other teams' are invisible)."""
    from sqlalchemy import func
    from sqlmodel import select

    account_id, platform, handle = parse_account_name(name)
    if account_id is not None:
        account = db.get(SocialAccount, account_id)
        if account is None or account.team_id != team_id:
            account = None
    else:
        assert handle is not None
        account = db.exec(
            select(SocialAccount).where(
                SocialAccount.team_id == team_id,
                SocialAccount.platform == platform,
                func.lower(SocialAccount.handle) == handle.lower(),
            )
        ).first()
    if account is None:
        raise NotFound(f"account {name!r} not found: see `autopostr accounts list`")
    return account


def label(account: SocialAccount) -> str:
    return f"{account.platform}:{account.handle}"


@dataclass(frozen=True)
class Fix:
    """A command that brings an account back, and the JSON to pipe into it where it reads
    credentials ("…" marks what only the account's owner knows). Printed, the command
    runs as printed: it names the page or server, and the handle."""

    command: str
    stdin: dict[str, Any] | None = None

    def __str__(self) -> str:
        if self.stdin is None:
            return f"run `{self.command}`"
        return f"pipe {json.dumps(self.stdin, ensure_ascii=False)} to `{self.command}`"


def reconnect_fix(account: SocialAccount, settings: Settings | None = None) -> Fix:
    """How this account comes back: the browser flow where the platform has one and this
    install has its OAuth app, else `accounts add` with the credentials it needs."""
    import shlex

    from autopostr.platforms.registry import get_platform_class

    add = ["autopostr", "accounts", "add", account.platform, "--handle", account.handle]
    try:
        platform_class = get_platform_class(account.platform)
    except InvalidInput:  # a plugin that is gone: the least that could work
        return Fix(shlex.join(add))
    extra = json.loads(account.extra or "{}")
    if settings is None:
        from autopostr.config import load_settings

        settings = load_settings()
    if platform_class.can_connect(settings):
        options = platform_class.reconnect_options(account.handle, account.remote_id, extra)
        return Fix(shlex.join(["autopostr", "accounts", "connect", account.platform, *options]))
    if not platform_class.needs_credentials:
        return Fix(shlex.join(add))
    return Fix(shlex.join(add), platform_class.credentials_template(extra))


def add(
    db: DbSession,
    actor: Actor,
    settings: Settings,
    platform: str,
    handle: str,
    credentials: dict[str, Any] | None = None,
    name: str = "",
) -> SocialAccount:
    """Add (or reconnect) an account; tokens in `credentials` are stored encrypted."""
    from sqlmodel import select

    from autopostr.platforms.registry import get_platform_class

    team_id = require(actor, "accounts.manage")
    platform_class = get_platform_class(platform)
    if platform_class.needs_credentials and not credentials:
        import shlex

        command = ["autopostr", "accounts", "add", platform_class.name]
        command += ["--handle", normalize_handle(handle)] if handle.strip() else []
        fix = Fix(shlex.join(command), platform_class.credentials_template({}))
        what = "" if handle.strip() else ' (with "handle", or give --handle)'
        raise InvalidInput(f"{platform_class.title} needs credentials: {fix}{what}")
    handle = normalize_handle(handle)
    credentials = _with_handle(credentials, handle)
    existing = db.exec(
        select(SocialAccount).where(
            SocialAccount.team_id == team_id,
            SocialAccount.platform == platform_class.name,
        )
    ).all()
    account = next((a for a in existing if a.handle.lower() == handle.lower()), None)
    if account is not None and account.status == ACTIVE:
        raise Conflict(f"account {platform_class.name}:{account.handle} is already connected")
    now = utcnow()
    if account is None or account.status == DISCONNECTED:
        from autopostr.billing.limits import check_accounts

        check_accounts(db, settings, team_id, now)
    if account is None:
        account = SocialAccount(team_id=team_id, platform=platform_class.name, handle=handle)
    account.name = name or account.name or handle
    account.status = ACTIVE
    account.connected_by = actor.user_id
    account.updated_at = now
    db.add(account)
    db.flush()
    if credentials:
        from autopostr.platforms.base import PlatformError

        try:
            fields = platform_class(settings).prepare_credentials(credentials)
        except PlatformError as exc:
            raise exc.as_error(given="stdin") from None
        store_credentials(db, settings, account, fields)
    audit.record(db, actor, "account.connect", "account", account.id, platform=account.platform)
    return account


def _with_handle(credentials: dict[str, Any] | None, handle: str) -> dict[str, Any] | None:
    """`--handle` and piped JSON together: the JSON gets the handle when it has none (a
    Bluesky login needs it); two different handles are a mistake to point out."""
    if credentials is None:
        return None
    given = str(credentials.get("handle") or "").strip().lstrip("@")
    if not given:
        return {**credentials, "handle": handle}
    if given.lower() != handle.lower():
        raise InvalidInput(f"--handle {handle} and the JSON's handle {given!r} differ: give one")
    return credentials


def save_connected(
    db: DbSession,
    actor: Actor,
    settings: Settings,
    platform: str,
    connected: ConnectedAccount,
) -> SocialAccount:
    """Store an account `accounts connect` was granted; connecting again renews its tokens."""
    from sqlmodel import select

    team_id = require(actor, "accounts.manage")
    handle = normalize_handle(connected.handle)
    existing = db.exec(
        select(SocialAccount).where(
            SocialAccount.team_id == team_id, SocialAccount.platform == platform
        )
    ).all()
    account = next((a for a in existing if a.handle.lower() == handle.lower()), None)
    if account is None or account.status == DISCONNECTED:
        from autopostr.billing.limits import check_accounts

        check_accounts(db, settings, team_id)
    if account is None:
        account = SocialAccount(team_id=team_id, platform=platform, handle=handle)
    account.name = connected.name or account.name or handle
    account.remote_id = connected.remote_id or account.remote_id
    account.scopes = connected.scopes or account.scopes
    account.status = ACTIVE
    account.connected_by = actor.user_id
    account.updated_at = utcnow()
    db.add(account)
    db.flush()
    store_credentials(db, settings, account, connected.credentials)
    audit.record(db, actor, "account.connect", "account", account.id, platform=platform)
    return account


def expiring(
    db: DbSession, actor: Actor, within: timedelta, platform: str | None = None
) -> list[SocialAccount]:
    """Accounts that will stop publishing within `within` unless a person acts."""
    horizon = utcnow() + within
    return [a for a in list_accounts(db, actor, platform) if stops_by(a, horizon)]


def renewable(account: SocialAccount) -> bool:
    """Whether the daemon can renew this account's token without a person."""
    from sqlalchemy.orm import object_session

    from autopostr.platforms.registry import get_platform_class

    extra = json.loads(account.extra or "{}")
    session = object_session(account)
    if tokens_readable(account) or session is None:
        refreshable = bool(account.refresh_token) if tokens_readable(account) else False
    else:
        refreshable = holds_token(session, account, "refresh_token")  # type: ignore[arg-type]
    try:
        return get_platform_class(account.platform).renews_itself(extra, refreshable)
    except InvalidInput:  # a plugin that is gone: judge by the token alone
        return refreshable


def stops_by(account: SocialAccount, horizon: datetime) -> bool:
    """Needs reconnecting already, or its access runs out by `horizon` with nothing able
    to renew it: a token the daemon refreshes counts by its refresh token's expiry."""
    if account.status == NEEDS_RECONNECT:
        return True
    if account.status != ACTIVE:
        return False
    extra = json.loads(account.extra or "{}")
    if renewable(account):
        refresh_expires = extra.get("refresh_expires_at")
        return bool(refresh_expires) and _aware(datetime.fromisoformat(refresh_expires)) <= horizon
    return account.expires_at is not None and _aware(account.expires_at) <= horizon


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def store_credentials(
    db: DbSession, settings: Settings, account: SocialAccount, credentials: dict[str, Any]
) -> None:
    # The team's or the database's public key where one is published: a member seals
    # without any key.
    keyset = sealer_for(settings, db, account.team_id)
    assert account.id is not None
    for field in TOKEN_COLUMNS:
        value = credentials.get(field)
        setattr(
            account,
            field,
            seal(keyset, str(value), Slot.token(account.id, field)) if value else None,
        )
    if credentials.get("expires_in"):
        account.expires_at = utcnow() + timedelta(seconds=int(credentials["expires_in"]))
    elif "expires_in" in credentials:
        account.expires_at = None  # a token that does not expire (Facebook page tokens)
    # New values replace old ones key by key, so a refresh keeps what connect learnt.
    extra = json.loads(account.extra or "{}")
    if credentials.get("refresh_token_expires_in"):
        # Relative to now, so kept as a moment (LinkedIn's refresh tokens last a year).
        seconds = int(credentials["refresh_token_expires_in"])
        extra["refresh_expires_at"] = (utcnow() + timedelta(seconds=seconds)).isoformat()
    for key, value in credentials.items():
        if key in (*TOKEN_COLUMNS, "expires_in", "handle", "refresh_token_expires_in"):
            continue
        if is_secret_extra(key, account.platform) and value:
            value = seal_extra(keyset, account.id, key, str(value))
        extra[key] = value
    # What an older autopostr kept in clear is sealed now that the row is written anyway.
    for key in unsealed_extras(account.platform, extra):
        extra[key] = seal_extra(keyset, account.id, key, extra[key])
    account.extra = json.dumps(extra, sort_keys=True)
    db.add(account)


def _no_key(account: SocialAccount) -> Exception:
    from autopostr.errors import KeyMissing

    return KeyMissing(
        f"this machine has no encryption key to open {label(account)}'s credentials: import "
        "the keys with `autopostr keys import` (pipe in what `autopostr keys export` prints on "
        "a machine that has them), or set AUTOPOSTR_ENCRYPTION_KEY"
    )


DAEMON_ONLY = (
    "{handle}: this connection's database role cannot read account tokens, only the "
    "daemons' role can (they publish with them and renew them hourly on their own): run "
    "this where AUTOPOSTR_DATABASE_URL is a daemon's (`autopostr db grant --daemon NAME`)"
)


def tokens_readable(account: SocialAccount) -> bool:
    """False when the tokens were left out of the query because this connection's role may
    not read them (see `db.Database.tokens_hidden`): reading them would fail."""
    from sqlalchemy import inspect

    state = inspect(account)
    return state.transient or state.pending or not (set(TOKEN_COLUMNS) & state.unloaded)


def holds_token(db: DbSession, account: SocialAccount, column: str) -> bool:
    """Whether the account has this token, asked without reading it where it is hidden."""
    from sqlalchemy import text

    if tokens_readable(account):
        return bool(getattr(account, column))
    return bool(
        db.execute(
            text("SELECT autopostr_has_token(:id, :column)"), {"id": account.id, "column": column}
        ).scalar()
    )


def account_ref(account: SocialAccount, keyset: KeySet | None) -> AccountRef:
    """The account as an adapter sees it, with its tokens decrypted."""
    assert account.id is not None
    if not tokens_readable(account):
        raise PermissionDenied(DAEMON_ONLY.format(handle=f"{account.platform}:{account.handle}"))
    credentials: dict[str, Any] = {}
    for field in TOKEN_COLUMNS:
        sealed = getattr(account, field)
        if sealed:
            if keyset is None:
                raise _no_key(account)
            credentials[field] = unseal(keyset, sealed, Slot.token(account.id, field))
    extra = json.loads(account.extra or "{}")
    for key, value in list(extra.items()):
        if is_sealed(value):
            if keyset is None:
                raise _no_key(account)
            credentials[key] = unseal_extra(keyset, account.id, key, value)
            del extra[key]
    for key in unsealed_extras(account.platform, extra):
        credentials[key] = extra.pop(key)  # kept in clear by an older autopostr
    return AccountRef(
        id=account.id,
        platform=account.platform,
        handle=account.handle,
        remote_id=account.remote_id,
        credentials=credentials,
        extra=extra,
    )


def list_accounts(db: DbSession, actor: Actor, platform: str | None = None) -> list[SocialAccount]:
    from sqlmodel import col, select

    team_id = require(actor, "accounts.read")
    query = select(SocialAccount).where(SocialAccount.team_id == team_id)
    if platform:
        query = query.where(SocialAccount.platform == platform.lower())
    return list(db.exec(query.order_by(col(SocialAccount.id))))


def show(db: DbSession, actor: Actor, name: str) -> SocialAccount:
    return resolve(db, require(actor, "accounts.read"), name)


def to_test(db: DbSession, actor: Actor, name: str) -> SocialAccount:
    """The account `accounts test` asks the platform about; a disconnected one has no
    token to try, so the answer is the command that reconnects it."""
    account = resolve(db, require(actor, "accounts.read"), name)
    if account.status == DISCONNECTED:
        raise InvalidInput(f"{label(account)} is disconnected: {reconnect_fix(account)}")
    _require_token_access(db, account)
    return account


def _require_token_access(db: DbSession, account: SocialAccount) -> None:
    """Refused before any work on a member's database role, which cannot read tokens."""
    from autopostr.db import hides_tokens

    if hides_tokens(db.connection()):
        raise PermissionDenied(DAEMON_ONLY.format(handle=label(account)))


def to_refresh(db: DbSession, actor: Actor, name: str) -> SocialAccount:
    """The account `accounts refresh` renews: renewing writes tokens, an owner's right."""
    account = resolve(db, require(actor, "accounts.manage"), name)
    _require_token_access(db, account)
    return account


def to_disconnect(db: DbSession, actor: Actor, name: str) -> SocialAccount:
    """The account `accounts disconnect` would forget, checked before anyone is asked."""
    return resolve(db, require(actor, "accounts.manage"), name)


def disconnect(
    db: DbSession, actor: Actor, name: str, settings: Settings | None = None
) -> tuple[SocialAccount, str | None]:
    """Forget the tokens, after asking the platform to revoke them where it can; posts
    already scheduled to it fail with a message that says why. Returns the account and
    why revoking failed, if it did (the tokens are forgotten all the same)."""
    account = to_disconnect(db, actor, name)
    problem = None
    if not tokens_readable(account):
        # A member's role cannot read the token to revoke it: forgetting it still works.
        if account.status == ACTIVE and holds_token(db, account, "access_token"):
            problem = "the platform was not asked to revoke the token (only a daemon can read it)"
    elif settings is not None and account.status == ACTIVE and account.access_token:
        problem = _revoke(settings, account)
    account.status = DISCONNECTED
    account.access_token = None
    account.refresh_token = None
    account.updated_at = utcnow()
    db.add(account)
    audit.record(db, actor, "account.disconnect", "account", account.id, platform=account.platform)
    return account, problem


def _revoke(settings: Settings, account: SocialAccount) -> str | None:
    from autopostr.platforms.base import PlatformError
    from autopostr.platforms.registry import get_platform

    try:
        ref = account_ref(account, load_keyset(settings))
        get_platform(account.platform, settings).revoke(ref)
    except PlatformError as exc:
        return exc.message
    except ConfigError as exc:  # no OAuth app here to revoke with: forgetting still works
        return exc.message
    return None
