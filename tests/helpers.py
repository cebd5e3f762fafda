"""Small helpers for tests that look inside the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

from autopostr.config import load_settings
from autopostr.db import Database

if TYPE_CHECKING:
    from sqlmodel import Session


@contextmanager
def db_session() -> Iterator[Session]:
    with Database(load_settings()).session() as session:
        yield session


def make_due(post_id: int, ago: timedelta = timedelta(seconds=1)) -> None:
    """What time passing does to a scheduled post: its moment is now in the past."""
    from sqlmodel import select

    from autopostr.models import Post, PostDestination, utcnow

    with db_session() as session:
        post = session.get(Post, post_id)
        assert post is not None
        moment = utcnow() - ago
        post.scheduled_at = moment
        session.add(post)
        for dest in session.exec(select(PostDestination).where(PostDestination.post_id == post_id)):
            if dest.due_at is not None:
                dest.due_at = moment
                session.add(dest)
