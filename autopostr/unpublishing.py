"""Take published posts down from the platforms (`posts unpublish`), keeping the record.

Each published destination is deleted through its platform's adapter. A post the
platform no longer has counts as taken down. The outcome is kept on the
destination (`deleted`, or why it is still up in its error) and as one publish-log
event per destination; the post and its log stay, so `posts show` and `logs` tell
what went out, where, and when it was taken down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from autopostr import accounts as accounts_mod
from autopostr import audit
from autopostr import posts as posts_mod
from autopostr.config import Settings
from autopostr.db import Database
from autopostr.errors import AutopostrError, Conflict, InvalidInput, PermissionDenied
from autopostr.identity import Actor
from autopostr.models import PostDestination, PublishLog, SocialAccount, utcnow
from autopostr.permissions import require
from autopostr.platforms.base import AuthExpired, NotSupported, PlatformError
from autopostr.queue.transitions import refresh_status
from autopostr.states import DestinationState, LogEvent

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

# What happened to each destination: the first two leave it `deleted`, the others published.
TAKEN_DOWN = DestinationState.DELETED.value
ALREADY_GONE = "already_gone"
NOT_SUPPORTED = "not_supported"
FAILED = DestinationState.FAILED.value


@dataclass(frozen=True)
class Target:
    """A published destination that can be taken down."""

    destination_id: int
    account_id: int
    account: str  # platform:handle
    remote_id: str
    url: str | None


@dataclass(frozen=True)
class Takedown:
    target: Target
    outcome: str  # deleted | already_gone | not_supported | failed
    error: str | None = None

    @property
    def gone(self) -> bool:
        return self.outcome in (TAKEN_DOWN, ALREADY_GONE)

    @property
    def status(self) -> str:
        """The destination's state afterwards."""
        return DestinationState.DELETED if self.gone else DestinationState.PUBLISHED


@dataclass(frozen=True)
class Unpublished:
    post_id: int
    post_status: str
    takedowns: list[Takedown]

    @property
    def gone(self) -> bool:
        return all(t.gone for t in self.takedowns)


def targets(db: DbSession, actor: Actor, post_id: int, account: str | None = None) -> list[Target]:
    """What `posts unpublish` would take down, checked before anyone is asked: empty when
    every destination that went out is already down; refused when none ever went out."""
    from autopostr.db import hides_tokens

    team_id = require(actor, "posts.write")
    posts_mod.get(db, team_id, post_id)  # not found: exit 3, as for any other team's post
    if hides_tokens(db.connection()):
        raise PermissionDenied(
            f"taking post {post_id} down needs its accounts' tokens, which only the daemons' "
            "database role can read: run `autopostr posts unpublish` where "
            "AUTOPOSTR_DATABASE_URL is a daemon's (`autopostr db grant --daemon NAME`)"
        )
    destinations = posts_mod.destinations_of(db, post_id)
    if account:
        wanted = accounts_mod.resolve(db, team_id, account)
        destinations = [(d, a) for d, a in destinations if a.id == wanted.id]
        if not destinations:
            raise InvalidInput(
                f"--account {account}: post {post_id} does not go to {accounts_mod.label(wanted)}"
            )
    if any(d.status == DestinationState.CLAIMED for d, _ in destinations):
        raise Conflict(f"post {post_id} is being published right now; try again in a moment")
    live = [
        Target(d.id or 0, a.id or 0, accounts_mod.label(a), d.remote_id, d.url)
        for d, a in destinations
        if d.status == DestinationState.PUBLISHED and d.remote_id
    ]
    if not live and not any(d.status == DestinationState.DELETED for d, _ in destinations):
        states = ", ".join(f"{accounts_mod.label(a)} is {d.status}" for d, a in destinations)
        raise Conflict(f"post {post_id} has nothing on the platforms to take down ({states})")
    return live


def unpublish(
    database: Database, settings: Settings, actor: Actor, post_id: int, account: str | None = None
) -> Unpublished:
    """Take the post down wherever it is published (or only from `account`)."""
    with database.session() as session:
        chosen = targets(session, actor, post_id, account)
    takedowns = [
        _record(database, actor, post_id, _take_down(database, settings, post_id, t))
        for t in chosen
    ]
    with database.session() as session:
        post = refresh_status(session, post_id)
        if takedowns:
            audit.record(
                session,
                actor,
                "post.unpublish",
                "post",
                post_id,
                outcomes={t.target.account: t.outcome for t in takedowns},
            )
        status = post.status if post is not None else DestinationState.DELETED
    return Unpublished(post_id, status, takedowns)


def _take_down(database: Database, settings: Settings, post_id: int, target: Target) -> Takedown:
    """One platform call, with the publisher's handling of an expired token: refreshed
    once; a refused refresh marks the account for reconnecting and says how."""
    from autopostr.platforms.registry import get_platform
    from autopostr.publishing import open_account, refresh_account

    with database.session() as session:
        account = session.get(SocialAccount, target.account_id)
        if account is None:
            return Takedown(target, FAILED, f"{target.account} no longer exists")
        session.expunge(account)
    again = f"`autopostr posts unpublish {post_id}`"
    if account.status != accounts_mod.ACTIVE:
        fix = accounts_mod.reconnect_fix(account, settings)
        return Takedown(
            target,
            FAILED,
            f"{target.account} is {account.status}: to reconnect it, {fix}; then run {again}",
        )
    try:
        ref = open_account(settings, account)
        platform = get_platform(account.platform, settings)
        try:
            done = platform.delete(ref, target.remote_id)
        except AuthExpired:
            ref = refresh_account(
                database, settings, target.account_id, failed=ref.credentials.get("access_token")
            )
            done = platform.delete(ref, target.remote_id)
    except NotSupported as exc:
        return Takedown(target, NOT_SUPPORTED, f"{exc.message}; delete it there by hand")
    except PlatformError as exc:
        hint = f"; try again later with {again}" if exc.transient else ""
        return Takedown(target, FAILED, exc.message + hint)
    except AutopostrError as exc:
        return Takedown(target, FAILED, exc.message)
    # A plugin written before delete said what happened returns None: it deleted.
    return Takedown(target, ALREADY_GONE if done is False else TAKEN_DOWN)


def _record(database: Database, actor: Actor, post_id: int, done: Takedown) -> Takedown:
    """The outcome on the destination and in the publish log, in one transaction."""
    target = done.target
    with database.session() as session:
        dest = session.get(PostDestination, target.destination_id)
        if dest is None:  # the post was deleted meanwhile: nothing left to record on
            return done
        now = utcnow()
        where = target.url or target.remote_id
        if done.gone:
            dest.status, dest.error = DestinationState.DELETED, None
            event = LogEvent.DELETED
            message = f"{where} (it was already gone)" if done.outcome == ALREADY_GONE else where
        else:
            dest.error = f"still published: {done.error}"
            event, message = LogEvent.DELETE_FAILED, done.error or ""
        dest.updated_at = now
        session.add(dest)
        session.add(
            PublishLog(
                post_id=post_id,
                destination_id=target.destination_id,
                account_id=target.account_id,
                team_id=actor.team_id,
                event=event,
                attempt=dest.attempts,
                message=message,
                created_at=now,
            )
        )
    return done
