"""`autopostr logs`: the team's publish log, its filters, and `--follow`, on both engines."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from tests.helpers import Cli, db_session, new_post

ENTRY_KEYS = {"id", "at", "event", "post", "destination", "account", "attempt", "daemon", "message"}
FAILING = {"AUTOPOSTR_SANDBOX_FAIL_RATE": "1", "AUTOPOSTR_MAX_ATTEMPTS": "1"}


def publish(cli: Cli, post: str, fail: bool = False) -> None:
    run = cli("posts", "publish", post, env=FAILING if fail else None)
    assert run.exit_code == (6 if fail else 0), run.stderr


def log(cli: Cli, *args: str) -> list[dict[str, Any]]:
    data = cli.ok("logs", "--json", *args).json()
    assert isinstance(data, list)
    return data


def events_by_post(entries: list[dict[str, Any]]) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for entry in entries:
        seen.setdefault(entry["post"], []).append(entry["event"])
    return seen


def test_json_shows_claims_publishes_and_failures_with_post_and_account(
    sandbox: str, cli: Cli
) -> None:
    good, bad = new_post(cli, text="good"), new_post(cli, text="bad")
    publish(cli, good)
    publish(cli, bad, fail=True)

    entries = log(cli)
    assert events_by_post(entries) == {good: ["claimed", "published"], bad: ["claimed", "failed"]}
    for entry in entries:
        assert set(entry) == ENTRY_KEYS
        assert isinstance(entry["id"], str) and isinstance(entry["destination"], str)
        assert entry["at"].endswith("+00:00")
        # Claim rows carry no account of their own: it comes from the destination.
        assert entry["account"] == "sandbox:demo"
        assert entry["attempt"] == 1
        assert entry["daemon"]
    ids = [int(e["id"]) for e in entries]
    assert ids == sorted(ids)  # newest last
    published = next(e for e in entries if e["event"] == "published")
    assert published["message"].startswith("https://sandbox.autopostr.invalid/demo/")
    failed = next(e for e in entries if e["event"] == "failed")
    assert "simulated transient failure" in failed["message"]

    text = cli.ok("logs")
    lines = text.stdout.strip().splitlines()
    assert len(lines) == 4
    assert "published" in lines[1] and f"post {good}" in lines[1] and "sandbox:demo" in lines[1]
    assert "failed" in lines[3] and "simulated transient failure" in lines[3]


def test_filters_by_post_account_event_since_and_limit(sandbox: str, cli: Cli) -> None:
    from sqlmodel import select

    from autopostr.models import PublishLog, utcnow

    cli.ok("accounts", "add", "sandbox", "--handle", "other")
    first, second = new_post(cli, text="one"), new_post(cli, to="sandbox:other", text="two")
    third = new_post(cli, text="three")
    publish(cli, first)
    publish(cli, second)
    publish(cli, third, fail=True)

    assert events_by_post(log(cli, "--post", second)) == {second: ["claimed", "published"]}
    other = log(cli, "--account", "sandbox:other")
    assert {e["post"] for e in other} == {second} and len(other) == 2
    assert {e["post"] for e in log(cli, "--account", "@sandbox:demo")} == {first, third}

    assert [e["post"] for e in log(cli, "--event", "published")] == [first, second]
    both = log(cli, "--event", "published", "--event", "failed")
    assert [(e["post"], e["event"]) for e in both] == [
        (first, "published"),
        (second, "published"),
        (third, "failed"),
    ]
    assert log(cli, "--event", "failed", "--post", first) == []

    everything = log(cli)
    assert log(cli, "--limit", "2") == everything[-2:]  # the most recent two, newest last
    assert len(log(cli, "--limit", "50")) == 6

    # Age the first post's entries: --since 2h leaves them out, --since 1d keeps them.
    with db_session() as session:
        for row in session.exec(select(PublishLog).where(PublishLog.post_id == int(first))):
            row.created_at = utcnow() - timedelta(hours=3)
            session.add(row)
    assert {e["post"] for e in log(cli, "--since", "2h")} == {second, third}
    assert len(log(cli, "--since", "1d")) == 6
    since_iso = (utcnow() - timedelta(hours=2)).isoformat()
    assert {e["post"] for e in log(cli, "--since", since_iso)} == {second, third}


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--post", "999"], 3, "post 999 not found"),
        (["--account", "sandbox:nobody"], 3, "sandbox:nobody"),
        (["--since", "yesterday-ish"], 5, "--since"),
        (["--limit", "0"], 2, "--limit"),
    ],
)
def test_bad_filters_exit_with_their_code(
    sandbox: str, cli: Cli, args: list[str], code: int, needle: str
) -> None:
    run = cli("logs", *args)
    assert run.exit_code == code, run.stderr
    assert needle in run.stderr
    assert run.stdout == ""


def test_unknown_event_is_refused_like_any_unknown_value(sandbox: str, cli: Cli) -> None:
    # One behaviour for an unknown value everywhere (cli/options.py): exit 5, naming them.
    run = cli("logs", "--json", "--event", "publishd")
    assert run.exit_code == 5 and run.stdout == ""
    assert "publishd" in run.stderr and "published" in run.stderr


def test_another_teams_log_is_invisible(sandbox: str, cli: Cli) -> None:
    mine = new_post(cli)
    publish(cli, mine)
    assert len(log(cli)) == 2

    cli.ok(
        "auth", "register", "--email", "b@example.com", "--password-stdin", input="another-pw-123\n"
    )
    assert log(cli) == []
    assert cli("logs", "--post", mine).exit_code == 3
    assert cli("logs", "--account", "sandbox:demo").exit_code == 3

    cli.ok("accounts", "add", "sandbox", "--handle", "demo")  # the same handle, their own team
    theirs = new_post(cli, text="theirs")
    publish(cli, theirs)
    entries = log(cli)
    assert events_by_post(entries) == {theirs: ["claimed", "published"]}
    assert mine not in {e["post"] for e in entries}


def _reader(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def _next_matching(lines: queue.Queue[str], match: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "no matching line in time"
        try:
            entry = json.loads(lines.get(timeout=remaining))
        except queue.Empty:
            continue
        if match(entry):
            return dict(entry)


def test_follow_prints_entries_that_arrive_after_it_started(sandbox: str, cli: Cli) -> None:
    before = new_post(cli, text="before")
    publish(cli, before)
    proc = subprocess.Popen(
        [sys.executable, "-m", "autopostr", "logs", "--follow", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
        # JSON Lines: what was there first, one object per line.
        shown = _next_matching(lines, lambda e: e["event"] == "published", 30)
        assert shown["post"] == before and set(shown) == ENTRY_KEYS

        after = new_post(cli, text="after")
        publish(cli, after)
        claimed = _next_matching(lines, lambda e: e["post"] == after, 10)
        assert claimed["event"] == "claimed"
        published = _next_matching(lines, lambda e: e["post"] == after, 10)
        assert published["event"] == "published"
        assert published["account"] == "sandbox:demo"
        assert proc.poll() is None  # still following
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    assert "Traceback" not in proc.stderr.read()


def test_follower_shows_a_row_committed_late_below_the_highest_id(sandbox: str, cli: Cli) -> None:
    """PostgreSQL makes ids visible in commit order, not id order: none may be skipped."""
    from autopostr.config import load_settings
    from autopostr.db import Database
    from autopostr.models import PublishLog
    from autopostr.publog import Follower, LogFilter

    post = new_post(cli)
    publish(cli, post)
    team = int(cli.ok("auth", "whoami", "--json").json()["team"]["id"])
    follower = Follower(Database(load_settings()), team, LogFilter(), settle=60)
    assert [e.event for e in follower.poll()] == ["claimed", "published"]

    def add(row_id: int, message: str) -> None:
        with db_session() as session:
            session.add(PublishLog(id=row_id, post_id=int(post), event="retrying", message=message))

    add(1000, "high")
    assert [e.message for e in follower.poll()] == ["high"]
    add(500, "late")  # as if its transaction began first and committed after "high"
    assert [e.message for e in follower.poll()] == ["late"]
    assert follower.poll() == []


def test_follow_into_a_reader_that_stops_exits_0_quietly(sandbox: str, cli: Cli) -> None:
    """`autopostr logs --follow | head -1`: a closed pipe ends the follow, not with an error."""
    publish(cli, new_post(cli, text="before"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "autopostr", "logs", "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None
        assert "claimed" in proc.stdout.readline()
        proc.stdout.close()  # what `head -1` does once it has its line
        publish(cli, new_post(cli, text="after"))  # the next write meets the closed pipe
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert err == ""
