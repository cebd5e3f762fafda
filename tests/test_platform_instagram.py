"""The Instagram adapter against a fake Graph API: Facebook Login connect, media
containers fetched by URL, status polling, carousels, reels, first comments,
throttling by error code, token renewal, quota, delete, metrics, lost publishes.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from autopostr.config import Settings, load_settings
from autopostr.platforms.base import (
    UNKNOWN,
    AccountRef,
    AuthExpired,
    Gone,
    MediaItem,
    Metrics,
    MetricsTarget,
    NotSupported,
    PermanentError,
    Processing,
    PublishRequest,
    PublishResult,
    TransientError,
)
from autopostr.platforms.instagram import InstagramPlatform
from tests.fakes.instagram_server import (
    FakeInstagram,
    Response,
    graph_error,
    throttle_body,
    usage_header,
)
from tests.fakes.platform_server import browse
from tests.helpers import Cli, due_post, only_outcome
from tests.media_samples import image, video_bytes

# The CLI tests beyond connect, publish, renewal and throttling run on one engine.
one_engine = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
COFFEE_IG = "17841400000000001"
BAKERY_IG = "17841400000000003"


@pytest.fixture
def fake() -> Iterator[FakeInstagram]:
    with FakeInstagram() as server:
        yield server


def env_for(fake: FakeInstagram) -> dict[str, str]:
    return {
        "AUTOPOSTR_INSTAGRAM_API_URL": fake.url,
        "AUTOPOSTR_INSTAGRAM_AUTH_URL": fake.url,
        "AUTOPOSTR_INSTAGRAM_CLIENT_ID": "test-client",
        "AUTOPOSTR_INSTAGRAM_CLIENT_SECRET": "test-secret",
        "AUTOPOSTR_INSTAGRAM_MEDIA_POLL_SECONDS": "0.01",
        "AUTOPOSTR_INSTAGRAM_MEDIA_BASE_URL": fake.url + "/cdn",
    }


def adapter_for(fake: FakeInstagram, **overrides: str) -> InstagramPlatform:
    env = {**env_for(fake), **overrides}
    settings: Settings = load_settings({k: v for k, v in env.items() if v})
    return InstagramPlatform(settings)


@pytest.fixture
def adapter(fake: FakeInstagram) -> InstagramPlatform:
    return adapter_for(fake)


def account(fake: FakeInstagram, token: str | None = None, **extra: Any) -> AccountRef:
    return AccountRef(
        id=1,
        platform="instagram",
        handle="acme.coffee",
        remote_id=COFFEE_IG,
        credentials={"access_token": token or fake.user_token()},
        extra={"token_kind": "user", **extra},
    )


def hosted(fake: FakeInstagram, data: bytes, mime: str, ext: str, **kw: Any) -> MediaItem:
    sha = hashlib.sha256(data).hexdigest()
    fake.host(sha + ext, data)
    return MediaItem(id=len(fake.hosted), filename="f" + ext, mime_type=mime, size=len(data),
                     sha256=sha, **kw)  # fmt: skip


def jpeg(fake: FakeInstagram, tmp_path: Path, seed: int = 0, **kw: Any) -> MediaItem:
    data = image(tmp_path / f"p{seed}.jpg", "JPEG", (80, 80), seed).read_bytes()
    return hosted(fake, data, "image/jpeg", ".jpg", width=80, height=80, **kw)


def reel(fake: FakeInstagram) -> MediaItem:
    data = video_bytes(width=720, height=1280)
    return hosted(fake, data, "video/mp4", ".mp4", width=720, height=1280, duration=12.5)


def request(*media: MediaItem, text: str = "Fresh beans today", **kw: Any) -> PublishRequest:
    return PublishRequest(post_id=1, destination_id=1, parts=[text], media=list(media), **kw)


def no_token_in_urls(fake: FakeInstagram) -> None:
    tokens = set(fake.oauth.access_tokens)
    for sent in fake.requests:
        assert "access_token" not in sent.query and "fb_exchange_token" not in sent.query
        assert not any(t in sent.path or t in json.dumps(sent.query) for t in tokens)


# -- end to end through the CLI, on SQLite and PostgreSQL ---------------------


@pytest.fixture
def cli_fake(
    initialized: str, fake: FakeInstagram, monkeypatch: pytest.MonkeyPatch
) -> FakeInstagram:
    for key, value in env_for(fake).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("webbrowser.open", lambda url: bool(browse(url)))
    return fake


def connect(cli: Cli, *args: str) -> list[dict[str, Any]]:
    return list(cli.ok("accounts", "connect", "instagram", "--port", "0", "--json", *args).json())


def due_photo(cli: Cli, photo: Path, *extra: str, to: str = "instagram:acme.coffee") -> str:
    return due_post(cli, "Fresh beans today", "--media", str(photo), *extra, to=to)


def photo_file(fake: FakeInstagram, tmp_path: Path, host: bool = True) -> Path:
    path = image(tmp_path / "beans.jpg", "JPEG", (100, 100), seed=7)
    if host:
        fake.host(hashlib.sha256(path.read_bytes()).hexdigest() + ".jpg", path.read_bytes())
    return path


def test_connect_keeps_one_account_per_linked_instagram_account(
    cli_fake: FakeInstagram, cli: Cli
) -> None:
    accounts = connect(cli)
    # "Side Project" has no Instagram account linked; the third page is on the
    # second cursor page of /me/accounts.
    assert [a["handle"] for a in accounts] == ["acme.coffee", "acme.bakery"]
    expires = datetime.fromisoformat(accounts[0]["expires_at"]).replace(tzinfo=None)
    assert expires > datetime.now() + timedelta(days=55)
    [asked] = cli_fake.oauth.authorize_requests
    assert asked["state"] and "code_challenge" not in asked
    assert set(asked["scope"].split(",")) >= {"instagram_basic", "instagram_content_publish"}
    [exchange] = cli_fake.exchanges
    assert exchange["grant_type"] == "fb_exchange_token"
    assert cli_fake.calls("GET", r"/v23\.0/me/accounts")[-1].query["after"] == "2"
    said = cli.ok("accounts", "test", "instagram:acme.bakery", "--json").json()
    assert said["platform_says"]["handle"] == "acme.bakery"
    no_token_in_urls(cli_fake)
    listed = cli.ok("accounts", "list", "--json").stdout
    assert not any(t in listed for t in cli_fake.oauth.access_tokens)


@one_engine
def test_connect_page_option_picks_by_page_name_or_username(
    cli_fake: FakeInstagram, cli: Cli
) -> None:
    assert [a["handle"] for a in connect(cli, "--page", "Acme Bakery")] == ["acme.bakery"]
    run = cli("accounts", "connect", "instagram", "--port", "0", "--page", "Nope")
    assert run.exit_code != 0
    assert "no page or Instagram account matches --page Nope" in run.stderr
    assert "Acme Coffee (101) → @acme.coffee" in run.stderr


def test_image_post_with_first_comment_goes_out(
    cli_fake: FakeInstagram, cli: Cli, tmp_path: Path
) -> None:
    connect(cli, "--page", "@acme.coffee")
    photo = photo_file(cli_fake, tmp_path)
    post_id = due_photo(cli, photo, "--first-comment", "#coffee #beans")
    outcome = only_outcome(cli)
    assert outcome["status"] == "published", outcome
    [item] = cli_fake.media.values()
    assert outcome["remote_id"] == item.id
    assert item.caption == "Fresh beans today" and item.comments == ["#coffee #beans"]
    sha = hashlib.sha256(photo.read_bytes()).hexdigest()
    assert cli_fake.fetched == [f"{cli_fake.url}/cdn/{sha}.jpg"]
    shown = cli.ok("posts", "show", post_id, "--json").json()
    assert shown["destinations"][0]["url"] == item.permalink
    no_token_in_urls(cli_fake)


@one_engine
def test_posts_without_jpeg_media_are_refused_when_written(
    cli_fake: FakeInstagram, cli: Cli, tmp_path: Path
) -> None:
    connect(cli, "--page", "101")
    run = cli("posts", "create", "--to", "instagram:acme.coffee", "--text", "Only words")
    assert run.exit_code != 0 and "Instagram needs an image or a video" in run.stderr
    png = image(tmp_path / "logo.png", "PNG", (100, 100))
    run = cli(
        "posts", "create", "--to", "instagram:acme.coffee", "--text", "x", "--media", str(png)
    )
    assert run.exit_code != 0 and "image/png, which Instagram does not take" in run.stderr
    wide = image(tmp_path / "wide.jpg", "JPEG", (300, 100))
    run = cli(
        "posts", "create", "--to", "instagram:acme.coffee", "--text", "x", "--media", str(wide)
    )
    assert run.exit_code != 0 and "Instagram takes 0.8:1 to 1.91:1" in run.stderr


def test_expired_token_is_renewed_then_the_post_goes_out(
    cli_fake: FakeInstagram, cli: Cli, tmp_path: Path
) -> None:
    connect(cli, "--page", "101")
    due_photo(cli, photo_file(cli_fake, tmp_path))
    old = set(cli_fake.oauth.access_tokens)
    for token in old:
        cli_fake.oauth.expire(token)
    outcome = only_outcome(cli)
    assert outcome["status"] == "published", outcome
    assert len(cli_fake.exchanges) == 2  # connect, then the renewal
    assert cli_fake.exchanges[-1]["fb_exchange_token"] in old
    assert cli_fake.publish_calls()[-1].bearer not in old
    no_token_in_urls(cli_fake)


@one_engine
def test_a_renewal_meta_refuses_asks_for_reconnect(
    cli_fake: FakeInstagram, cli: Cli, tmp_path: Path
) -> None:
    connect(cli, "--page", "101")
    due_photo(cli, photo_file(cli_fake, tmp_path))
    cli_fake.strict_exchange = True  # Meta never renews a token that already expired
    for token in list(cli_fake.oauth.access_tokens):
        cli_fake.oauth.expire(token)
    outcome = only_outcome(cli)
    assert outcome["status"] == "failed"
    assert "autopostr accounts connect instagram" in str(outcome["error"])
    shown = cli.ok("accounts", "show", "instagram:acme.coffee", "--json").json()
    assert shown["status"] == "needs_reconnect"


def test_throttling_retries_when_meta_says_access_returns(
    cli_fake: FakeInstagram, cli: Cli, tmp_path: Path
) -> None:
    connect(cli, "--page", "101")
    post_id = due_photo(cli, photo_file(cli_fake, tmp_path))
    cli_fake.fail_next(r"/\d+/media$", 400, throttle_body(80002), usage_header(minutes=15))
    outcome = only_outcome(cli)
    assert outcome["status"] == "retrying"
    wait = datetime.fromisoformat(str(outcome["next_attempt_at"])).timestamp() - time.time()
    assert 880 <= wait <= 3600
    dest = cli.ok("posts", "show", post_id, "--json").json()["destinations"][0]
    assert "too many calls to this Instagram account" in dest["error"]
    assert not cli_fake.media


@one_engine
def test_media_instagram_cannot_download_fails_naming_the_setting(
    cli_fake: FakeInstagram, cli: Cli, tmp_path: Path
) -> None:
    connect(cli, "--page", "101")
    due_photo(cli, photo_file(cli_fake, tmp_path, host=False))
    outcome = only_outcome(cli)
    assert outcome["status"] == "failed" and outcome["attempt"] == 1
    assert "The media could not be fetched from this uri" in str(outcome["error"])
    assert "AUTOPOSTR_INSTAGRAM_MEDIA_BASE_URL" in str(outcome["error"])


@one_engine
def test_accounts_add_finds_the_instagram_user_id(cli_fake: FakeInstagram, cli: Cli) -> None:
    token = cli_fake.user_token()
    raw = {"handle": "acme.bakery", "access_token": token, "expires_in": 5184000}
    cli.ok("accounts", "add", "instagram", input=json.dumps(raw))
    said = cli.ok("accounts", "test", "instagram:acme.bakery", "--json").json()
    assert said["platform_says"]["id"] == BAKERY_IG
    run = cli(
        "accounts", "add", "instagram", input=json.dumps({"handle": "x", "access_token": token})
    )
    assert run.exit_code != 0 and "cannot tell which Instagram account is x" in run.stderr


# -- the adapter directly --------------------------------------------------------


def test_a_reel_is_polled_until_processed(fake: FakeInstagram, adapter: InstagramPlatform) -> None:
    result = adapter.publish(account(fake), request(reel(fake)))
    [created] = fake.container_calls()
    params = created.form()
    assert params["media_type"] == "REELS" and params["video_url"].endswith(".mp4")
    assert params["caption"] == "Fresh beans today"
    polls = fake.calls("GET", rf"/v23\.0/{result.extra['container_id']}")
    assert len(polls) == fake.video_polls + 1
    assert result.remote_id in fake.media and result.url == fake.media[result.remote_id].permalink


def test_a_carousel_makes_children_then_the_album(
    fake: FakeInstagram, adapter: InstagramPlatform, tmp_path: Path
) -> None:
    items = [jpeg(fake, tmp_path, 1, alt_text="Beans"), jpeg(fake, tmp_path, 2), reel(fake)]
    result = adapter.publish(account(fake), request(*items))
    *children, parent = [r.form() for r in fake.container_calls()]
    assert [c["is_carousel_item"] for c in children] == ["true"] * 3
    assert children[0]["alt_text"] == "Beans" and children[2]["media_type"] == "VIDEO"
    assert all("caption" not in c for c in children)
    assert parent["media_type"] == "CAROUSEL" and parent["caption"] == "Fresh beans today"
    assert len(parent["children"].split(",")) == 3
    assert fake.media[result.remote_id].container == result.extra["container_id"]


def test_a_video_instagram_cannot_process_fails_with_its_reason(
    fake: FakeInstagram, adapter: InstagramPlatform
) -> None:
    bad = hosted(fake, b"not a video at all", "video/mp4", ".mp4")
    with pytest.raises(PermanentError, match="video format is not supported"):
        adapter.publish(account(fake), request(bad))
    assert not fake.publish_calls()


def test_a_container_not_ready_at_publish_is_waited_for(
    fake: FakeInstagram, adapter: InstagramPlatform, tmp_path: Path
) -> None:
    fake.fail_next(
        "media_publish$", 400, graph_error(9007, "Media ID is not available", subcode=2207027).body
    )
    result = adapter.publish(account(fake), request(jpeg(fake, tmp_path)))
    assert len(fake.publish_calls()) == 2 and result.remote_id in fake.media


def handed_over(call: Any) -> dict[str, Any]:
    """The state of the Processing `call()` raises, as the destination keeps it."""
    with pytest.raises(Processing) as caught:
        call()
    return dict(json.loads(json.dumps(caught.value.resume)))


def test_a_carousel_handed_over_makes_its_album_once_the_children_are_processed(
    fake: FakeInstagram, tmp_path: Path
) -> None:
    """The children are made once; carrying on asks for the one still processing, then
    makes the carousel's own container and publishes it."""
    adapter = adapter_for(fake, AUTOPOSTR_INSTAGRAM_MEDIA_POLL_SECONDS="5")
    fake.video_polls = 10**6
    sent = request(jpeg(fake, tmp_path), reel(fake))
    state = handed_over(lambda: adapter.publish(account(fake), sent))
    children = [c.id for c in fake.containers.values()]
    assert state["children"] == children and state["processing"] == children[1:]
    state = handed_over(lambda: adapter.resume(account(fake), sent, state))
    assert len(fake.container_calls()) == 2 and not fake.publish_calls()
    fake.containers[children[1]].polls_left = 0
    result = adapter.resume(account(fake), sent, state)
    *made, parent = [r.form() for r in fake.container_calls()]
    assert len(made) == 2 and parent["children"] == ",".join(children)
    assert list(fake.media) == [result.remote_id] and len(fake.publish_calls()) == 1


def test_a_container_that_expired_while_handed_over_is_made_again(
    fake: FakeInstagram,
) -> None:
    adapter = adapter_for(fake, AUTOPOSTR_INSTAGRAM_MEDIA_POLL_SECONDS="5")
    fake.video_polls = 10**6
    sent = request(reel(fake))
    state = handed_over(lambda: adapter.publish(account(fake), sent))
    [expired] = fake.containers.values()
    expired.status, fake.video_polls = "EXPIRED", 0
    result = adapter.resume(account(fake), sent, state)
    assert len(fake.container_calls()) == 2 and result.extra["container_id"] != expired.id
    assert list(fake.media) == [result.remote_id]


def test_a_publish_handed_over_at_media_publish_publishes_the_same_container(
    fake: FakeInstagram, tmp_path: Path
) -> None:
    adapter = adapter_for(fake, AUTOPOSTR_INSTAGRAM_MEDIA_POLL_SECONDS="5")
    fake.fail_next(
        "media_publish$", 400, graph_error(9007, "Media ID is not available", subcode=2207027).body
    )
    sent = request(jpeg(fake, tmp_path), first_comment="Menu: link")
    state = handed_over(lambda: adapter.publish(account(fake), sent))
    assert state["processing"] == [] and not fake.media
    result = adapter.resume(account(fake), sent, state)
    assert result.extra["container_id"] == state["container"]
    assert len(fake.container_calls()) == 1 and len(fake.publish_calls()) == 2
    assert fake.media[result.remote_id].comments == ["Menu: link"]


def test_no_media_base_url_fails_before_any_call(fake: FakeInstagram, tmp_path: Path) -> None:
    adapter = adapter_for(fake, AUTOPOSTR_INSTAGRAM_MEDIA_BASE_URL="")
    with pytest.raises(PermanentError, match="AUTOPOSTR_INSTAGRAM_MEDIA_BASE_URL") as caught:
        adapter.publish(account(fake), request(jpeg(fake, tmp_path)))
    assert "downloads media by URL" in caught.value.message
    assert not fake.requests
    with pytest.raises(PermanentError, match="no text-only posts"):
        adapter_for(fake).publish(account(fake), request())


def test_the_base_url_may_be_a_template(fake: FakeInstagram, tmp_path: Path) -> None:
    item = jpeg(fake, tmp_path)
    base = "https://media.example.com/{sha2}/{sha256}{ext}"
    adapter = adapter_for(fake, AUTOPOSTR_INSTAGRAM_MEDIA_BASE_URL=base)
    expected = f"https://media.example.com/{item.sha256[:2]}/{item.sha256}.jpg"
    assert adapter.media_url(item) == expected


@pytest.mark.parametrize("code", [4, 17, 32, 613])
def test_throttling_codes_are_transient(
    fake: FakeInstagram, adapter: InstagramPlatform, tmp_path: Path, code: int
) -> None:
    fake.fail_next(r"/media$", 400, throttle_body(code), {"Retry-After": "120"})
    with pytest.raises(TransientError) as caught:
        adapter.publish(account(fake), request(jpeg(fake, tmp_path)))
    assert caught.value.retry_after == 120 and f"code {code}" in caught.value.message


def test_an_expired_token_raises_auth_expired_and_renewal_exchanges_it(
    fake: FakeInstagram, adapter: InstagramPlatform, tmp_path: Path
) -> None:
    old = fake.user_token()
    fake.oauth.expire(old)
    with pytest.raises(AuthExpired, match="Session has expired"):
        adapter.publish(account(fake, old), request(jpeg(fake, tmp_path)))
    fresh = adapter.refresh(account(fake, old))
    assert fresh is not None and fresh["access_token"] != old and fresh["expires_in"] > 86400 * 50
    assert fake.exchanges[-1]["client_secret"] == "test-secret"
    assert adapter.refresh(account(fake, old, token_kind="non_expiring")) is None
    assert adapter.publish(account(fake, fresh["access_token"]), request(jpeg(fake, tmp_path)))
    no_token_in_urls(fake)


def test_a_publish_with_a_garbled_answer_is_found_by_its_caption(
    fake: FakeInstagram, adapter: InstagramPlatform, tmp_path: Path
) -> None:
    fake.add_media(COFFEE_IG, "Fresh beans today", age=timedelta(days=5))  # last week's
    real = fake._publish

    def garbled(sent: Any, match: Any) -> Response:
        real(sent, match)  # it goes out, but the answer is a proxy's error page
        return Response(200, b"<html>upstream hiccup</html>", {"Content-Type": "text/html"})

    pattern = re.compile(r"/v23\.0/(?P<ig>\d+)/media_publish\Z")
    fake.routes.insert(0, ("POST", pattern, garbled))
    with pytest.raises(TransientError) as caught:
        adapter.publish(account(fake), request(jpeg(fake, tmp_path)))
    assert caught.value.maybe_sent
    found = adapter.find_published(account(fake), request())
    assert isinstance(found, PublishResult)
    newest = max(fake.media.values(), key=lambda m: m.timestamp)
    assert found.remote_id == newest.id and found.url == newest.permalink
    assert adapter.find_published(account(fake), request(text="Never posted")) is UNKNOWN


def test_only_a_recent_post_counts_as_the_lost_one(
    fake: FakeInstagram, adapter: InstagramPlatform
) -> None:
    fake.add_media(COFFEE_IG, "Fresh beans today", age=timedelta(days=5))
    assert adapter.find_published(account(fake), request()) is UNKNOWN


def test_a_post_without_caption_is_never_taken_for_another(
    fake: FakeInstagram, adapter: InstagramPlatform
) -> None:
    fake.add_media(COFFEE_IG, "", age=timedelta(hours=3))  # an earlier photo, no caption
    assert adapter.find_published(account(fake), request(text="")) is UNKNOWN


def test_the_publishing_limit_waits_for_the_window(
    fake: FakeInstagram, adapter: InstagramPlatform
) -> None:
    fake.quota_total = 2
    fake.add_media(COFFEE_IG, "older", age=timedelta(hours=20))
    adapter.check_quota(account(fake), request())  # one of two used
    fake.add_media(COFFEE_IG, "newer", age=timedelta(hours=1))
    with pytest.raises(TransientError, match="publishing limit is used up") as caught:
        adapter.check_quota(account(fake), request())
    assert caught.value.retry_after is not None
    assert abs(caught.value.retry_after - 4 * 3600) < 60


def test_only_a_timed_out_media_publish_counts_as_maybe_sent(
    fake: FakeInstagram, tmp_path: Path
) -> None:
    """A read or a container that timed out made no post: marking it maybe-sent would
    leave the post for a person to review instead of retrying it."""
    adapter = adapter_for(fake, AUTOPOSTR_HTTP_TIMEOUT="0.2")
    fake.fail_next("content_publishing_limit$", 200, {"data": []}, delay=0.6)
    with pytest.raises(TransientError) as caught:
        adapter.check_quota(account(fake), request())
    assert not caught.value.maybe_sent
    fake.fail_next(r"/media$", 200, {"id": "1"}, delay=0.6)
    with pytest.raises(TransientError) as caught:
        adapter.publish(account(fake), request(jpeg(fake, tmp_path)))
    assert not caught.value.maybe_sent
    fake.fail_next("media_publish$", 200, {"id": "1"}, delay=0.6)
    with pytest.raises(TransientError) as caught:
        adapter.publish(account(fake), request(jpeg(fake, tmp_path)))
    assert caught.value.maybe_sent


def test_a_server_error_on_media_publish_means_ask_before_publishing_again(
    fake: FakeInstagram, adapter: InstagramPlatform, tmp_path: Path
) -> None:
    unknown = graph_error(1, "An unknown error has occurred.", status=500)
    fake.fail_next("media_publish$", unknown.status, unknown.body)
    with pytest.raises(TransientError) as caught:
        adapter.publish(account(fake), request(jpeg(fake, tmp_path)))
    assert caught.value.maybe_sent and "unknown error" in caught.value.message
    fake.fail_next("media_publish$", 502, "<html>Bad Gateway</html>")
    with pytest.raises(TransientError) as caught:
        adapter.publish(account(fake), request(jpeg(fake, tmp_path)))
    assert caught.value.maybe_sent
    fake.fail_next(r"/media$", unknown.status, unknown.body)  # a container is no post
    with pytest.raises(TransientError) as caught:
        adapter.publish(account(fake), request(jpeg(fake, tmp_path)))
    assert not caught.value.maybe_sent


def test_a_failed_first_comment_leaves_the_post_published(
    fake: FakeInstagram, adapter: InstagramPlatform, tmp_path: Path
) -> None:
    fake.fail_next("comments$", 400, graph_error(100, "Comments are turned off").body)
    result = adapter.publish(account(fake), request(jpeg(fake, tmp_path), first_comment="hi"))
    assert result.remote_id in fake.media
    assert "Comments are turned off" in result.extra["first_comment_error"]
    assert len(fake.publish_calls()) == 1


def test_delete_where_instagram_allows_it(fake: FakeInstagram, adapter: InstagramPlatform) -> None:
    item = fake.add_media(COFFEE_IG, "bye")
    adapter.delete(account(fake), item.id)
    assert item.id not in fake.media
    fake.delete_supported = False
    other = fake.add_media(COFFEE_IG, "stays")
    with pytest.raises(NotSupported, match="delete it in the Instagram app") as caught:
        adapter.delete(account(fake), other.id)
    assert "Unsupported delete request" in caught.value.message


@pytest.mark.parametrize("total_value", [False, True])
def test_metrics_from_insights(
    fake: FakeInstagram, adapter: InstagramPlatform, total_value: bool
) -> None:
    fake.insights_total_value = total_value
    item = fake.add_media(COFFEE_IG, "counted")
    item.likes, item.comments = 12, ["nice", "yum"]
    metrics = adapter.metrics(account(fake), item.id)
    assert (metrics.impressions, metrics.likes, metrics.comments, metrics.shares) == (912, 12, 2, 4)
    assert (metrics.reach, metrics.saves, metrics.clicks) == (700, 6, None)
    assert metrics.raw["insights"]["total_interactions"] == 24


def test_metrics_without_insights_fall_back_to_counts(
    fake: FakeInstagram, adapter: InstagramPlatform
) -> None:
    item = fake.add_media(COFFEE_IG, "quiet")
    item.likes, item.comments = 3, ["first"]
    fake.too_few_viewers.add(item.id)
    metrics = adapter.metrics(account(fake), item.id)
    assert (metrics.impressions, metrics.likes, metrics.comments) == (None, 3, 1)


def test_insights_wait_for_their_delay_and_a_deleted_post_is_gone(
    fake: FakeInstagram, adapter: InstagramPlatform
) -> None:
    fresh = fake.add_media(COFFEE_IG, "fresh")
    settled = fake.add_media(COFFEE_IG, "settled", age=timedelta(days=3))
    fresh.likes = settled.likes = 5
    gone = fake.add_media(COFFEE_IG, "deleted")
    del fake.media[gone.id]
    now = datetime.now(UTC)
    found = adapter.post_metrics(
        account(fake),
        [
            MetricsTarget(fresh.id, now - timedelta(hours=3)),
            MetricsTarget(settled.id, now - timedelta(days=3)),
            MetricsTarget(gone.id, now - timedelta(days=3)),
        ],
    )
    young, old = found[fresh.id], found[settled.id]
    assert isinstance(young, Metrics) and isinstance(old, Metrics)
    # Three hours old: Meta's insights are not in yet, so only the public counts.
    assert (young.likes, young.impressions, young.reach) == (5, None, None)
    assert (old.likes, old.impressions, old.reach) == (5, 905, 700)
    assert isinstance(found[gone.id], Gone)
    insights = fake.calls("GET", r"/v\d+\.\d+/\d+/insights")
    assert fresh.id not in {r.path.split("/")[2] for r in insights}
    assert adapter.account_metrics(account(fake)).followers == 1234


def test_whoami_and_a_malformed_answer(fake: FakeInstagram, adapter: InstagramPlatform) -> None:
    assert adapter.whoami(account(fake))["handle"] == "acme.coffee"
    fake.fail_next(rf"/{COFFEE_IG}$", 200, "<html>maintenance</html>")
    with pytest.raises(TransientError, match="malformed answer"):
        adapter.whoami(account(fake))


def test_when_it_needs_reconnecting_the_printed_fix_runs_as_printed(
    cli_fake: FakeInstagram, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import printed_fixes, run_printed_fixes

    monkeypatch.setenv("AUTOPOSTR_OAUTH_PORT", "0")  # the port the OAuth redirect uses here
    [connected] = connect(cli, "--page", "101")
    post_id = due_photo(cli, photo_file(cli_fake, tmp_path))
    cli_fake.strict_exchange = True  # Meta never renews a token that already expired
    for token in list(cli_fake.oauth.access_tokens):
        cli_fake.oauth.expire(token)
    outcome = only_outcome(cli)
    assert outcome["status"] == "failed"
    shown = cli.ok("accounts", "show", "instagram:acme.coffee", "--json").json()
    assert shown["status"] == "needs_reconnect"
    # The login links two Instagram accounts: the fix brings back this one only.
    [(command, stdin)] = printed_fixes(str(outcome["error"]))
    assert command.startswith("autopostr accounts connect instagram --page ") and stdin is None
    run_printed_fixes(cli, str(outcome["error"]))
    listed = cli.ok("accounts", "list", "--json").json()
    assert [(a["handle"], a["status"]) for a in listed] == [("acme.coffee", "active")]
    assert listed[0]["id"] == connected["id"]
    cli.ok("posts", "retry", post_id)
    assert cli.ok("posts", "show", post_id, "--json").json()["status"] == "published"
