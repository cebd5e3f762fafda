"""Moves between states that are not a daemon's claim: due times, a post's state from
its destinations', and waking the daemons when something becomes due."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from autopostr.models import Post, PostDestination, utcnow
from autopostr.states import (
    RESCHEDULABLE,
    UNDECIDED_POSTS,
    UNSETTLED,
    WENT_OUT,
    DestinationState,
    PostState,
)

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

NOTIFY_CHANNEL = "autopostr_due"


def set_due(db: DbSession, post: Post, due: datetime | None) -> None:
    """Point the destinations that have not gone out at the post's time (None: not due).
    A failed one starts afresh when it gets a new time."""
    from sqlmodel import select

    assert post.id is not None
    now = utcnow()
    for dest in db.exec(select(PostDestination).where(PostDestination.post_id == post.id)):
        if dest.status in RESCHEDULABLE:
            if dest.status == DestinationState.FAILED and due is not None:
                dest.attempts = 0
                dest.error = None
            dest.status = DestinationState.PENDING
            dest.due_at = due
            dest.next_attempt_at = None
            dest.updated_at = now
            db.add(dest)


def derive_status(post_status: str, destination_states: Sequence[str]) -> str:
    """A post's state from its destinations' once it is scheduled. A destination taken
    down (`posts unpublish`) was published all the same: the post keeps saying so."""
    states = {
        DestinationState.PUBLISHED if state in WENT_OUT else DestinationState(state)
        for state in destination_states
    }
    if not states or post_status in UNDECIDED_POSTS:
        return post_status
    if states == {DestinationState.PUBLISHED}:
        return PostState.PUBLISHED
    if states & UNSETTLED:
        if post_status == PostState.SCHEDULED and states == {DestinationState.PENDING}:
            return PostState.SCHEDULED
        return PostState.PUBLISHING
    if DestinationState.PUBLISHED in states:
        return PostState.PARTIALLY_PUBLISHED
    return PostState.FAILED


def refresh_status(db: DbSession, post_id: int) -> Post | None:
    """Bring a post's state in line with its destinations' after one of them changed."""
    from sqlmodel import select

    post = db.get(Post, post_id)
    if post is None:
        return None
    states = list(db.exec(select(PostDestination.status).where(PostDestination.post_id == post_id)))
    new_status = derive_status(post.status, states)
    if new_status != post.status:
        post.status = new_status
        post.updated_at = utcnow()
        db.add(post)
    return post


def notify_due(session: DbSession) -> None:
    """Wake idle daemons on PostgreSQL; delivered when the transaction commits."""
    from sqlalchemy import text

    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
