"""Small helpers for tests that look inside the database."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from autopostr.config import load_settings
from autopostr.db import Database

if TYPE_CHECKING:
    from sqlmodel import Session

    from tests.conftest import Cli


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


# A fix autopostr prints: "run `autopostr …`", or "pipe {…} to `autopostr …`".
_PRINTED_FIX = re.compile(r"(?:pipe (\{[^{}]*\}) to )?`(autopostr accounts [^`]*)`")


def printed_fixes(message: str) -> list[tuple[str, dict[str, Any] | None]]:
    """The `autopostr accounts …` commands a message tells the user to run, with the JSON
    it says to pipe into each, in the order printed."""
    found: list[tuple[str, dict[str, Any] | None]] = []
    for stdin, command in _PRINTED_FIX.findall(message):
        fix = (command, json.loads(stdin) if stdin else None)
        if fix not in found:
            found.append(fix)
    return found


def run_printed_fixes(cli: Cli, message: str, secrets: dict[str, Any] | None = None) -> None:
    """Run every reconnect fix in `message` exactly as printed; where it says to pipe JSON,
    pipe that JSON with each "…" replaced by what only the user knows (`secrets`)."""
    fixes = printed_fixes(message)
    assert fixes, f"no fix to run in: {message}"
    for command, stdin in fixes:
        args = shlex.split(command)
        assert args[0] == "autopostr", command
        data = None
        if stdin is not None:
            missing = [k for k, v in stdin.items() if v == "…" and k not in (secrets or {})]
            assert not missing, f"the test does not know {missing} for `{command}`"
            data = json.dumps({k: (secrets or {})[k] if v == "…" else v for k, v in stdin.items()})
        cli.ok(*args[1:], input=data)
