"""The X adapter against a fake X API v2: connect (OAuth 2.0 + PKCE, Basic client auth),
posts, media (simple and chunked upload with processing status), threads, first
comments, delete, metrics, rotating refresh tokens, rate limits and odd answers.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from autopostr.config import load_settings
from autopostr.platforms import x as x_module
from autopostr.platforms.base import (
    UNKNOWN,
    AccountRef,
    AuthExpired,
    Gone,
    Metrics,
    MetricsTarget,
    PermanentError,
    PublishRequest,
    PublishResult,
    TransientError,
)
from autopostr.platforms.x import XPlatform, comparable
from tests.fakes.platform_server import browse
from tests.fakes.x_server import USER, FakeX
from tests.helpers import Cli, db_session, due_again, due_post, media_item, only_outcome
from tests.media_samples import image, mp4, video_bytes

SCOPES = "tweet.read tweet.write users.read offline.access media.write"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeX]:
    with FakeX() as server:
        monkeypatch.setenv("AUTOPOSTR_X_API_URL", server.url)
        monkeypatch.setenv("AUTOPOSTR_X_AUTH_URL", server.url)
        monkeypatch.setenv("AUTOPOSTR_X_CLIENT_ID", "x-client")
        monkeypatch.setenv("AUTOPOSTR_X_CLIENT_SECRET", "x-secret")
        monkeypatch.setenv("AUTOPOSTR_X_MEDIA_POLL_SECONDS", "0.01")
        monkeypatch.setattr("webbrowser.open", lambda url: bool(browse(url)))
        monkeypatch.setattr(x_module, "_memory", x_module._Memory())
        yield server


@pytest.fixture
def x(fake: FakeX) -> XPlatform:
    return XPlatform(load_settings())


def account(fake: FakeX, token: dict[str, Any] | None = None) -> AccountRef:
    token = token or fake.token()
    return AccountRef(
        id=1,
        platform="x",
        handle="acme",
        remote_id=USER["id"],
        credentials={
            "access_token": token["access_token"],
            "refresh_token": token["refresh_token"],
        },
    )


def request(*parts: str, **kw: Any) -> PublishRequest:
    return PublishRequest(post_id=7, destination_id=9, parts=list(parts), idempotency_key="k", **kw)


# -- end to end through the CLI, on SQLite and PostgreSQL ---------------------------


def connect(cli: Cli) -> dict[str, Any]:
    [connected] = json.loads(cli.ok("accounts", "connect", "x", "--port", "0", "--json").stdout)
    return dict(connected)


def add_account(cli: Cli, fake: FakeX) -> dict[str, Any]:
    token = fake.token()
    cli.ok("accounts", "add", "x", input=json.dumps({"handle": "acme", **token}))
    return token


def test_connect_round_trip_with_pkce_and_basic_client_auth(
    initialized: str, cli: Cli, fake: FakeX
) -> None:
    connected = connect(cli)
    assert connected["platform"] == "x" and connected["handle"] == "acme"
    assert connected["expires_at"] is not None
    assert fake.oauth.pkce_verified == 1
    [asked] = fake.oauth.authorize_requests
    assert asked["scope"] == SCOPES and asked["code_challenge_method"] == "S256"
    assert fake.calls("GET", "/i/oauth2/authorize")
    [exchange] = fake.calls("POST", "/2/oauth2/token")
    assert exchange.headers["authorization"].startswith("Basic ")
    assert "client_secret" not in exchange.form()
    said = json.loads(cli.ok("accounts", "test", "x:acme", "--json").stdout)["platform_says"]
    assert said["handle"] == "acme" and said["id"] == USER["id"]
    # Disconnecting revokes both tokens at X.
    tokens = set(fake.oauth.access_tokens) | fake.oauth.refresh_tokens
    cli.ok("accounts", "disconnect", "--yes", "x:acme")
    assert tokens <= fake.oauth.revoked
    for sent in fake.requests:  # secrets travel in headers and bodies, never in URLs
        assert not any(t in json.dumps(sent.query) for t in tokens | {"x-secret"})


def test_text_post_goes_out_and_links_to_it(initialized: str, cli: Cli, fake: FakeX) -> None:
    add_account(cli, fake)
    post_id = due_post(cli, "Shipping day & the docs are live", to="x:acme")
    outcome = only_outcome(cli)
    assert outcome["status"] == "published"
    [tweet] = fake.live_tweets()
    assert tweet.text == "Shipping day & the docs are live"
    assert outcome["remote_id"] == tweet.id
    shown = cli.ok("posts", "show", post_id, "--json").json()["destinations"][0]
    assert shown["url"] == f"https://x.com/acme/status/{tweet.id}"


def test_text_twitter_text_declares_invalid_is_refused_when_written(
    initialized: str, cli: Cli, fake: FakeX
) -> None:
    """Short enough, but twitter-text's `valid` is false: X would refuse it at publish time."""
    add_account(cli, fake)
    for text, named in [
        ("ABC\ufeffABC", "U+FEFF (ZERO WIDTH NO-BREAK SPACE)"),
        ("ABC\u202a\uffffABC\ufffe", "U+FFFE (a noncharacter)"),
    ]:
        run = cli("posts", "create", "--to", "x:acme", "--text", text, "--at", "+1h")
        assert run.exit_code == 5, run.stderr
        assert f"the text holds {named}, which X does not accept" in run.stderr
    assert "U+FFFF" in run.stderr
    assert cli.ok("posts", "list", "--json").json() == []
    # Directional marks are fine (twitter-text's own case, weighing 31).
    cli.ok(
        "posts",
        "create",
        "--to",
        "x:acme",
        "--text",
        "\u2066\u202ahttp://foobar.پاکستان/\u202c\u2069",
    )


@pytest.mark.slow
def test_a_20_mb_text_file_is_refused_at_once(
    initialized: str, cli: Cli, fake: FakeX, tmp_path: Path
) -> None:
    add_account(cli, fake)
    path = tmp_path / "book.txt"
    sentence = "Chapter one, in which we learn about example.com and the sea. "
    path.write_text((sentence * (20_000_000 // len(sentence) + 1))[:20_000_000], encoding="utf-8")
    started = time.perf_counter()
    run = cli("posts", "create", "--to", "x:acme", "--text-file", str(path))
    elapsed = time.perf_counter() - started
    assert run.exit_code == 5
    assert re.search(r"the text is at least \d{7} characters, X's limit is 280", run.stderr)
    assert elapsed < 1.0, elapsed


def test_expired_token_is_refreshed_and_the_new_refresh_token_kept(
    initialized: str, cli: Cli, fake: FakeX
) -> None:
    first = add_account(cli, fake)
    fake.oauth.expire(first["access_token"])
    due_post(cli, "After the refresh", to="x:acme")
    assert only_outcome(cli)["status"] == "published"
    assert [t.text for t in fake.live_tweets()] == ["After the refresh"]
    [refresh] = [r for r in fake.oauth.token_requests if r["grant_type"] == "refresh_token"]
    assert refresh["refresh_token"] == first["refresh_token"]
    # The rotated refresh token was stored: the old one is spent, the next refresh works.
    assert first["refresh_token"] not in fake.oauth.refresh_tokens
    cli.ok("accounts", "refresh", "x:acme")
    assert len([r for r in fake.oauth.token_requests if r["grant_type"] == "refresh_token"]) == 2


def test_throttled_post_retries_at_xs_reset_time(initialized: str, cli: Cli, fake: FakeX) -> None:
    add_account(cli, fake)
    post_id = due_post(cli, "Wait for the window", to="x:acme")
    reset = int(time.time()) + 900
    fake.fail_next(
        "/2/tweets",
        429,
        {"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429},
        {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)},
        method="POST",
    )
    outcome = only_outcome(cli)
    assert outcome["status"] == "retrying"
    wait = datetime.fromisoformat(outcome["next_attempt_at"]).timestamp() - time.time()
    assert abs(wait - 900) < 5
    shown = cli.ok("posts", "show", post_id, "--json").json()["destinations"][0]
    assert "429" in shown["error"] and not fake.live_tweets()


def test_duplicate_content_fails_with_xs_words(initialized: str, cli: Cli, fake: FakeX) -> None:
    add_account(cli, fake)
    fake.add_tweet("Same again")
    due_post(cli, "Same again", to="x:acme")
    outcome = only_outcome(cli)
    assert outcome["status"] == "failed" and outcome["attempt"] == 1
    assert "duplicate content" in outcome["error"]


# -- the adapter directly -------------------------------------------------------


def test_images_are_uploaded_in_order_with_alt_text(
    x: XPlatform, fake: FakeX, tmp_path: Path
) -> None:
    first = media_item(image(tmp_path / "a.png", "PNG"), "image/png", alt_text="A chart")
    second = media_item(image(tmp_path / "b.jpg", "JPEG", seed=1), "image/jpeg")
    result = x.publish(account(fake), request("Two pictures", media=[first, second]))
    tweet = fake.tweets[result.remote_id]
    assert [fake.media[m].sha256 for m in tweet.media_ids] == [first.sha256, second.sha256]
    assert {fake.media[m].category for m in tweet.media_ids} == {"tweet_image"}
    assert fake.media[tweet.media_ids[0]].alt_text == "A chart"
    assert fake.media[tweet.media_ids[1]].alt_text is None


def test_video_is_uploaded_in_chunks_and_waits_for_processing(
    fake: FakeX, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPOSTR_X_CHUNK_BYTES", "2000")
    x = XPlatform(load_settings())
    path = tmp_path / "clip.mp4"
    path.write_bytes(video_bytes(payload=bytes(range(256)) * 20))
    clip = media_item(path, "video/mp4", duration=12.5, width=1280, height=720)
    started = time.monotonic()
    result = x.publish(account(fake), request("", media=[clip]))
    assert time.monotonic() - started < 2  # X says check_after_secs=1; the setting wins
    [media_id] = fake.tweets[result.remote_id].media_ids
    media = fake.media[media_id]
    assert media.sha256 == clip.sha256 and media.category == "tweet_video"
    appends = fake.calls("POST", rf"/2/media/upload/{media_id}/append")
    assert len(appends) == -(-clip.size // 2000) > 1
    assert len(fake.calls("GET", "/2/media/upload")) == fake.processing_polls


def test_failed_video_processing_is_permanent_with_xs_reason(
    x: XPlatform, fake: FakeX, tmp_path: Path
) -> None:
    fake.fail_processing = "Unsupported video codec"
    path = tmp_path / "clip.mp4"
    path.write_bytes(video_bytes())
    with pytest.raises(PermanentError, match="Unsupported video codec"):
        x.publish(account(fake), request("Clip", media=[media_item(path, "video/mp4")]))
    assert not fake.live_tweets()


def test_thread_and_first_comment_are_a_chain_of_replies(x: XPlatform, fake: FakeX) -> None:
    result = x.publish(
        account(fake), request("1/ Start", "2/ Middle", "3/ End", first_comment="Link")
    )
    by_text = {t.text: t for t in fake.live_tweets()}
    assert by_text["1/ Start"].reply_to is None
    assert by_text["2/ Middle"].reply_to == by_text["1/ Start"].id
    assert by_text["3/ End"].reply_to == by_text["2/ Middle"].id
    assert by_text["Link"].reply_to == by_text["3/ End"].id
    assert result.remote_id == by_text["1/ Start"].id
    assert result.extra["thread"] == [by_text[t].id for t in ("1/ Start", "2/ Middle", "3/ End")]
    assert result.extra["first_comment_id"] == by_text["Link"].id


def test_a_thread_stopped_by_a_limit_carries_on_in_another_process(
    x: XPlatform, fake: FakeX, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = account(fake)
    thread = request("Part one", "Part two", "Part three")
    reset = str(int(time.time()) + 60)
    fake.fail_after_posts(1, 429, {"title": "Too Many Requests"}, {"x-rate-limit-reset": reset})
    with pytest.raises(TransientError) as stopped:
        x.publish(me, thread)
    assert stopped.value.maybe_sent and "after 1 of 3 parts" in stopped.value.message
    assert 55 <= (stopped.value.retry_after or 0) <= 61

    # A fresh process knows nothing: find_published sees part one on X, publish goes on.
    monkeypatch.setattr(x_module, "_memory", x_module._Memory())
    assert x.find_published(me, thread) is None
    result = x.publish(me, thread)
    assert [t.text for t in fake.live_tweets()] == ["Part one", "Part two", "Part three"]
    assert fake.tweets[result.extra["thread"][2]].reply_to == result.extra["thread"][1]
    found = x.find_published(me, thread)
    assert isinstance(found, PublishResult) and found.remote_id == result.remote_id


def test_a_thread_whose_first_part_x_already_has_is_continued_not_duplicated(
    x: XPlatform, fake: FakeX, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after `posts reconcile` in another process: publish is called again with no
    memory of part one. X refuses it as a duplicate; the adapter finds it and goes on."""
    me = account(fake)
    thread = request("First of two", "Second of two")
    fake.fail_after_posts(1, 503, {"title": "Service Unavailable"})
    with pytest.raises(TransientError):
        x.publish(me, thread)
    monkeypatch.setattr(x_module, "_memory", x_module._Memory())
    result = x.publish(me, thread)
    assert [t.text for t in fake.live_tweets()] == ["First of two", "Second of two"]
    assert fake.tweets[result.extra["thread"][1]].reply_to == result.remote_id
    # A single post X already has stays a permanent duplicate failure.
    with pytest.raises(PermanentError, match="duplicate content"):
        x.publish(me, request("First of two"))


def test_an_expired_token_mid_thread_resumes_after_the_refresh(x: XPlatform, fake: FakeX) -> None:
    token = fake.token()
    me = account(fake, token)
    fake.fail_after_posts(
        1, 401, {"title": "Unauthorized", "status": 401, "detail": "Unauthorized"}
    )
    thread = request("Alpha", "Beta", first_comment="Gamma")
    with pytest.raises(AuthExpired, match="after 1 of 3 parts"):
        x.publish(me, thread)
    fresh = x.refresh(me)
    assert fresh is not None and fresh["refresh_token"] != token["refresh_token"]
    renewed = AccountRef(1, "x", "acme", USER["id"], {**me.credentials, **fresh})
    result = x.publish(renewed, thread)  # what the publisher does after refreshing
    assert [t.text for t in fake.live_tweets()] == ["Alpha", "Beta", "Gamma"]
    assert result.extra["thread"][0] == result.remote_id == fake.live_tweets()[0].id


def test_delete_and_deleting_again(x: XPlatform, fake: FakeX) -> None:
    me = account(fake)
    result = x.publish(me, request("Short-lived"))
    assert x.delete(me, result.remote_id) is True
    assert fake.tweets[result.remote_id].deleted
    assert x.delete(me, result.remote_id) is False  # already gone is what the user wanted
    assert fake.calls("DELETE", rf"/2/tweets/{result.remote_id}")[0].bearer


@pytest.mark.parametrize("naming", ["retweet", "repost"])
def test_metrics_public_and_private(x: XPlatform, fake: FakeX, naming: str) -> None:
    fake.metrics_naming = naming
    me = account(fake)
    result = x.publish(me, request("Count me"))
    fake.tweets[result.remote_id].metrics.update(
        like_count=12,
        reply_count=3,
        retweet_count=4,
        quote_count=1,
        impression_count=900,
        private_impressions=950,
        url_link_clicks=7,
    )
    metrics = x.metrics(me, result.remote_id)
    assert (metrics.likes, metrics.comments, metrics.shares) == (12, 3, 5)
    assert (metrics.impressions, metrics.clicks) == (950, 7)
    [asked] = fake.calls("GET", "/2/tweets")
    assert asked.query == {
        "ids": result.remote_id,
        "tweet.fields": "public_metrics,non_public_metrics",
    }
    # X's own fields are kept beside the normalized numbers.
    assert metrics.raw["non_public_metrics"]["url_link_clicks"] == 7
    assert metrics.raw["public_metrics"]["like_count"] == 12


def test_metrics_of_an_old_post_fall_back_to_public_counts(x: XPlatform, fake: FakeX) -> None:
    me = account(fake)
    result = x.publish(me, request("Older"))
    fake.tweets[result.remote_id].metrics.update(like_count=2, impression_count=40)
    fake.non_public_allowed = False
    metrics = x.metrics(me, result.remote_id)
    # Clicks come only with the private metrics: unknown, not zero.
    assert (metrics.likes, metrics.impressions, metrics.clicks) == (2, 40, None)
    with pytest.raises(Gone, match="no post"):
        x.metrics(me, "1")


def test_posts_older_than_30_days_are_asked_for_public_metrics_only(
    x: XPlatform, fake: FakeX
) -> None:
    me = account(fake)
    now = datetime.now(UTC)
    new = x.publish(me, request("New one")).remote_id
    old_tweet = fake.add_tweet("Old one", age_hours=40 * 24)
    found = x.post_metrics(
        me,
        [
            MetricsTarget(new, now - timedelta(days=2)),
            MetricsTarget(old_tweet.id, now - timedelta(days=40)),
        ],
    )
    asked = {r.query["ids"]: r.query["tweet.fields"] for r in fake.calls("GET", "/2/tweets")}
    assert asked == {new: "public_metrics,non_public_metrics", old_tweet.id: "public_metrics"}
    recent, old = found[new], found[old_tweet.id]
    assert isinstance(recent, Metrics) and isinstance(old, Metrics)
    assert recent.clicks == 0 and old.clicks is None
    assert "non_public_metrics" not in old.raw


def test_metrics_are_asked_100_posts_at_a_time_and_gone_posts_say_so(
    x: XPlatform, fake: FakeX
) -> None:
    me = account(fake)
    tweets = [fake.add_tweet(f"post {n}") for n in range(150)]
    fake.tweets[tweets[7].id].deleted = True
    found = x.post_metrics(me, [MetricsTarget(t.id) for t in tweets])
    lookups = fake.calls("GET", "/2/tweets")
    assert [len(r.query["ids"].split(",")) for r in lookups] == [100, 50]
    assert isinstance(found[tweets[7].id], Gone)
    assert sum(isinstance(m, Metrics) for m in found.values()) == 149


def test_metrics_grow_between_reads_and_followers_are_counted(x: XPlatform, fake: FakeX) -> None:
    me = account(fake)
    remote_id = x.publish(me, request("Growing")).remote_id
    first, second = x.metrics(me, remote_id), x.metrics(me, remote_id)
    assert first.likes is not None and second.likes is not None and second.likes > first.likes
    followers = x.account_metrics(me)
    assert (
        followers.followers == 1200 and followers.raw["public_metrics"]["followers_count"] == 1200
    )
    assert x.account_metrics(me).followers == 1203


def test_find_published_matches_texts_x_rewrote(x: XPlatform, fake: FakeX) -> None:
    me = account(fake)
    text = "Read https://example.com/launch?x=1 & <enjoy>"
    result = x.publish(me, request(text))
    assert "t.co" in fake.tweets[result.remote_id].rendered_text()
    found = x.find_published(me, request(text))
    assert isinstance(found, PublishResult) and found.remote_id == result.remote_id
    assert x.find_published(me, request("Never sent")) is None
    assert comparable("a &amp; b https://t.co/xyz") == comparable("a & b https://example.org")


def test_find_published_cannot_tell_beyond_what_it_can_see(x: XPlatform, fake: FakeX) -> None:
    me = account(fake)
    for n in range(x_module.TIMELINE_PAGES * 100 + 1):
        fake.add_tweet(f"busy {n}")
    assert x.find_published(me, request("Never sent")) is UNKNOWN
    fake.add_tweet("Old one", age_hours=100)  # outside the look-back window
    assert x.find_published(me, request("Old one")) is UNKNOWN


def test_a_spent_window_waits_before_publishing(x: XPlatform, fake: FakeX) -> None:
    me = account(fake)
    fake.tweets_per_window = 2
    x.publish(me, request("one"))
    x.check_quota(me, request("two"))  # one left
    with pytest.raises(TransientError) as full:
        x.check_quota(me, request("a", "thread"))  # needs two, one left
    assert abs((full.value.retry_after or 0) - (fake.window_reset - time.time())) < 3


def test_a_spent_daily_cap_waits_for_the_daily_reset(x: XPlatform, fake: FakeX) -> None:
    me = account(fake)
    day_reset = int(time.time()) + 20_000
    fake.fail_next(
        "/2/tweets",
        429,
        {"title": "Too Many Requests", "type": "https://api.twitter.com/2/problems/usage-capped"},
        {
            "x-rate-limit-remaining": "90",
            "x-rate-limit-reset": str(int(time.time()) + 600),
            "x-user-limit-24hour-remaining": "0",
            "x-user-limit-24hour-reset": str(day_reset),
        },
        method="POST",
    )
    with pytest.raises(TransientError) as capped:
        x.publish(me, request("Daily"))
    assert abs((capped.value.retry_after or 0) - (day_reset - time.time())) < 3


def test_malformed_answers_are_clean_errors(x: XPlatform, fake: FakeX) -> None:
    me = account(fake)
    fake.fail_next("/2/tweets", 201, b"<html>gateway</html>", method="POST")
    with pytest.raises(TransientError) as odd:
        x.publish(me, request("Did it go?"))
    assert odd.value.maybe_sent and "not JSON" in odd.value.message
    fake.fail_next("/2/tweets", 201, {"data": {}}, method="POST")
    with pytest.raises(TransientError, match="without a post id"):
        x.publish(me, request("Did it go?"))
    fake.fail_next("/2/users/me", 200, {"data": {"name": "no id"}})
    with pytest.raises(PermanentError, match="without a user"):
        x.whoami(me)
    token = me.credentials["access_token"]
    fake.fail_next("/2/oauth2/token", 200, {"token_type": "bearer", "refresh_token": "rt-new"})
    with pytest.raises(TransientError, match="without a token") as no_token:
        x.refresh(me)
    assert token not in no_token.value.message and me.credentials["refresh_token"] not in str(
        no_token.value
    )
    assert "rt-new" not in str(no_token.value)  # a rotated refresh token stays out too


def test_a_server_error_on_posting_is_looked_up_before_sending_again(
    x: XPlatform, fake: FakeX, tmp_path: Path
) -> None:
    """X can make the post and still answer 5xx: the retry must look before re-sending."""
    me = account(fake)
    fake.fail_next("/2/tweets", 503, {"title": "Service Unavailable"}, method="POST")
    with pytest.raises(TransientError) as failed:
        x.publish(me, request("Maybe out"))
    assert failed.value.maybe_sent
    fake.add_tweet("Maybe out")  # as if X had made it after all
    found = x.find_published(me, request("Maybe out"))
    assert isinstance(found, PublishResult) and len(fake.live_tweets()) == 1
    # A failing media upload changes nothing on X: it is simply retried.
    fake.fail_next("/2/media/upload", 503, {"title": "Service Unavailable"}, method="POST")
    with pytest.raises(TransientError) as upload:
        picture = media_item(image(tmp_path / "a.png", "PNG"), "image/png")
        x.publish(me, request("Pic", media=[picture]))
    assert not upload.value.maybe_sent


def test_limits_are_checked_before_anything_goes_out(
    x: XPlatform, fake: FakeX, tmp_path: Path
) -> None:
    me = account(fake)
    with pytest.raises(PermanentError, match="part 2 is 281"):
        x.publish(me, request("ok", "y" * 281))
    path = tmp_path / "clip.mp4"
    path.write_bytes(video_bytes())
    clip = media_item(path, "video/mp4", duration=200.0)
    with pytest.raises(PermanentError, match="200 s long"):
        x.publish(me, request("Long", media=[clip]))
    picture = media_item(image(tmp_path / "a.png", "PNG"), "image/png")
    with pytest.raises(PermanentError, match="only media"):
        x.publish(me, request("Mixed", media=[picture, media_item(path, "video/mp4")]))
    gif = media_item(image(tmp_path / "a.gif", "GIF"), "image/gif")
    with pytest.raises(PermanentError, match="too large"):
        x.publish(me, request("Big GIF", media=[dataclasses.replace(gif, size=16 * 2**20)]))
    assert fake.requests == []
    assert x.count_text("😀" * 140) == 280 and not x.text_fits("😀" * 141)


def test_a_gif_may_be_larger_than_a_still_image(tmp_path: Path) -> None:
    """X takes animated GIFs up to 15 MB, other images up to 5 MB: checked when written."""
    from autopostr.posts import validate_destination

    x = XPlatform(load_settings())
    from autopostr.models import Media

    def upload(mime: str, size: int) -> Media:
        return Media(id=1, team_id=1, filename="a", mime_type=mime, size=size, sha256="")

    six_mb = 6 * 2**20
    assert validate_destination(x, "x:acme", "hi", None, [upload("image/gif", six_mb)]) == []
    [problem] = validate_destination(x, "x:acme", "hi", None, [upload("image/png", six_mb)])
    assert "limit is 5242880" in problem
    [problem] = validate_destination(x, "x:acme", "hi", None, [upload("image/gif", 16 * 2**20)])
    assert "limit is 15728640" in problem


def test_accounts_add_needs_an_access_token(initialized: str, cli: Cli, fake: FakeX) -> None:
    run = cli("accounts", "add", "x", input=json.dumps({"handle": "acme", "token": "oops"}))
    assert run.exit_code != 0 and "access_token" in run.stderr


def test_when_it_needs_reconnecting_the_printed_fix_runs_as_printed(
    initialized: str, cli: Cli, fake: FakeX, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import run_printed_fixes

    # The port this install's OAuth app redirects to (any free one, for the test).
    monkeypatch.setenv("AUTOPOSTR_OAUTH_PORT", "0")
    connect(cli)
    # autopostr was removed from the user's connected apps: nothing renews the token.
    for token in list(fake.oauth.access_tokens):
        fake.oauth.expire(token)
    fake.oauth.revoked.update(fake.oauth.refresh_tokens)
    post_id = due_post(cli, "After the revoke", to="x:acme")
    outcome = only_outcome(cli)
    assert outcome["status"] == "failed"
    assert cli.ok("accounts", "show", "x:acme", "--json").json()["status"] == "needs_reconnect"
    assert "run `autopostr accounts connect x`" in outcome["error"]
    run_printed_fixes(cli, outcome["error"])
    assert cli.ok("accounts", "show", "x:acme", "--json").json()["status"] == "active"
    cli.ok("posts", "retry", post_id)
    assert [t.text for t in fake.live_tweets()] == ["After the revoke"]


def test_without_an_oauth_app_the_fix_says_what_to_pipe(
    initialized: str, cli: Cli, fake: FakeX, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import run_printed_fixes

    add_account(cli, fake)  # a headless server: tokens piped in, no OAuth app set up
    monkeypatch.delenv("AUTOPOSTR_X_CLIENT_ID")
    gone = cli.ok("accounts", "disconnect", "x:acme", "--yes")
    assert "AUTOPOSTR_X_CLIENT_ID" in gone.stderr  # not revoked at X, said so; forgotten here
    refused = cli("posts", "create", "--to", "x:acme", "--text", "later")
    assert refused.exit_code == 5
    assert (
        'pipe {"access_token": "…", "refresh_token": "…", "expires_in": "…"} to '
        "`autopostr accounts add x --handle acme`" in refused.stderr
    )
    run_printed_fixes(cli, refused.stderr, fake.token())
    assert cli.ok("accounts", "show", "x:acme", "--json").json()["status"] == "active"
    cli.ok("posts", "create", "--to", "x:acme", "--text", "later")


def test_a_video_x_processes_for_long_is_published_by_a_later_daemon_pass(
    initialized: str, cli: Cli, fake: FakeX, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the daemon: the processing waits as `processing` holding no slot, the next
    pass resumes it and posts once; a wait that ran out starts over (uploads afresh)."""
    from tests.test_publish_executor import check_now

    add_account(cli, fake)
    monkeypatch.setenv("AUTOPOSTR_X_MEDIA_POLL_SECONDS", "5")  # longer than a call waits
    monkeypatch.setenv("AUTOPOSTR_X_MEDIA_WAIT_SECONDS", "600")
    fake.processing_polls = 3
    clip = mp4(tmp_path / "clip.mp4")
    post_id = due_post(cli, "Watch", "--media", str(clip), to="x:acme")
    assert only_outcome(cli)["status"] == "processing"
    shown = cli.ok("posts", "show", post_id, "--json").json()["destinations"][0]
    assert "waiting on X to finish processing clip.mp4" in shown["error"]
    check_now()
    assert only_outcome(cli)["status"] == "processing"  # asked once more: not yet
    for media in fake.media.values():
        media.polls_left = 0
    check_now()
    assert only_outcome(cli)["status"] == "published"
    [tweet] = fake.live_tweets()
    assert len(tweet.media_ids) == 1
    assert len(fake.calls("POST", "/2/media/upload/initialize")) == 1

    # A second post whose media X never finishes: the wait runs out, the retry uploads
    # the video again instead of asking after the first upload until attempts run out.
    fake.processing_polls = 10**6
    monkeypatch.setenv("AUTOPOSTR_X_MEDIA_WAIT_SECONDS", "1")
    second = due_post(cli, "Watch again", "--media", str(clip), to="x:acme")
    assert only_outcome(cli)["status"] == "processing"
    time.sleep(1.1)
    check_now()
    outcome = only_outcome(cli)
    assert outcome["status"] == "retrying" and "still processing" in outcome["error"]
    with db_session() as session:
        from sqlmodel import select

        from autopostr.models import PostDestination

        dest = session.exec(
            select(PostDestination).where(PostDestination.post_id == int(second))
        ).one()
        assert dest.resume is None
    assert len(fake.calls("POST", "/2/media/upload/initialize")) == 2
    due_again()
    assert only_outcome(cli)["status"] == "processing"
    assert len(fake.calls("POST", "/2/media/upload/initialize")) == 3  # uploaded afresh
