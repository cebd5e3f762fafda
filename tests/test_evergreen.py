"""The evergreen pool in the database: add/list/rm, the daemon filling empty slots
within the lead time, one post per slot, intervals, cycles, and platforms that refuse
repeated text."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from autopostr.models import utcnow
from tests.helpers import Cli, one_error_line, schedule_tick


def pool(cli: Cli) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = cli.ok("posts", "evergreen", "list", "--json").json()
    return rows


def draft(cli: Cli, text: str, to: str = "sandbox:demo") -> str:
    return str(
        cli.ok("posts", "create", "--to", to, "--text", text, "--draft", "--json").json()["id"]
    )


def scheduled(cli: Cli) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = cli.ok("posts", "list", "--status", "scheduled", "--json").json()
    return rows


def test_add_list_and_remove(sandbox: str, cli: Cli) -> None:
    post = draft(cli, "A tip")
    added = cli.ok(
        "posts",
        "evergreen",
        "add",
        post,
        "--category",
        "tips",
        "--min-interval",
        "2w",
        "--max-cycles",
        "3",
        "--variant",
        "The same tip, reworded",
        "--json",
    ).json()
    assert added == {
        "post": post,
        "text": "A tip",
        "category": "tips",
        "min_interval_seconds": 14 * 86400,
        "max_cycles": 3,
        "until": None,
        "cycles": 0,
        "last_shared_at": None,
        "variants": ["The same tip, reworded"],
        "skipped": None,
    }
    assert pool(cli) == [added]
    assert cli("posts", "evergreen", "add", "999").exit_code == 3
    both = cli("posts", "evergreen", "add", post, "--max-cycles", "2", "--until", "2030-01-01")
    assert both.exit_code == 2 and "not both" in one_error_line(both.stderr)
    cli.ok("posts", "evergreen", "rm", post, "--yes")
    assert pool(cli) == []
    assert cli.ok("posts", "show", post, "--json").json()["status"] == "draft"


def test_the_daemon_fills_empty_slots_within_the_lead_and_never_twice(
    sandbox: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPOSTR_EVERGREEN_LEAD", "1d")
    cli.ok("queue", "slots", "set", "sandbox:demo", "daily 06:00,12:00,18:00", "--tz", "UTC")
    queued = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", "queued", "--queue", "--json"
    ).json()
    for text in ("tip one", "tip two"):
        cli.ok("posts", "evergreen", "add", draft(cli, text), "--min-interval", "12h")
    now = utcnow()
    schedule_tick(now)
    schedule_tick(now)  # a second daemon, or the next run: nothing more
    shown = [r for r in cli.ok("queue", "show", "--days", "1", "--json").json() if r["post"]]
    assert shown[0]["post"] == queued["id"] and shown[0]["evergreen"] is False
    texts = [r["text"] for r in shown]
    assert texts[:3] == ["queued", "tip one", "tip two"]  # longest ago (never) first
    assert len({r["at"] for r in shown}) == len(shown)  # one post per slot
    # Each tip waits its 12 hours: within a day each appears at most twice.
    assert texts.count("tip one") <= 2 and texts.count("tip two") <= 2
    for earlier, later in itertools.pairwise(texts):
        assert earlier != later  # never the same text twice in a row
    items = {i["text"]: i for i in pool(cli)}
    assert items["tip one"]["cycles"] == texts.count("tip one")
    # A queued post after that takes the first slot nothing fills.
    taken = {r["at"] for r in shown}
    nxt = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", "later", "--queue", "--json"
    ).json()
    assert nxt["scheduled_at"] not in taken


def test_cycles_and_paused_slots_limit_the_pool(
    sandbox: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPOSTR_EVERGREEN_LEAD", "3d")
    cli.ok("queue", "slots", "set", "sandbox:demo", "daily 09:00", "--tz", "UTC")
    cli.ok(
        "posts", "evergreen", "add", draft(cli, "tip"), "--min-interval", "1h", "--max-cycles", "1"
    )
    cli.ok(
        "posts",
        "evergreen",
        "add",
        draft(cli, "other"),
        "--min-interval",
        "1h",
        "--max-cycles",
        "1",
    )
    first = utcnow() + timedelta(minutes=1)
    cli.ok(
        "queue",
        "pause",
        "sandbox:demo",
        "--from",
        first.isoformat(),
        "--until",
        (first + timedelta(days=1)).isoformat(),
    )
    schedule_tick(utcnow())
    posts = scheduled(cli)
    assert sorted(p["text"] for p in posts) == ["other", "tip"]
    assert all(
        datetime.fromisoformat(p["scheduled_at"]) >= first + timedelta(days=1) for p in posts
    )


def test_a_platform_refusing_repeats_is_skipped_with_a_reason(
    initialized: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPOSTR_EVERGREEN_LEAD", "2d")
    token = {"access_token": "a", "refresh_token": "r", "expires_in": 7200}
    added = cli("accounts", "add", "x", input=json.dumps({"handle": "acme", **token}))
    if added.exit_code != 0:
        pytest.skip(f"no offline X account here: {added.stderr}")
    cli.ok("queue", "slots", "set", "x:acme", "daily 09:00,21:00", "--tz", "UTC")
    plain = draft(cli, "Same words", to="x:acme")
    varied = draft(cli, "Words one", to="x:acme")
    cli.ok("posts", "evergreen", "add", plain, "--min-interval", "1h")
    cli.ok("posts", "evergreen", "add", varied, "--min-interval", "1h", "--variant", "Words two")
    schedule_tick(utcnow())
    texts = [p["text"] for p in scheduled(cli)]
    assert texts.count("Same words") == 1  # once; a repeat would be refused by X
    assert "Words two" in texts  # the second time, the rotated variant
    items = {i["post"]: i for i in pool(cli)}
    assert "refuses a repeated text" in (items[plain]["skipped"] or "")
