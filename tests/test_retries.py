"""Retries against a real HTTP endpoint (the webhook adapter and a scripted local server):
429 with reset headers, 503s, timeouts, permanent 4xx, expired tokens."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest

from autopostr.platforms.webhook import sign
from tests.fakes.http_server import Answer, ScriptedServer, scripted_server
from tests.helpers import Cli, destination, due_again, due_post, run_once

SITE = "webhook:site"  # the `site` fixture's account
TEXT = "Hello hook"


def seconds_until(iso: object) -> float:
    assert isinstance(iso, str)
    return datetime.fromisoformat(iso).timestamp() - time.time()


def test_success_is_signed_and_carries_the_post(site: ScriptedServer, cli: Cli) -> None:
    post_id = due_post(cli, TEXT, to=SITE)
    site.push(Answer(200, {"id": "remote-1", "url": "https://example.test/p/1"}))
    (outcome,) = run_once(cli)
    assert outcome["status"] == "published" and outcome["remote_id"] == "remote-1"
    (request,) = site.received
    assert request.json()["text"] == TEXT and request.json()["post_id"] == int(post_id)
    expected = sign("s3cr3t", request.headers["x-autopostr-timestamp"], request.body)
    assert request.headers["x-autopostr-signature"] == expected
    assert destination(cli, post_id)["url"] == "https://example.test/p/1"


def test_429_with_retry_after_waits_at_least_that_long(site: ScriptedServer, cli: Cli) -> None:
    post_id = due_post(cli, TEXT, to=SITE)
    site.push(Answer(429, {"error": "slow down"}, {"Retry-After": "120"}))
    asked = time.time()  # the 429 came after this: the retry is 120 s after it at least
    (outcome,) = run_once(cli)
    assert outcome["status"] == "retrying"
    retry_at = datetime.fromisoformat(outcome["next_attempt_at"]).timestamp()
    assert asked + 120 <= retry_at <= time.time() + 3600
    assert "429" in str(destination(cli, post_id)["error"])
    assert run_once(cli) == []  # not due again yet


def test_429_with_an_epoch_reset_header_waits_until_the_reset(
    site: ScriptedServer, cli: Cli
) -> None:
    due_post(cli, TEXT, to=SITE)
    reset = int(time.time()) + 900
    site.push(Answer(429, {"title": "Too Many Requests"}, {"x-rate-limit-reset": str(reset)}))
    (outcome,) = run_once(cli)
    assert outcome["status"] == "retrying"
    assert abs(seconds_until(outcome["next_attempt_at"]) - 900) < 5


def test_503_then_success_sends_the_same_idempotency_key(site: ScriptedServer, cli: Cli) -> None:
    post_id = due_post(cli, TEXT, to=SITE)
    site.push(Answer(503, b"upstream down"), Answer(200, {"id": "ok"}))
    assert run_once(cli)[0]["status"] == "retrying"
    due_again()
    assert run_once(cli)[0]["status"] == "published"
    assert destination(cli, post_id)["attempts"] == 2
    keys = {r.headers["idempotency-key"] for r in site.received}
    assert len(site.received) == 2 and len(keys) == 1


def test_gives_up_after_max_attempts(site: ScriptedServer, cli: Cli) -> None:
    post_id = due_post(cli, TEXT, to=SITE)
    site.default = Answer(502, b"bad gateway")
    for attempt in range(1, 4):
        (outcome,) = run_once(cli, AUTOPOSTR_MAX_ATTEMPTS="3")
        assert outcome["attempt"] == attempt
        due_again()
    assert outcome["status"] == "failed" and "gave up after 3 attempts" in str(outcome["error"])
    assert cli.ok("posts", "show", post_id, "--json").json()["status"] == "failed"
    assert len(site.received) == 3


def test_permanent_4xx_fails_at_once_with_the_platforms_message(
    site: ScriptedServer, cli: Cli
) -> None:
    post_id = due_post(cli, TEXT, to=SITE)
    site.push(Answer(400, {"error": {"message": "Text contains a banned word", "code": 100}}))
    (outcome,) = run_once(cli)
    assert outcome["status"] == "failed" and outcome["attempt"] == 1
    assert "Text contains a banned word" in str(outcome["error"])
    assert destination(cli, post_id)["status"] == "failed"
    assert len(site.received) == 1


def test_401_without_a_way_to_renew_fails_and_asks_for_a_reconnect(
    site: ScriptedServer, cli: Cli
) -> None:
    due_post(cli, TEXT, to=SITE)
    site.default = Answer(401, {"error": "invalid_token"})
    (outcome,) = run_once(cli)
    assert outcome["status"] == "failed"
    assert len(site.received) == 1  # the same refused token is not sent again
    assert "autopostr accounts add webhook --handle site" in str(outcome["error"])
    account = cli.ok("accounts", "show", "webhook:site", "--json").json()
    assert account["status"] == "needs_reconnect"


def test_connection_refused_is_retried(initialized: str, cli: Cli) -> None:
    with scripted_server() as server:
        url = server.url
    cli.ok("accounts", "add", "webhook", input=json.dumps({"handle": "site", "url": url + "/gone"}))
    due_post(cli, TEXT, to=SITE)
    (outcome,) = run_once(cli)
    assert outcome["status"] == "retrying" and "cannot reach" in str(outcome["error"])


def test_a_timeout_after_sending_is_never_resent_blindly(site: ScriptedServer, cli: Cli) -> None:
    post_id = due_post(cli, TEXT, to=SITE)
    site.push(Answer(200, {"id": "late"}, delay=1.5))
    (outcome,) = run_once(cli, AUTOPOSTR_HTTP_TIMEOUT="0.3")
    assert outcome["status"] == "retrying" and "may have been sent" in str(outcome["error"])
    due_again()
    # A webhook cannot say whether it got the post: a person decides.
    (second,) = run_once(cli, AUTOPOSTR_HTTP_TIMEOUT="0.3")
    assert second["status"] == "needs_review"
    time.sleep(1.3)
    assert len(site.received) == 1
    assert destination(cli, post_id)["status"] == "needs_review"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "120"}, 120.0),
        ({"x-rate-limit-reset": "1700000900"}, 900.0),  # X: epoch seconds
        ({"x-ratelimit-reset": "2023-11-14T22:28:20Z"}, 900.0),  # Mastodon: ISO time
        ({"ratelimit-reset": "30"}, 30.0),  # the draft standard: seconds to wait
        ({"ratelimit-reset": "1700000300"}, 300.0),  # Bluesky: epoch seconds
        ({}, None),
    ],
)
def test_rate_limit_headers_give_the_wait(headers: dict[str, str], expected: float | None) -> None:
    from autopostr.platforms.http import retry_after

    assert retry_after(headers, now=1_700_000_000.0) == expected


@pytest.mark.parametrize(
    ("status", "creates", "maybe_sent"),
    [
        (503, True, True),  # the post may exist: look before sending again
        (503, False, False),
        (429, True, False),  # throttled before anything was made
    ],
)
def test_a_server_error_on_a_request_that_creates_may_have_made_it(
    status: int, creates: bool, maybe_sent: bool
) -> None:
    import httpx2

    from autopostr.platforms.base import TransientError
    from autopostr.platforms.http import raise_for_status

    response = httpx2.Response(status, json={"error": "busy"})
    with pytest.raises(TransientError) as raised:
        raise_for_status(response, "Demo", creates=creates)
    assert raised.value.maybe_sent is maybe_sent
