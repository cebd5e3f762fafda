"""The webhook destination beyond retries (see test_retries): adding one, media inline or
described, threads and first comments, Discord's message ids and files, delete events.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from autopostr.config import load_settings
from autopostr.platforms.base import (
    AccountRef,
    NotSupported,
    PublishRequest,
)
from autopostr.platforms.webhook import WebhookPlatform, sign
from tests.fakes.http_server import Answer, ScriptedServer
from tests.helpers import Cli, due_post, media_item
from tests.media_samples import image, mp4


def account(server: ScriptedServer, fmt: str = "json", secret: str | None = "s3cr3t") -> AccountRef:
    return AccountRef(
        id=1,
        platform="webhook",
        handle="site",
        credentials={"url": server.url + "/hook", **({"access_token": secret} if secret else {})},
        extra={"format": fmt},
    )


def request(*parts: str, **kw: Any) -> PublishRequest:
    return PublishRequest(post_id=3, destination_id=4, parts=list(parts), idempotency_key="k", **kw)


def test_adding_a_webhook_checks_its_url_and_keeps_the_secret_sealed(
    initialized: str, cli: Cli
) -> None:
    bad = cli("accounts", "add", "webhook", input='{"handle": "site", "url": "ftp://x"}')
    assert bad.exit_code == 5 and '"url": "https://…"' in bad.stderr
    wrong_format = '{"handle": "site", "url": "https://e.test", "format": "teams"}'
    assert cli("accounts", "add", "webhook", input=wrong_format).exit_code == 5
    ok = '{"handle": "site", "url": "https://e.test/h", "secret": "s3cr3t", "format": "discord"}'
    added = cli.ok("accounts", "add", "webhook", "--json", input=ok).json()
    assert added["handle"] == "site" and added["status"] == "active"
    assert "s3cr3t" not in cli.ok("accounts", "show", "webhook:site", "--json").stdout


def test_a_thread_and_its_first_comment_travel_in_one_signed_body(hook: ScriptedServer) -> None:
    platform = WebhookPlatform(load_settings())
    hook.push(Answer(200, {"id": "r1"}))
    result = platform.publish(account(hook), request("one", "two", first_comment="after"))
    assert result.remote_id == "r1"
    (sent,) = hook.received
    body = sent.json()
    assert body["parts"] == ["one", "two"] and body["text"] == "one\n\ntwo"
    assert body["first_comment"] == "after"
    assert sent.headers["x-autopostr-signature"] == sign(
        "s3cr3t", sent.headers["x-autopostr-timestamp"], sent.body
    )


def test_images_go_inline_and_big_media_are_described(
    hook: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    picture = image(tmp_path / "a.png", "PNG", (60, 40))
    item = media_item(picture, "image/png", width=60, height=40, alt_text="a square")
    WebhookPlatform(load_settings()).publish(account(hook), request("pic", media=[item]))
    [sent_media] = hook.received[-1].json()["media"]
    assert base64.b64decode(sent_media["data_base64"]) == picture.read_bytes()
    assert sent_media["alt_text"] == "a square" and sent_media["width"] == 60

    clip = mp4(tmp_path / "v.mp4")
    monkeypatch.setenv("AUTOPOSTR_WEBHOOK_INLINE_BYTES", "100")
    video = media_item(clip, "video/mp4", duration=3.0)
    WebhookPlatform(load_settings()).publish(account(hook), request("vid", media=[video]))
    [described] = hook.received[-1].json()["media"]
    assert "data_base64" not in described
    assert described["sha256"] == video.sha256 and described["size"] == clip.stat().st_size


def test_discord_gets_files_and_gives_back_a_message_id_to_delete(
    hook: ScriptedServer, tmp_path: Path
) -> None:
    platform = WebhookPlatform(load_settings())
    picture = image(tmp_path / "a.png", "PNG")
    hook.push(Answer(200, {"id": "112233", "channel_id": "9"}))
    result = platform.publish(
        account(hook, "discord"), request("hello discord", media=[media_item(picture, "image/png")])
    )
    assert result.remote_id == "112233"
    sent = hook.received[-1]
    assert sent.path == "/hook?wait=true"
    assert sent.headers["content-type"].startswith("multipart/form-data")
    assert b'name="payload_json"' in sent.body and b"hello discord" in sent.body
    assert b'name="files[0]"; filename="a.png"' in sent.body
    assert picture.read_bytes() in sent.body

    hook.push(Answer(204, b""))
    assert platform.delete(account(hook, "discord"), "112233") is True
    assert (hook.received[-1].method, hook.received[-1].path) == (
        "DELETE",
        "/hook/messages/112233",
    )
    hook.push(Answer(404, {"message": "Unknown Message", "code": 10008}))
    assert platform.delete(account(hook, "discord"), "112233") is False  # already gone


def test_json_receivers_get_a_signed_delete_event(hook: ScriptedServer) -> None:
    WebhookPlatform(load_settings()).delete(account(hook), "r1")
    sent = hook.received[-1]
    assert json.loads(sent.body) == {"event": "delete", "account": "site", "remote_id": "r1"}
    assert sent.headers["x-autopostr-signature"] == sign(
        "s3cr3t", sent.headers["x-autopostr-timestamp"], sent.body
    )


def test_what_a_webhook_cannot_do_says_so(hook: ScriptedServer) -> None:
    platform = WebhookPlatform(load_settings())
    with pytest.raises(NotSupported, match="Slack"):
        platform.delete(account(hook, "slack"), "r1")
    with pytest.raises(NotSupported, match="no metrics"):
        platform.metrics(account(hook), "r1")
    assert hook.received == []


def test_accounts_test_pings_a_json_receiver_and_asks_discord(
    initialized: str, cli: Cli, hook: ScriptedServer
) -> None:
    credentials = json.dumps({"handle": "site", "url": hook.url + "/hook", "secret": "s3cr3t"})
    cli.ok("accounts", "add", "webhook", input=credentials)
    cli.ok("accounts", "test", "webhook:site")
    ping = hook.received[-1]
    assert json.loads(ping.body) == {"event": "ping", "account": "site"}
    assert ping.headers["x-autopostr-signature"].startswith("sha256=")

    hook.push(Answer(404, {"message": "Unknown Webhook", "code": 10015}))
    discord = json.dumps({"handle": "chat", "url": hook.url + "/hook", "format": "discord"})
    cli.ok("accounts", "add", "webhook", input=discord)
    run = cli("accounts", "test", "webhook:chat")
    assert run.exit_code == 6 and "Unknown Webhook" in run.stderr


def test_accounts_test_on_the_sandbox_needs_no_network(initialized: str, cli: Cli) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    seen = cli.ok("accounts", "test", "sandbox:demo", "--json").json()
    assert seen["ok"] is True and seen["platform_says"]["handle"] == "demo"


# -- the URL is a credential ----------------------------------------------------

URL_TOKEN = "T0k3n-in-the-path-5e1f"


def stored_extra(handle: str = "site") -> str:
    """The account's `extra` column as it is in the database."""
    from sqlalchemy import text

    from tests.helpers import db_session

    with db_session() as session:
        return str(
            session.execute(
                text("SELECT extra FROM social_accounts WHERE handle = :h"), {"h": handle}
            ).scalar_one()
        )


def set_stored_extra(value: dict[str, Any], handle: str = "site") -> None:
    from sqlalchemy import text

    from tests.helpers import db_session

    with db_session() as session:
        session.execute(
            text("UPDATE social_accounts SET extra = :e WHERE handle = :h"),
            {"e": json.dumps(value), "h": handle},
        )


def test_the_url_is_sealed_and_no_error_log_or_hook_line_shows_it(
    initialized: str,
    cli: Cli,
    hook: ScriptedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    events = tmp_path / "events.jsonl"
    monkeypatch.setenv("AUTOPOSTR_ON_EVENT", f"sh -c 'cat >> {events}; echo >> {events}'")
    monkeypatch.setenv("AUTOPOSTR_MAX_ATTEMPTS", "1")
    url = f"{hook.url}/api/webhooks/7/{URL_TOKEN}?token=q-{URL_TOKEN}"
    outputs = [
        cli.ok("accounts", "add", "webhook", input=json.dumps({"handle": "site", "url": url}))
    ]
    assert URL_TOKEN not in stored_extra()
    assert json.loads(stored_extra())["url"].startswith("sealed:v1.")

    first = due_post(cli, "times out", to="webhook:site")
    hook.push(Answer(200, {"id": "late"}, delay=1.5))  # the client gives up first
    outputs.append(cli("daemon", "run", "--once", env={"AUTOPOSTR_HTTP_TIMEOUT": "0.3"}))
    second = due_post(cli, "refused", to="webhook:site")
    hook.push(Answer(404, {"message": "Unknown Webhook"}))
    outputs.append(cli("daemon", "run", "--once", "--json"))
    hook.push(Answer(500, {"message": "down"}))
    outputs.append(cli("accounts", "test", "webhook:site"))
    for args in (
        ("posts", "show", first, "--json"),
        ("posts", "show", second),
        ("logs", "--json"),
        ("logs",),
        ("accounts", "show", "webhook:site", "--json"),
        ("accounts", "list", "--json"),
        ("accounts", "list"),
    ):
        outputs.append(cli.ok(*args))

    assert [r.path for r in hook.received][:2] == [
        f"/api/webhooks/7/{URL_TOKEN}?token=q-{URL_TOKEN}"
    ] * 2
    shown = "\n".join(r.stdout + r.stderr for r in outputs)
    hook_lines = events.read_text()
    assert "did not answer in time" in shown and "Unknown Webhook" in shown
    assert '"failed"' in hook_lines and "127.0.0.1" in hook_lines  # the host is named
    logs = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    assert "HTTP Request" in logs
    for where, text in (("output", shown), ("hook lines", hook_lines), ("log", logs)):
        assert URL_TOKEN not in text, f"the webhook URL reached the {where}"


def test_a_url_stored_in_clear_keeps_working_until_rotate_seals_it(
    initialized: str, cli: Cli, hook: ScriptedServer
) -> None:
    url = f"{hook.url}/api/webhooks/7/{URL_TOKEN}"
    cli.ok("accounts", "add", "webhook", input=json.dumps({"handle": "site", "url": url}))
    set_stored_extra({"format": "json", "url": url})  # as an older autopostr kept it

    cli.ok("accounts", "test", "webhook:site")
    assert hook.received[-1].path == f"/api/webhooks/7/{URL_TOKEN}"
    checks = {c["name"]: c for c in cli.ok("doctor", "--json").json()}
    sealed = checks["stored credentials are sealed"]
    assert sealed["status"] == "warn"
    assert "webhook:site (url)" in sealed["detail"] and "keys rotate" in sealed["fix"]
    assert URL_TOKEN not in json.dumps(checks)

    rotated = cli.ok("keys", "rotate", "--yes", "--json").json()
    assert rotated["reencrypted"] == 1
    assert URL_TOKEN not in stored_extra()
    assert json.loads(stored_extra())["url"].startswith(f"sealed:v1.{rotated['new_key']}.")
    checks = {c["name"]: c for c in cli.ok("doctor", "--json").json()}
    assert checks["stored credentials are sealed"]["status"] == "ok"
    cli.ok("accounts", "test", "webhook:site")
    assert hook.received[-1].path == f"/api/webhooks/7/{URL_TOKEN}"


def test_rotating_the_key_reseals_a_sealed_url_and_the_webhook_still_publishes(
    initialized: str, cli: Cli, hook: ScriptedServer
) -> None:
    url = f"{hook.url}/api/webhooks/7/{URL_TOKEN}"
    added = {"handle": "site", "url": url, "secret": "s3cr3t"}
    cli.ok("accounts", "add", "webhook", input=json.dumps(added))
    old_key = cli.ok("keys", "status", "--json").json()["active"]
    sealed_before = json.loads(stored_extra())["url"]
    assert sealed_before.startswith(f"sealed:v1.{old_key}.")

    rotated = cli.ok("keys", "rotate", "--yes", "--json").json()
    assert rotated["old_keys"] == [old_key]
    assert rotated["reencrypted"] == 2  # the secret's column and the URL in the extra fields
    sealed_after = json.loads(stored_extra())["url"]
    assert sealed_after.startswith(f"sealed:v1.{rotated['new_key']}.")
    assert sealed_after != sealed_before and URL_TOKEN not in stored_extra()

    post = due_post(cli, "after the rotation", to="webhook:site")
    hook.push(Answer(200, {"id": "r1"}))
    run = cli("daemon", "run", "--once", "--json")
    assert run.exit_code == 0, run.stderr
    [outcome] = run.json()
    assert outcome["status"] == "published" and outcome["remote_id"] == "r1"
    (sent,) = hook.received
    assert sent.path == f"/api/webhooks/7/{URL_TOKEN}"  # the URL opened under the new key
    assert sent.headers["x-autopostr-signature"] == sign(
        "s3cr3t", sent.headers["x-autopostr-timestamp"], sent.body
    )
    shown = cli.ok("posts", "show", post, "--json").json()
    assert shown["destinations"][0]["status"] == "published"


def test_a_url_stored_in_clear_is_sealed_when_the_account_is_next_written(
    initialized: str, cli: Cli, hook: ScriptedServer
) -> None:
    from sqlmodel import select

    from autopostr import accounts
    from autopostr.models import SocialAccount
    from tests.helpers import db_session

    url = f"{hook.url}/api/webhooks/7/{URL_TOKEN}"
    cli.ok("accounts", "add", "webhook", input=json.dumps({"handle": "site", "url": url}))
    set_stored_extra({"format": "json", "url": url})
    with db_session() as session:
        (account,) = session.exec(select(SocialAccount)).all()
        accounts.store_credentials(session, load_settings(), account, {"access_token": "new"})
    assert URL_TOKEN not in stored_extra()
    cli.ok("accounts", "test", "webhook:site")
    assert hook.received[-1].path == f"/api/webhooks/7/{URL_TOKEN}"
    assert hook.received[-1].headers["x-autopostr-signature"] == sign(
        "new", hook.received[-1].headers["x-autopostr-timestamp"], hook.received[-1].body
    )


def test_when_it_needs_reconnecting_the_printed_fix_runs_as_printed(
    initialized: str, cli: Cli, hook: ScriptedServer
) -> None:
    from tests.helpers import run_printed_fixes

    url = hook.url + "/hook"
    added = {"handle": "site", "url": url, "secret": "old-s3cr3t"}
    cli.ok("accounts", "add", "webhook", input=json.dumps(added))
    post = cli.ok("posts", "create", "--to", "webhook:site", "--text", "hi", "--json").json()
    hook.default = Answer(401, {"error": "invalid_token"})  # the receiver's secret changed
    published = cli("posts", "publish", post["id"], "--json")
    assert published.exit_code == 6
    [dest] = published.json()["destinations"]
    assert cli.ok("accounts", "show", "webhook:site", "--json").json()["status"] == (
        "needs_reconnect"
    )
    fix = (
        'pipe {"url": "…", "format": "json", "secret": "…"} to '
        "`autopostr accounts add webhook --handle site`"
    )
    assert fix in dest["error"] and url not in dest["error"]  # the URL is a secret too
    hook.default = Answer(200, {"id": "r2"})
    run_printed_fixes(cli, dest["error"], {"url": url, "secret": "n3w-s3cr3t"})
    assert cli.ok("accounts", "show", "webhook:site", "--json").json()["status"] == "active"
    cli.ok("posts", "retry", post["id"])
    sent = hook.received[-1]
    assert json.loads(sent.body)["text"] == "hi"
    assert sent.headers["x-autopostr-signature"] == sign(
        "n3w-s3cr3t", sent.headers["x-autopostr-timestamp"], sent.body
    )
