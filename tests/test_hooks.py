"""Event hooks (AUTOPOSTR_ON_EVENT): a command gets the event on stdin, a URL gets a POST,
and a broken hook never changes what was published. Both engines."""

from __future__ import annotations

import json
import shlex
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Cli, new_post

FAILING = {"AUTOPOSTR_SANDBOX_FAIL_RATE": "1", "AUTOPOSTR_MAX_ATTEMPTS": "1"}
EVENT_KEYS = {
    "event",
    "at",
    "post",
    "destination",
    "account",
    "status",
    "attempt",
    "remote_id",
    "url",
    "error",
    "next_attempt_at",
}


def publish(cli: Cli, post: str, env: dict[str, str]) -> dict[str, Any]:
    """`posts publish POST --json` with the hook in the environment; the post it prints."""
    run = cli("posts", "publish", post, "--json", env=env)
    assert run.exception is None, run
    data = run.json()
    assert isinstance(data, dict)
    return data


def test_a_command_receives_each_event_as_json_on_stdin(
    sandbox: str, cli: Cli, tmp_path: Path
) -> None:
    events = tmp_path / "events with space.jsonl"
    target = shlex.quote(str(events))
    # Quoted as in a shell: the hook is split with shlex, so the script stays one argument.
    hook = shlex.join(["sh", "-c", f"cat >> {target}; echo >> {target}"])
    good, bad = new_post(cli, "good"), new_post(cli, "bad")

    published = publish(cli, good, {"AUTOPOSTR_ON_EVENT": hook})
    assert published["status"] == "published"
    failed = publish(cli, bad, {"AUTOPOSTR_ON_EVENT": hook, **FAILING})
    assert failed["status"] == "failed"

    received = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    assert [(e["event"], e["post"]) for e in received] == [("published", good), ("failed", bad)]
    for event in received:
        assert set(event) == EVENT_KEYS
        assert event["account"] == "sandbox:demo"
        assert event["at"].endswith("+00:00")
    ok, broken = received
    (dest,) = published["destinations"]
    assert ok["destination"] == dest["id"]
    assert ok["remote_id"] == dest["remote_id"] and ok["url"] == dest["url"]
    assert ok["error"] is None
    assert "simulated transient failure" in broken["error"]
    assert broken["remote_id"] is None


class Recorder(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]]
    answer = 204

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.requests.append(
            {
                "path": self.path,
                "content_type": self.headers.get("Content-Type"),
                "body": json.loads(self.rfile.read(length)),
            }
        )
        self.send_response(self.answer)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


@pytest.fixture
def hook_server() -> Iterator[tuple[str, type[Recorder]]]:
    handler = type("Handler", (Recorder,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/autopostr", handler
    finally:
        server.shutdown()
        server.server_close()


def test_a_url_receives_a_json_post(
    sandbox: str, cli: Cli, hook_server: tuple[str, type[Recorder]]
) -> None:
    url, handler = hook_server
    good, bad = new_post(cli, "good"), new_post(cli, "bad")
    publish(cli, good, {"AUTOPOSTR_ON_EVENT": url})
    publish(cli, bad, {"AUTOPOSTR_ON_EVENT": url, **FAILING})

    assert [r["path"] for r in handler.requests] == ["/hooks/autopostr"] * 2
    assert all(r["content_type"] == "application/json" for r in handler.requests)
    bodies = [r["body"] for r in handler.requests]
    assert [(b["event"], b["post"]) for b in bodies] == [("published", good), ("failed", bad)]
    assert set(bodies[0]) == EVENT_KEYS
    assert bodies[0]["url"].startswith("https://sandbox.autopostr.invalid/demo/")


@pytest.mark.parametrize(
    "hook",
    [
        "sh -c 'cat > /dev/null; exit 3'",
        "/nonexistent/autopostr-hook",
        "sh -c 'sleep 0.1; kill -9 $$'",
        "http://127.0.0.1:1/down",
        "answers-500",
    ],
)
def test_a_broken_hook_does_not_change_what_was_published(
    sandbox: str, cli: Cli, hook_server: tuple[str, type[Recorder]], hook: str
) -> None:
    url, handler = hook_server
    if hook == "answers-500":
        handler.answer = 500
        hook = url
    post = new_post(cli)
    run = cli("posts", "publish", post, "--json", env={"AUTOPOSTR_ON_EVENT": hook})
    assert run.exit_code == 0, run.stderr
    data = run.json()
    assert data["status"] == "published"
    (dest,) = data["destinations"]
    assert dest["status"] == "published" and dest["remote_id"]
    shown = cli.ok("posts", "show", post, "--json").json()
    assert shown["status"] == "published"
    assert shown["destinations"][0]["remote_id"] == dest["remote_id"]


def test_a_failing_hook_is_logged_without_the_secret_in_its_address(
    sandbox: str,
    cli: Cli,
    hook_server: tuple[str, type[Recorder]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Slack-style hook URLs carry their token in the path; commands may in arguments."""
    url, handler = hook_server
    handler.answer = 500
    for target in (f"{url}/services/T0/B0/hook-token-123", "false --key hook-token-123"):
        caplog.clear()
        cli.ok("posts", "publish", new_post(cli), env={"AUTOPOSTR_ON_EVENT": target})
        assert "event hook" in caplog.text
        assert "hook-token-123" not in caplog.text


def test_a_slow_hook_does_not_slow_the_daemon_and_sigterm_delivers_the_rest(
    sandbox: str, cli: Cli, tmp_path: Path
) -> None:
    """Events go out on their own thread in a daemon: with one publishing slot and a hook
    that takes a second, three posts still go out at once; SIGTERM waits for the hooks."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.helpers import make_due

    events = tmp_path / "events.jsonl"
    hook = shlex.join(
        [
            "sh",
            "-c",
            f"sleep 1; cat >> {shlex.quote(str(events))}; echo >> {shlex.quote(str(events))}",
        ]
    )
    posts = []
    for text in ("one", "two", "three"):
        data = cli.ok(
            "posts", "create", "--to", "sandbox:demo", "--text", text, "--at", "+1h", "--json"
        ).json()
        make_due(int(data["id"]))
        posts.append(str(data["id"]))
    daemon = subprocess.Popen(
        [sys.executable, "-m", "autopostr", "daemon", "run", "--concurrency", "1"],
        env={**os.environ, "AUTOPOSTR_ON_EVENT": hook, "AUTOPOSTR_HEARTBEAT_SECONDS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not all(
            cli.ok("posts", "show", p, "--json").json()["status"] == "published" for p in posts
        ):
            assert time.monotonic() < deadline, "the posts were not published"
            time.sleep(0.1)
        # All three are out while the hook is still busy with the first event (run in
        # the publishing slot, two events would have been delivered by now).
        text = events.read_text() if events.exists() else ""
        assert len([line for line in text.splitlines() if line.strip()]) <= 1
    finally:
        daemon.send_signal(signal.SIGTERM)
        _out, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err
    received = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    assert [e["post"] for e in received] == posts  # all of them, in order
