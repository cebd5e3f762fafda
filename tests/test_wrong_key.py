"""A key that cannot open the database's secrets costs no attempts: the daemon refuses to
start with the fix, and a destination that meets a missing key waits, pending, while the
daemon says why once."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from autopostr.keys import KeySet
from tests.fakes.http_server import ScriptedServer
from tests.helpers import (
    QUICK,
    Cli,
    Daemons,
    db_session,
    due_post,
    key_file,
    make_due,
    new_post,
    run_autopostr,
    wait_until,
)

SITE = "webhook:site"  # the `site` fixture's account


def another_key_file(home: Path) -> str:
    """Put another key set where this home's was; returns the one it replaced."""
    saved = key_file(home).read_text()
    key_file(home).write_text(KeySet.of([os.urandom(32)], "").to_json() + "\n")
    return saved


def destinations() -> list[dict[str, object]]:
    from sqlmodel import col, select

    from autopostr.models import PostDestination

    with db_session() as session:
        rows = session.exec(select(PostDestination).order_by(col(PostDestination.id))).all()
        return [
            {
                "status": d.status,
                "attempts": d.attempts,
                "error": d.error or "",
                "next_attempt_at": d.next_attempt_at,
            }
            for d in rows
        ]


@pytest.mark.parametrize("key", ["wrong", "none"])
def test_a_daemon_whose_key_cannot_open_the_database_exits_5_with_the_fix(
    site: ScriptedServer, cli: Cli, isolated_env: Path, key: str
) -> None:
    needed = cli.ok("keys", "status", "--json").json()["active"]
    due_post(cli, "Hello", to=SITE)
    env = dict(QUICK)
    if key == "wrong":
        env["AUTOPOSTR_ENCRYPTION_KEY"] = base64.b64encode(os.urandom(32)).decode()
    else:
        key_file(isolated_env).unlink()
    for args in (("daemon", "run"), ("daemon", "run", "--once")):
        run = run_autopostr(*args, env=env, timeout=30)
        assert run.returncode == 5, run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), run.stderr
        assert needed in lines[0] and "autopostr keys import" in lines[0]
    assert cli.ok("daemon", "status", "--all", "--json").json() == []
    assert [(d["status"], d["attempts"]) for d in destinations()] == [("pending", 0)]
    assert site.received == []


def test_destinations_that_meet_a_missing_key_wait_without_using_attempts(
    site: ScriptedServer, cli: Cli, isolated_env: Path, daemons: Daemons
) -> None:
    posts = [int(new_post(cli, text, "--at", "+1h", to=SITE)) for text in ("first", "second")]
    proc = daemons.start(AUTOPOSTR_POLL_SECONDS="0.5")
    wait_until(lambda: cli.ok("daemon", "status", "--json").json(), 30, "the daemon to start")
    # The key changes under the running daemon (a rotation on another machine, say).
    saved = another_key_file(isolated_env)
    for post_id in posts:
        make_due(post_id)
    wait_until(
        lambda: all("keys import" in str(d["error"]) for d in destinations()),
        30,
        "both destinations to meet the missing key",
    )
    code, stderr = daemons.stop(proc)
    assert code == 0, stderr

    rows = destinations()
    assert [(d["status"], d["attempts"]) for d in rows] == [("pending", 0)] * 2
    assert all(d["next_attempt_at"] is not None for d in rows)
    assert site.received == []
    assert stderr.count("posts wait, without using attempts, until this machine has the key") == 1
    shown = cli.ok("posts", "show", str(posts[0]), "--json").json()["destinations"][0]
    assert shown["status"] == "pending" and "autopostr keys import" in str(shown["error"])

    # The key is back and the minute has passed: each goes out on its first attempt.
    key_file(isolated_env).write_text(saved)
    for post_id in posts:
        make_due(post_id)
    with db_session() as session:
        from sqlalchemy import text

        session.execute(text("UPDATE post_destinations SET next_attempt_at = due_at"))
    outcomes = cli.ok("daemon", "run", "--once", "--json").json()
    assert sorted((o["status"], o["attempt"]) for o in outcomes) == [("published", 1)] * 2
    assert len(site.received) == 2


def test_a_post_that_may_have_gone_out_is_still_asked_about_after_waiting_for_the_key(
    site: ScriptedServer, cli: Cli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    from autopostr.config import load_settings
    from autopostr.db import Database
    from autopostr.platforms.base import MAYBE_SENT
    from autopostr.publishing import publish_due

    due_post(cli, "maybe sent", to=SITE)
    with db_session() as session:  # the last attempt timed out after sending
        session.execute(
            text("UPDATE post_destinations SET attempts = 1, error = :e"),
            {"e": MAYBE_SENT + "Webhook did not answer in time"},
        )
    monkeypatch.setenv("AUTOPOSTR_ENCRYPTION_KEY", base64.b64encode(os.urandom(32)).decode())
    (waiting,) = publish_due(Database(load_settings()), load_settings())
    assert waiting.status == "pending"
    (row,) = destinations()
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert str(row["error"]).startswith(MAYBE_SENT)

    monkeypatch.delenv("AUTOPOSTR_ENCRYPTION_KEY")
    with db_session() as session:
        session.execute(text("UPDATE post_destinations SET next_attempt_at = due_at"))
    (asked,) = publish_due(Database(load_settings()), load_settings())
    # A webhook cannot tell whether it got the post: a person decides, nothing is re-sent.
    assert asked.status == "needs_review"
    assert site.received == []
