"""The Mastodon adapter against a fake instance: connect (app registration, PKCE),
publishing text, images, video, threads and first comments, delete, metrics,
revoked tokens, rate limits, the instance's own limits and malformed answers."""

from __future__ import annotations

import hashlib
import json
import stat
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from autopostr.config import load_settings
from autopostr.platforms.base import (
    UNKNOWN,
    AccountRef,
    AuthExpired,
    Gone,
    MediaItem,
    PermanentError,
    Processing,
    PublishRequest,
    PublishResult,
    TransientError,
)
from autopostr.platforms.mastodon import (
    MastodonPlatform,
    forget_instance_limits,
    instance_url,
    mastodon_length,
)
from tests.fakes.mastodon_server import ACCOUNT_ID, FakeMastodon
from tests.fakes.platform_server import Response, browse
from tests.helpers import (
    Cli,
    db_session,
    destination,
    due_again,
    due_post,
    media_item,
    only_outcome,
)
from tests.media_samples import animated_gif, image, mp4

# What must hold on both engines (connect, a text publish, the revoked token, throttling)
# runs on both; the other CLI tests check Mastodon's side and run on SQLite only.
one_engine = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMastodon]:
    forget_instance_limits()  # a port may come back in a later test
    with FakeMastodon() as server:
        monkeypatch.setenv("AUTOPOSTR_MASTODON_MEDIA_POLL_SECONDS", "0.01")
        monkeypatch.setattr("webbrowser.open", lambda url: bool(browse(url)))
        yield server


def platform() -> MastodonPlatform:
    return MastodonPlatform(load_settings())


def account(fake: FakeMastodon, token: str | None = None) -> AccountRef:
    return AccountRef(
        id=1,
        platform="mastodon",
        handle=fake.handle,
        remote_id=ACCOUNT_ID,
        credentials={"access_token": token or fake.user_token()},
        extra={"instance": fake.url},
    )


def request(
    *parts: str, media: list[MediaItem] | None = None, first_comment: str | None = None
) -> PublishRequest:
    return PublishRequest(
        post_id=1,
        destination_id=1,
        parts=list(parts),
        media=media or [],
        first_comment=first_comment,
        idempotency_key="k-" + hashlib.sha1(repr(parts).encode()).hexdigest()[:12],
    )


def connect(cli: Cli, fake: FakeMastodon, port: str = "0") -> dict[str, Any]:
    run = cli.ok(
        "accounts", "connect", "mastodon", "--instance", fake.url, "--port", port, "--json"
    )
    [connected] = json.loads(run.stdout)
    return dict(connected)


# -- connect ------------------------------------------------------------------


def free_port() -> str:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def test_connect_registers_the_app_once_and_proves_pkce(
    initialized: str, cli: Cli, fake: FakeMastodon, tmp_path: Path
) -> None:
    port = free_port()
    connected = connect(cli, fake, port)
    assert connected["handle"] == fake.handle and connected["status"] == "active"
    assert connected["expires_at"] is None  # Mastodon tokens do not expire
    assert fake.oauth.pkce_verified == 1
    [asked] = fake.oauth.authorize_requests
    assert asked["code_challenge_method"] == "S256" and asked["state"]
    [registered] = fake.calls("POST", "/api/v1/apps")
    form = registered.form()
    assert form["client_name"] == "autopostr"
    assert form["redirect_uris"] == asked["redirect_uri"] == f"http://127.0.0.1:{port}/callback"
    assert set(asked["scope"].split()) <= set(form["scopes"].split())

    apps_file = tmp_path / "home" / "mastodon-apps.json"
    assert stat.S_IMODE(apps_file.stat().st_mode) == 0o600
    [app] = fake.oauth.apps.values()
    assert app.client_secret in apps_file.read_text()

    # Connecting again reuses the registered app and renews the token.
    connect(cli, fake, port)
    assert len(fake.calls("POST", "/api/v1/apps")) == 1
    assert fake.oauth.pkce_verified == 2

    shown = cli.ok("accounts", "show", f"mastodon:{fake.handle}", "--json").stdout
    assert not any(t in shown for t in fake.oauth.access_tokens)
    assert app.client_secret not in shown
    tested = cli.ok("accounts", "test", f"mastodon:{fake.handle}", "--json").json()
    assert tested["platform_says"]["handle"] == fake.handle

    cli.ok("accounts", "disconnect", "--yes", f"mastodon:{fake.handle}")
    [revoked] = fake.calls("POST", "/oauth/revoke")
    assert revoked.form()["token"] in fake.oauth.revoked


@one_engine
def test_a_server_that_forgot_the_app_gets_it_registered_again(
    initialized: str, cli: Cli, fake: FakeMastodon
) -> None:
    port = free_port()
    connect(cli, fake, port)
    fake.oauth.forget_apps()
    connect(cli, fake, port)
    assert len(fake.calls("POST", "/api/v1/apps")) == 2
    assert fake.oauth.pkce_verified == 2


def test_the_default_instance_comes_from_the_api_url_setting(
    fake: FakeMastodon, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autopostr.platforms import oauth

    monkeypatch.setenv("AUTOPOSTR_MASTODON_API_URL", fake.url)
    prompter = oauth.Prompter(lambda _url: None, lambda url: bool(browse(url)), lambda: "")
    [granted] = oauth.connect(load_settings(), platform(), {}, prompter, port=0)
    assert granted.handle == fake.handle and granted.remote_id == ACCOUNT_ID
    assert granted.credentials["instance"] == fake.url
    assert "refresh_token" not in granted.credentials


@one_engine
def test_accounts_add_checks_the_token_on_its_instance(
    initialized: str, cli: Cli, fake: FakeMastodon
) -> None:
    credentials = {"handle": fake.handle, "access_token": fake.user_token(), "instance": fake.url}
    cli.ok("accounts", "add", "mastodon", input=json.dumps(credentials))
    assert cli.ok("accounts", "test", f"mastodon:{fake.handle}").exit_code == 0
    wrong = {"handle": "bob@" + fake.domain, "access_token": "nope", "instance": fake.url}
    run = cli("accounts", "add", "mastodon", input=json.dumps(wrong))
    assert run.exit_code != 0 and "The access token is invalid" in run.stderr


def test_instance_addresses() -> None:
    assert instance_url("mastodon.social") == "https://mastodon.social"
    assert instance_url("https://Mastodon.Social/@alice") == "https://mastodon.social"
    assert instance_url("@alice@fosstodon.org") == "https://fosstodon.org"
    assert instance_url("http://127.0.0.1:3000") == "http://127.0.0.1:3000"
    with pytest.raises(PermanentError, match="https"):
        instance_url("http://mastodon.social")
    with pytest.raises(PermanentError, match="--instance"):
        instance_url(" ")


# -- publishing through the daemon -----------------------------------------------


def test_text_publishes_with_the_destinations_idempotency_key(
    initialized: str, cli: Cli, fake: FakeMastodon
) -> None:
    from sqlmodel import select

    from autopostr.models import PostDestination

    connect(cli, fake)
    post_id = due_post(cli, "Hello fediverse", to=f"mastodon:{fake.handle}")
    outcome = only_outcome(cli)
    assert outcome["status"] == "published"
    [status] = fake.posted()
    assert outcome["remote_id"] == status["id"] and outcome["url"] == status["url"]
    assert status["content"] == "<p>Hello fediverse</p>"
    with db_session() as session:
        key = session.exec(select(PostDestination)).one().idempotency_key
    [sent] = fake.calls("POST", "/api/v1/statuses")
    assert sent.headers["idempotency-key"] == key
    assert destination(cli, post_id)["url"] == status["url"]


def test_only_what_mastodon_links_counts_as_a_short_link_or_mention(
    initialized: str, cli: Cli, fake: FakeMastodon
) -> None:
    """Mastodon's own spec cases, refused (or taken) when the post is written."""
    connect(cli, fake)
    to = f"mastodon:{fake.handle}"
    link = "http://" + "b" * 30 + ".com/example"
    refused = {
        "a" * 476 + link: 525,  # glued to a word: not linked, counted in full
        "http://example.com/valid?" + "#foo?" * 1000: 5025,  # over 4096: not linked
        "@alice@" + "b" * 500 + ".com": 511,  # a domain over 253: not a mention
    }
    for text, length in refused.items():
        run = cli("posts", "create", "--to", to, "--text", text, "--at", "+1h")
        assert run.exit_code == 5, run.stderr
        assert f"the text is {length} characters, Mastodon's limit is 500" in run.stderr
    for text in ("a" * 476 + " " + link, "a" * 475 + " @alice@" + "b" * 30 + ".com"):
        cli.ok("posts", "create", "--to", to, "--text", text, "--at", "+1h")


def test_a_revoked_token_asks_to_reconnect_and_reconnecting_fixes_it(
    initialized: str, cli: Cli, fake: FakeMastodon
) -> None:
    connect(cli, fake)
    post_id = due_post(cli, "After the revoke", to=f"mastodon:{fake.handle}")
    fake.revoke_all()
    outcome = only_outcome(cli)
    assert outcome["status"] == "failed"
    assert "autopostr accounts connect mastodon" in outcome["error"]
    shown = cli.ok("accounts", "show", f"mastodon:{fake.handle}", "--json").json()
    assert shown["status"] == "needs_reconnect"
    assert fake.posted() == []

    connect(cli, fake)
    run = cli("posts", "retry", post_id, "--json")
    assert run.exit_code == 0, run.stderr
    assert destination(cli, post_id)["status"] == "published"
    assert len(fake.posted()) == 1


def test_throttling_retries_at_the_rate_limit_reset(
    initialized: str, cli: Cli, fake: FakeMastodon
) -> None:
    connect(cli, fake)
    post_id = due_post(cli, "Slow down", to=f"mastodon:{fake.handle}")
    reset = fake.throttle("/api/v1/statuses", 900, method="POST")
    outcome = only_outcome(cli)
    assert outcome["status"] == "retrying"
    retry_at = datetime.fromisoformat(outcome["next_attempt_at"])
    assert abs((retry_at - reset).total_seconds()) < 5
    assert "Too many requests" in destination(cli, post_id)["error"]
    due_again()
    assert only_outcome(cli)["status"] == "published"
    assert len(fake.posted()) == 1


@one_engine
def test_a_refused_post_fails_with_mastodons_message(
    initialized: str, cli: Cli, fake: FakeMastodon
) -> None:
    connect(cli, fake)
    post_id = due_post(cli, "Spam?", to=f"mastodon:{fake.handle}")
    fake.fail_next(
        "/api/v1/statuses",
        422,
        {"error": "Validation failed: Text contains a forbidden word"},
        method="POST",
    )
    outcome = only_outcome(cli)
    assert outcome["status"] == "failed" and outcome["attempt"] == 1
    assert "Validation failed: Text contains a forbidden word" in outcome["error"]
    assert destination(cli, post_id)["status"] == "failed"


@one_engine
def test_a_malformed_answer_is_checked_before_sending_again(
    initialized: str, cli: Cli, fake: FakeMastodon
) -> None:
    connect(cli, fake)
    post_id = due_post(cli, "Did it go out?", to=f"mastodon:{fake.handle}")
    fake.fail_next("/api/v1/statuses", 200, "<html>Bad gateway page</html>", method="POST")
    outcome = only_outcome(cli)
    assert outcome["status"] == "retrying"
    assert "without a status id" in outcome["error"]
    due_again()
    assert only_outcome(cli)["status"] == "published"
    assert fake.calls("GET", f"/api/v1/accounts/{ACCOUNT_ID}/statuses")  # it looked first
    assert len(fake.posted()) == 1
    assert destination(cli, post_id)["remote_id"] == fake.posted()[0]["id"]


@one_engine
def test_a_server_error_after_the_status_was_made_never_posts_it_twice(
    initialized: str, cli: Cli, fake: FakeMastodon
) -> None:
    connect(cli, fake)
    post_id = due_post(cli, "Made, then a 502", to=f"mastodon:{fake.handle}")
    fake.lost_answer = Response(502, "<html>502 Bad Gateway</html>")
    outcome = only_outcome(cli)
    assert outcome["status"] == "retrying"
    assert outcome["error"].startswith("(may have been sent)")
    fake.forget_idempotency_keys()  # the next attempt comes after the server's hour
    due_again()
    assert only_outcome(cli)["status"] == "published"
    [status] = fake.posted()
    assert destination(cli, post_id)["remote_id"] == status["id"]


@one_engine
def test_a_thread_interrupted_half_way_is_looked_up_before_sending_again(
    initialized: str, cli: Cli, fake: FakeMastodon
) -> None:
    connect(cli, fake)
    post_id = due_post(cli, "Part one\n---\nPart two", to=f"mastodon:{fake.handle}")
    fake.cut_after(1, 429, {"error": "Too many requests"})
    outcome = only_outcome(cli)
    assert outcome["status"] == "retrying"
    assert outcome["error"].startswith("(may have been sent)")
    assert "sent 1 of 2 statuses" in outcome["error"]
    # Over an hour later the server has forgotten the keys: resending would post part
    # one again, so a person is asked to look instead.
    fake.cut = None
    fake.forget_idempotency_keys()
    fake.posted()[0]["created_at"] = "2020-01-01T00:00:00.000Z"
    due_again()
    assert only_outcome(cli)["status"] == "needs_review"
    assert [s["content"] for s in fake.posted()] == ["<p>Part one</p>"]
    assert destination(cli, post_id)["status"] == "needs_review"


# -- the adapter on its own ----------------------------------------------------


def test_an_image_goes_up_with_its_alt_text(fake: FakeMastodon, tmp_path: Path) -> None:
    picture = media_item(image(tmp_path / "a.png", "PNG"), "image/png", alt_text="A red square")
    result = platform().publish(account(fake), request("Look", media=[picture]))
    [status] = fake.posted()
    assert result.remote_id == status["id"]
    [attached] = status["media_attachments"]
    assert attached["description"] == "A red square" and attached["type"] == "image"
    assert fake.digest(attached["id"]) == picture.sha256
    assert not fake.calls("GET", r"/api/v1/media/\d+")  # processed at once: no polling


def test_a_video_is_polled_until_processed(fake: FakeMastodon, tmp_path: Path) -> None:
    clip = media_item(mp4(tmp_path / "clip.mp4"), "video/mp4")
    fake.processing_polls = 3
    started = time.monotonic()
    platform().publish(account(fake), request("Watch", media=[clip]))
    assert time.monotonic() - started < 3
    [status] = fake.posted()
    [attached] = status["media_attachments"]
    assert attached["type"] == "video" and attached["url"]
    assert fake.digest(attached["id"]) == clip.sha256
    assert len(fake.calls("GET", r"/api/v1/media/\d+")) == 4  # three 206, then 200


def test_media_processing_that_lasts_is_resumed_by_what_is_left_and_threaded_once(
    fake: FakeMastodon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each hand-over names only the media still processing; the resumed publish makes
    the thread and its first comment once, the media on its first status."""
    monkeypatch.setenv("AUTOPOSTR_MASTODON_MEDIA_POLL_SECONDS", "5")
    fake.processing_polls = 10**6
    gifs = [media_item(animated_gif(tmp_path / f"{n}.gif"), "image/gif", id=n) for n in (1, 2)]
    thread = request("One", "Two", media=gifs, first_comment="Links below")
    with pytest.raises(Processing) as caught:
        platform().publish(account(fake), thread)
    state = json.loads(json.dumps(caught.value.resume))
    assert state["processing"] == [0, 1] and len(state["media_ids"]) == 2
    fake.media[state["media_ids"][0]].polls_left = 0
    with pytest.raises(Processing) as caught:
        platform().resume(account(fake), thread, state)
    state = json.loads(json.dumps(caught.value.resume))
    assert state["processing"] == [1]
    fake.media[state["media_ids"][1]].polls_left = 0
    result = platform().resume(account(fake), thread, state)
    statuses = fake.posted()
    assert [s["content"] for s in statuses] == ["<p>One</p>", "<p>Two</p>", "<p>Links below</p>"]
    assert result.remote_id == statuses[0]["id"]
    assert [m["id"] for m in statuses[0]["media_attachments"]] == state["media_ids"]
    assert len(fake.calls("POST", "/api/v2/media")) == 2


def test_failed_video_processing_is_permanent(fake: FakeMastodon, tmp_path: Path) -> None:
    clip = media_item(mp4(tmp_path / "clip.mp4"), "video/mp4")
    fake.fail_next(
        r"/api/v1/media/\d+",
        422,
        {"error": "Error processing thumbnail for uploaded media"},
        method="GET",
    )
    with pytest.raises(PermanentError, match="Error processing thumbnail"):
        platform().publish(account(fake), request("Broken", media=[clip]))
    assert fake.posted() == []


def test_a_thread_and_first_comment_chain_and_a_retry_does_not_duplicate(
    fake: FakeMastodon,
) -> None:
    thread = request("One", "Two", "Three", first_comment="Links below")
    ref = account(fake)
    result = platform().publish(ref, thread)
    statuses = fake.posted()
    assert [s["content"] for s in statuses] == [
        "<p>One</p>",
        "<p>Two</p>",
        "<p>Three</p>",
        "<p>Links below</p>",
    ]
    assert [s["in_reply_to_id"] for s in statuses] == [None] + [s["id"] for s in statuses[:-1]]
    assert result.remote_id == statuses[0]["id"]
    keys = [r.headers["idempotency-key"] for r in fake.calls("POST", "/api/v1/statuses")]
    assert keys[0] == thread.idempotency_key and len(set(keys)) == 4

    # The same request again (a retry after a lost answer) makes nothing new.
    again = platform().publish(ref, thread)
    assert again.remote_id == result.remote_id and len(fake.posted()) == 4


def test_a_thread_cut_short_by_a_refusal_says_what_went_out(fake: FakeMastodon) -> None:
    fake.cut_after(1, 422, {"error": "Validation failed: Text is spam"})
    with pytest.raises(PermanentError) as caught:
        platform().publish(account(fake), request("First", "Second"))
    [first] = fake.posted()
    assert "Validation failed: Text is spam" in caught.value.message
    assert f"sent 1 of 2 statuses; the first is {first['url']}" in caught.value.message


def test_delete_removes_the_whole_thread_and_tolerates_gone(fake: FakeMastodon) -> None:
    ref = account(fake)
    result = platform().publish(ref, request("Root", "Reply", first_comment="Comment"))
    assert platform().delete(ref, result.remote_id) is True
    assert fake.posted() == []
    assert len(fake.deleted) == 3
    assert platform().delete(ref, result.remote_id) is False  # already gone: nothing to do


def test_metrics_read_the_status_counts(fake: FakeMastodon) -> None:
    ref = account(fake)
    result = platform().publish(ref, request("Count me"))
    status = fake.statuses[result.remote_id]
    status.update(favourites_count=12, reblogs_count=3, replies_count=4, quotes_count=1)
    metrics = platform().metrics(ref, result.remote_id)
    # Mastodon counts no impressions: unknown, never zero.
    assert (metrics.likes, metrics.shares, metrics.comments, metrics.impressions) == (
        12,
        4,
        4,
        None,
    )
    assert metrics.raw["favourites_count"] == 12
    assert platform().metrics(ref, result.remote_id).likes == 13  # favourited once more
    assert platform().account_metrics(ref).followers == 42
    platform().delete(ref, result.remote_id)
    with pytest.raises(Gone):
        platform().metrics(ref, result.remote_id)


def test_the_instances_own_limits_are_checked_before_sending(fake: FakeMastodon) -> None:
    fake.config.max_characters = 20
    with pytest.raises(PermanentError, match="25 characters, this server's limit is 20"):
        platform().publish(account(fake), request("x" * 25))
    assert not fake.calls("POST", "/api/v1/statuses")


def test_a_long_link_counts_as_23_characters() -> None:
    link = "https://example.com/" + "a" * 600
    text = "Read " + link
    assert mastodon_length(text) == 5 + 23
    assert platform().text_fits(text)
    assert not platform().text_fits("x" * 501)
    assert mastodon_length("hi @bob@example.social") == len("hi @bob")


def test_a_server_without_v2_instance_uses_the_defaults(fake: FakeMastodon) -> None:
    fake.fail_next("/api/v2/instance", 404, {"error": "Not Found"})
    platform().publish(account(fake), request("Old server"))
    assert len(fake.posted()) == 1


def test_a_throttled_upload_carries_the_reset(fake: FakeMastodon, tmp_path: Path) -> None:
    picture = media_item(image(tmp_path / "a.png", "PNG"), "image/png")
    fake.throttle("/api/v2/media", 1800)
    with pytest.raises(TransientError) as caught:
        platform().publish(account(fake), request("Pic", media=[picture]))
    assert caught.value.retry_after is not None and 1790 < caught.value.retry_after <= 1800


def test_a_revoked_token_is_auth_expired_and_cannot_be_refreshed(fake: FakeMastodon) -> None:
    ref = account(fake)
    fake.revoke_all()
    with pytest.raises(AuthExpired, match="revoked"):
        platform().whoami(ref)
    assert platform().refresh(ref) is None


def test_malformed_account_answer_is_a_clean_error(fake: FakeMastodon) -> None:
    fake.fail_next("/api/v1/accounts/verify_credentials", 200, {"unexpected": True})
    with pytest.raises(PermanentError, match="without an account id"):
        platform().whoami(account(fake))
    fake.fail_next("/api/v1/accounts/verify_credentials", 200, "not json")
    with pytest.raises(TransientError, match="not JSON"):
        platform().whoami(account(fake))


def test_find_published_knows_what_went_out(fake: FakeMastodon) -> None:
    ref = account(fake)
    single = request("Hello @bob@other.example,\n\nsee https://example.com/" + "p" * 40)
    assert platform().find_published(ref, single) is None
    result = platform().publish(ref, single)
    found = platform().find_published(ref, single)
    assert isinstance(found, PublishResult) and found.remote_id == result.remote_id
    assert found.url == result.url


def test_find_published_on_a_thread_cut_short(fake: FakeMastodon) -> None:
    ref = account(fake)
    thread = request("Part A", "Part B", "Part C")
    fake.cut_after(1, 503, {"error": "Service unavailable"})
    with pytest.raises(TransientError):
        platform().publish(ref, thread)
    # Only part A went out: while the server remembers the keys, sending again is safe.
    assert platform().find_published(ref, thread) is None
    fake.cut = None
    platform().publish(ref, thread)
    assert [s["content"] for s in fake.posted()] == [
        "<p>Part A</p>",
        "<p>Part B</p>",
        "<p>Part C</p>",
    ]
    found = platform().find_published(ref, thread)
    assert isinstance(found, PublishResult) and found.remote_id == fake.posted()[0]["id"]

    # An hour later a partial thread cannot be completed safely: a person must look.
    partial = request("Part X", "Part Y")
    fake.cut_after(fake.created + 1, 503, {"error": "Service unavailable"})
    with pytest.raises(TransientError):
        platform().publish(ref, partial)
    fake.posted()[-1]["created_at"] = "2020-01-01T00:00:00.000Z"
    assert platform().find_published(ref, partial) is UNKNOWN


@one_engine
def test_connect_without_a_server_says_how_to_name_one(initialized: str, cli: Cli) -> None:
    run = cli("accounts", "connect", "mastodon", "--port", "0")
    assert run.exit_code != 0
    assert "--instance" in run.stderr and "mastodon.social" in run.stderr


def test_when_it_needs_reconnecting_the_printed_fix_runs_as_printed(
    initialized: str, cli: Cli, fake: FakeMastodon, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import run_printed_fixes

    monkeypatch.setenv("AUTOPOSTR_OAUTH_PORT", "0")  # the port the OAuth redirect uses here
    connect(cli, fake)
    fake.revoke_all()
    post_id = due_post(cli, "After the revoke", to=f"mastodon:{fake.handle}")
    outcome = only_outcome(cli)
    assert outcome["status"] == "failed"
    account = f"mastodon:{fake.handle}"
    assert cli.ok("accounts", "show", account, "--json").json()["status"] == "needs_reconnect"
    # The server is named: a plain `accounts connect mastodon` would not know it.
    assert f"run `autopostr accounts connect mastodon --instance {fake.url}`" in outcome["error"]
    run_printed_fixes(cli, outcome["error"])
    assert cli.ok("accounts", "show", account, "--json").json()["status"] == "active"
    cli.ok("posts", "retry", post_id)
    assert destination(cli, post_id)["status"] == "published"
