"""The daemon's token-refresh job: renew OAuth tokens before they run out.

A token expiring within 24 h is renewed while its account row is locked (see
`publishing.refresh_account`), so two daemons never spend one rotating refresh
token. A refused refresh marks the account `needs_reconnect` and logs the
command that fixes it; an unreachable platform is tried again next run.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from autopostr.config import Settings
from autopostr.db import Database
from autopostr.models import SocialAccount, utcnow

REFRESH_WITHIN = timedelta(hours=24)
log = logging.getLogger("autopostr.tokens")


@dataclass
class RefreshReport:
    refreshed: list[str] = field(default_factory=list)
    needs_reconnect: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)


def refresh_expiring(
    db: Database,
    settings: Settings,
    within: timedelta = REFRESH_WITHIN,
    *,
    stopping: threading.Event | None = None,
) -> RefreshReport:
    """Renew every token that runs out within `within`, soonest first; stops between
    accounts once `stopping` is set (the rest are renewed by the next run)."""
    from sqlmodel import col, select

    from autopostr import accounts
    from autopostr.keys import teams_out_of_reach
    from autopostr.platforms.base import PlatformError
    from autopostr.publishing import refresh_account

    horizon = utcnow() + within
    # Teams whose secrets this machine cannot open are renewed by their own daemons.
    skip_teams = teams_out_of_reach(settings, db)
    with db.session() as session:
        due = [
            (account.id, accounts.label(account))
            for account in session.exec(
                select(SocialAccount)
                .where(
                    SocialAccount.status == accounts.ACTIVE,
                    col(SocialAccount.expires_at).is_not(None),
                    col(SocialAccount.expires_at) <= horizon,
                    col(SocialAccount.team_id).not_in(skip_teams),
                )
                .order_by(col(SocialAccount.expires_at))
            )
            # A token nothing can renew is left to `accounts list --expiring-within`.
            if accounts.renewable(account)
        ]
    report = RefreshReport()
    for account_id, label in due:
        assert account_id is not None
        if stopping is not None and stopping.is_set():
            break
        try:
            with db.session() as session:
                current = session.get(SocialAccount, account_id)
                if current is None or current.status != accounts.ACTIVE:
                    continue
                if current.expires_at is not None and _aware(current.expires_at) > horizon:
                    continue  # another daemon renewed it a moment ago
            refresh_account(db, settings, account_id)
        except PlatformError as exc:
            if exc.transient:
                log.warning("%s: token refresh will be tried again: %s", label, exc.message)
                report.unreachable.append(label)
            else:
                report.needs_reconnect.append(label)  # refresh_account logged the fix
            continue
        log.info("%s: token refreshed", label)
        report.refreshed.append(label)
    return report


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def whoami(db: Database, settings: Settings, account_id: int) -> dict[str, Any]:
    """The platform's view of the account (`accounts test`); an expired token is renewed once."""
    from autopostr.platforms.base import AuthExpired, PlatformError
    from autopostr.platforms.registry import get_platform
    from autopostr.publishing import open_account, refresh_account

    with db.session() as session:
        account = session.get(SocialAccount, account_id)
        assert account is not None
        ref = open_account(settings, account)
    platform = get_platform(ref.platform, settings)
    try:
        try:
            return platform.whoami(ref)
        except AuthExpired:
            ref = refresh_account(
                db, settings, account_id, failed=ref.credentials.get("access_token")
            )
            return platform.whoami(ref)
    except PlatformError as exc:
        raise exc.as_error() from None


def refresh_now(db: Database, settings: Settings, account_id: int) -> datetime | None:
    """`accounts refresh`: renew the token now; returns its new expiry (None: none)."""
    from autopostr.platforms.base import PlatformError
    from autopostr.publishing import refresh_account

    try:
        refresh_account(db, settings, account_id, log_refusal=False)
    except PlatformError as exc:
        raise exc.as_error() from None
    with db.session() as session:
        account = session.get(SocialAccount, account_id)
        assert account is not None
        return account.expires_at
