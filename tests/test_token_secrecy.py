"""Tokens never leave their encrypted columns: not in log lines, not in any command's
output, not in the raw database.

Accounts on three platforms (X through the OAuth browser flow, Bluesky with an app
password, a signed webhook whose URL is a credential too, as Discord's and Slack's
are) publish for real against their fakes; an expired X token
is renewed on the way, so rotated tokens are covered too. Every secret any fake
handed out is then searched for everywhere a person or an attacker with the database
file could look.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from autopostr.config import load_settings
from autopostr.db import Database
from autopostr.platforms import x as x_module
from tests.fakes.bluesky_server import BlueskyFake
from tests.fakes.http_server import scripted_server
from tests.fakes.platform_server import browse
from tests.fakes.x_server import FakeX
from tests.helpers import Cli, Run, make_due

APP_PASSWORD = "abcd-efgh-ijkl-mnop"
WEBHOOK_SECRET = "whsec-7f3a9c2e5b1d"
WEBHOOK_URL_TOKEN = "hookpath-91c0d4e7a2f6"
CLIENT_SECRET = "x-secret-4c1e0b7a"


class Issued:
    """Every token the fakes hand out, rotated ones included."""

    def __init__(self) -> None:
        self.values: set[str] = {APP_PASSWORD, WEBHOOK_SECRET, WEBHOOK_URL_TOKEN, CLIENT_SECRET}

    def wrap(self, issue: Any) -> Any:
        def recording(*args: Any, **kwargs: Any) -> Any:
            token = issue(*args, **kwargs)
            for key in ("access_token", "refresh_token", "accessJwt", "refreshJwt"):
                if token.get(key):
                    self.values.add(str(token[key]))
            return token

        return recording


@pytest.fixture
def issued() -> Issued:
    return Issued()


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch, issued: Issued) -> Iterator[tuple[FakeX, BlueskyFake]]:
    with FakeX() as x, BlueskyFake() as bluesky:
        x.oauth.client_secret = CLIENT_SECRET
        monkeypatch.setattr(x.oauth, "issue", issued.wrap(x.oauth.issue))
        monkeypatch.setattr(bluesky, "_issue", issued.wrap(bluesky._issue))
        bluesky.add_account("me.bsky.social", APP_PASSWORD)
        monkeypatch.setenv("AUTOPOSTR_X_API_URL", x.url)
        monkeypatch.setenv("AUTOPOSTR_X_AUTH_URL", x.url)
        monkeypatch.setenv("AUTOPOSTR_X_CLIENT_ID", "x-client")
        monkeypatch.setenv("AUTOPOSTR_X_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setenv("AUTOPOSTR_BLUESKY_API_URL", bluesky.url)
        monkeypatch.setenv("AUTOPOSTR_BLUESKY_VIDEO_URL", bluesky.url)
        monkeypatch.setattr("webbrowser.open", lambda url: bool(browse(url)))
        monkeypatch.setattr(x_module, "_memory", x_module._Memory())
        yield x, bluesky


def database_text(engine: str, home: Path) -> bytes:
    """What someone holding the database would see: the raw SQLite files, or every row
    of every table as PostgreSQL prints it."""
    if engine == "sqlite":
        return b"".join(p.read_bytes() for p in home.glob("autopostr.db*"))
    from sqlalchemy import inspect, text

    db = Database(load_settings())
    chunks: list[str] = []
    with db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            rows = conn.execute(text(f'SELECT t::text FROM "{table}" t')).scalars()
            chunks.extend(rows)
    return "\n".join(chunks).encode()


def test_no_token_is_ever_logged_printed_or_stored_in_clear(
    initialized: str,
    cli: Cli,
    fakes: tuple[FakeX, BlueskyFake],
    issued: Issued,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx, authlib, apscheduler and ours, at their chattiest
    x, _bluesky = fakes
    runs: list[Run] = []

    def run(*args: str, input: str | None = None, ok: bool = True) -> Run:
        result = cli.ok(*args, input=input) if ok else cli(*args, input=input)
        runs.append(result)
        return result

    with scripted_server() as hook:
        run("accounts", "connect", "x", "--port", "0", "--json")
        run(
            "accounts",
            "add",
            "bluesky",
            input=json.dumps({"handle": "me.bsky.social", "app_password": APP_PASSWORD}),
        )
        run(
            "accounts",
            "add",
            "webhook",
            input=json.dumps(
                {
                    "handle": "site",
                    "url": f"{hook.url}/api/webhooks/42/{WEBHOOK_URL_TOKEN}",
                    "secret": WEBHOOK_SECRET,
                }
            ),
        )
        post = run(
            "posts",
            "create",
            "--to",
            "x:acme",
            "--to",
            "bluesky:me.bsky.social",
            "--to",
            "webhook:site",
            "--text",
            "Hello from a scheduled post",
            "--at",
            "+1h",
            "--json",
        ).json()
        # The X token runs out before the post is due: the publish renews it first.
        for token in list(x.oauth.access_tokens):
            x.oauth.expire(token)
        make_due(int(post["id"]))
        outcomes = run("daemon", "run", "--once", "--json").json()
        assert sorted(o["status"] for o in outcomes) == ["published"] * 3
        for args in (
            ("accounts", "list", "--json"),
            ("accounts", "list"),
            ("accounts", "show", "x:acme", "--json"),
            ("accounts", "show", "bluesky:me.bsky.social"),
            ("accounts", "test", "x:acme", "--json"),
            ("accounts", "test", "bluesky:me.bsky.social"),
            ("accounts", "test", "webhook:site", "--json"),
            ("accounts", "show", "webhook:site", "--json"),
            ("accounts", "refresh", "x:acme", "--json"),
            ("accounts", "refresh", "bluesky:me.bsky.social"),
            ("posts", "show", str(post["id"]), "--json"),
            ("posts", "list", "--json"),
            ("logs", "--json"),
            ("logs",),
            ("dashboard", "--json"),
            ("config", "show"),
            ("doctor", "--json"),
            ("keys", "status"),
        ):
            run(*args, ok=False)
        run("accounts", "disconnect", "--yes", "webhook:site")

    assert len(issued.values) >= 7  # two X pairs (connect, renewal), Bluesky JWTs, the rest
    outputs = "\n".join(r.stdout + r.stderr for r in runs)
    assert "Hello from a scheduled post" in outputs  # the search does look at real output
    logs = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    assert "HTTP Request" in logs or "autopostr" in logs  # logging was captured
    assert any(WEBHOOK_URL_TOKEN in r.path for r in hook.received)  # the URL was used
    stored = database_text(initialized, tmp_path / "home")
    assert b"me.bsky.social" in stored  # and the database was read
    for secret in sorted(issued.values):
        assert secret not in outputs, f"a secret reached a command's output: {secret[:6]}…"
        assert secret not in logs, f"a secret reached the log: {secret[:6]}…"
        assert secret.encode() not in stored, f"a secret is stored in clear: {secret[:6]}…"


def test_a_running_daemon_renews_a_token_that_runs_out_within_24_hours(
    initialized: str, cli: Cli, fakes: tuple[FakeX, BlueskyFake], issued: Issued
) -> None:
    """The hourly token-refresh job of a real `daemon run` (first run 5 s after start)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from sqlmodel import select

    from autopostr.models import SocialAccount, utcnow
    from tests.helpers import db_session

    x, _bluesky = fakes
    cli.ok("accounts", "connect", "x", "--port", "0")
    connected_with = set(issued.values)
    with db_session() as session:
        account = session.exec(select(SocialAccount)).one()
        account.expires_at = utcnow() + timedelta(hours=3)
        session.add(account)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "autopostr", "daemon", "run"],
        env={**os.environ, "AUTOPOSTR_HEARTBEAT_SECONDS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not any(r.get("grant_type") == "refresh_token" for r in x.oauth.token_requests):
            assert daemon.poll() is None, daemon.communicate()
            assert time.monotonic() < deadline, "the daemon never renewed the token"
            time.sleep(0.2)
        time.sleep(0.5)  # the renewal is written after the platform answers
    finally:
        daemon.send_signal(signal.SIGTERM)
        _out, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err
    assert set(issued.values) - connected_with  # a new access and refresh token
    shown = cli.ok("accounts", "show", "x:acme", "--json").json()
    assert shown["status"] == "active"
    expires = datetime.fromisoformat(shown["expires_at"])
    # The renewed token's 2 h, no longer the 3 h left of the old one.
    assert utcnow() + timedelta(minutes=110) < expires < utcnow() + timedelta(minutes=125)
    for secret in issued.values:
        assert secret not in err
