"""The LinkedIn adapter against a fake LinkedIn: connect (member and organization),
posts with text, images and video, comments as thread parts, delete, metrics, token
refresh, the daily-quota 429, permanent errors and malformed replies."""

from __future__ import annotations

import json
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
    NotSupported,
    PermanentError,
    Processing,
    PublishRequest,
    PublishResult,
    TransientError,
)
from autopostr.platforms.linkedin import (
    LinkedInPlatform,
    escape_little_text,
    seconds_until_midnight_utc,
)
from tests.fakes.linkedin_server import MEMBER, FakeLinkedIn, unescape_little_text
from tests.fakes.platform_server import browse
from tests.helpers import Cli, db_session, destination, due_post, media_item, only_outcome
from tests.media_samples import image, mp4

ORG = "urn:li:organization:1001"
JANE = "linkedin:jane"  # the member `_add_member` adds


@pytest.fixture
def linkedin(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLinkedIn]:
    with FakeLinkedIn() as fake:
        monkeypatch.setenv("AUTOPOSTR_LINKEDIN_API_URL", fake.url)
        monkeypatch.setenv("AUTOPOSTR_LINKEDIN_AUTH_URL", fake.url)
        monkeypatch.setenv("AUTOPOSTR_LINKEDIN_CLIENT_ID", "test-client")
        monkeypatch.setenv("AUTOPOSTR_LINKEDIN_CLIENT_SECRET", "test-secret")
        monkeypatch.setenv("AUTOPOSTR_LINKEDIN_MEDIA_POLL_SECONDS", "0.01")
        monkeypatch.setattr("webbrowser.open", lambda url: bool(browse(url)))
        yield fake


def adapter() -> LinkedInPlatform:
    return LinkedInPlatform(load_settings())


def account(fake: FakeLinkedIn, author: str = MEMBER, **credentials: Any) -> AccountRef:
    token = fake.member_token()
    return AccountRef(
        id=1,
        platform="linkedin",
        handle="jane-doe",
        remote_id=author,
        credentials={"access_token": token["access_token"], **credentials},
        extra={"author": author},
    )


def request(*parts: str, media: list[MediaItem] | None = None, **kw: Any) -> PublishRequest:
    return PublishRequest(post_id=1, destination_id=1, parts=list(parts), media=media or [], **kw)


# -- through the CLI, on SQLite and PostgreSQL ---------------------------------------


def test_connect_member_round_trip(initialized: str, cli: Cli, linkedin: FakeLinkedIn) -> None:
    [connected] = cli.ok("accounts", "connect", "linkedin", "--port", "0", "--json").json()
    assert connected["handle"] == "jane-doe" and connected["name"] == "Jane Doe"
    expires = datetime.fromisoformat(connected["expires_at"]).timestamp() - time.time()
    assert 59 * 86400 < expires <= 60 * 86400  # LinkedIn's 60-day tokens
    [asked] = linkedin.oauth.authorize_requests
    assert asked["scope"] == "openid profile w_member_social" and asked["state"]
    assert "code_challenge" not in asked  # the web flow has no PKCE
    [exchange] = linkedin.oauth.token_requests
    assert exchange["client_secret"] == "test-secret"  # client_secret_post
    tested = cli.ok("accounts", "test", "linkedin:jane-doe", "--json").json()
    assert tested["platform_says"]["id"] == MEMBER
    # The refresh token lasts a year from this grant and no refresh extends it: the
    # account is flagged before then, though the daemon renews its access token.
    assert cli("accounts", "list", "--expiring-within", "300d", "--json").exit_code == 0
    late = cli("accounts", "list", "--expiring-within", "370d", "--json")
    assert late.exit_code == 1 and [a["handle"] for a in late.json()] == ["jane-doe"]


def test_connect_an_organization_with_page(
    initialized: str, cli: Cli, linkedin: FakeLinkedIn
) -> None:
    run = cli.ok(
        "accounts", "connect", "linkedin", "--page", "Acme Coffee", "--port", "0", "--json"
    )
    [connected] = run.json()
    assert connected["handle"] == "acme-coffee" and connected["name"] == "Acme Coffee"
    assert "w_organization_social" in linkedin.oauth.authorize_requests[0]["scope"]
    tested = cli.ok("accounts", "test", "linkedin:acme-coffee", "--json").json()
    assert tested["platform_says"] == {"handle": "acme-coffee", "id": ORG, "name": "Acme Coffee"}

    # A page the member only reads is not offered, and the error lists what is.
    run = cli("accounts", "connect", "linkedin", "--page", "read-only", "--port", "0")
    assert run.exit_code != 0
    assert "read-only" in run.stderr and "acme-coffee (Acme Coffee)" in run.stderr


def _add_member(cli: Cli, fake: FakeLinkedIn, lifetime: int = 5_184_000) -> dict[str, Any]:
    token = fake.member_token(lifetime)
    credentials = {"handle": "jane", **token}
    cli.ok("accounts", "add", "linkedin", input=json.dumps(credentials))
    return token


def test_text_post_end_to_end(initialized: str, cli: Cli, linkedin: FakeLinkedIn) -> None:
    _add_member(cli, linkedin)  # no author given: the adapter asked /v2/userinfo
    text = "Launch day (finally) #coffee @acme [beta] 50% off_now *really* ~ok~ <3 {x} a|b c\\d"
    post_id = due_post(cli, text, "--first-comment", "Details: https://acme.test", to=JANE)
    outcome = only_outcome(cli)
    assert outcome["status"] == "published"
    post = linkedin.post_by_commentary(text)  # nothing was cut at a reserved character
    assert outcome["remote_id"] == post.urn and post.author == MEMBER
    assert post.body["visibility"] == "PUBLIC" and post.body["lifecycleState"] == "PUBLISHED"
    assert post.comments[0]["text"] == "Details: https://acme.test"
    [sent] = linkedin.calls("POST", "/rest/posts")
    assert sent.headers["x-restli-protocol-version"] == "2.0.0"
    assert sent.headers["linkedin-version"] == "202609"
    assert destination(cli, post_id)["url"] == f"https://www.linkedin.com/feed/update/{post.urn}/"


def test_an_expired_token_is_refreshed_then_the_post_goes_out(
    initialized: str, cli: Cli, linkedin: FakeLinkedIn
) -> None:
    token = _add_member(cli, linkedin)
    linkedin.oauth.expire(token["access_token"])
    due_post(cli, "After the refresh", to=JANE)
    outcome = only_outcome(cli)
    assert outcome["status"] == "published", outcome
    refresh = linkedin.oauth.token_requests[-1]
    assert refresh["grant_type"] == "refresh_token"
    assert refresh["refresh_token"] == token["refresh_token"]
    assert refresh["client_secret"] == "test-secret"
    first, second = linkedin.calls("POST", "/rest/posts")
    assert first.bearer == token["access_token"] and second.bearer != token["access_token"]
    assert linkedin.post_by_commentary("After the refresh")


def test_a_throttled_post_waits_for_the_midnight_reset(
    initialized: str, cli: Cli, linkedin: FakeLinkedIn
) -> None:
    _add_member(cli, linkedin)
    post_id = due_post(cli, "Throttled", to=JANE)
    linkedin.fail_next(
        "/rest/posts",
        429,
        {
            "message": "Resource level throttle limit for calls to this resource is reached.",
            "status": 429,
        },
        method="POST",
    )
    outcome = only_outcome(cli)
    assert outcome["status"] == "retrying"
    wait = datetime.fromisoformat(str(outcome["next_attempt_at"])).timestamp() - time.time()
    assert wait >= seconds_until_midnight_utc() - 5
    assert "midnight UTC" in destination(cli, post_id)["error"]
    assert cli.ok("daemon", "run", "--once", "--json").json() == []  # not due before then

    from sqlmodel import select

    from autopostr.models import PostDestination, utcnow

    with db_session() as session:  # midnight comes
        for dest in session.exec(select(PostDestination)):
            dest.next_attempt_at = utcnow()
            session.add(dest)
    assert only_outcome(cli)["status"] == "published"


def test_a_refused_post_fails_with_linkedins_message(
    initialized: str, cli: Cli, linkedin: FakeLinkedIn
) -> None:
    _add_member(cli, linkedin)
    post_id = due_post(cli, "Refused", to=JANE)
    linkedin.fail_next(
        "/rest/posts",
        422,
        {"message": "ERROR :: /commentary :: Content is a duplicate", "status": 422},
        method="POST",
    )
    outcome = only_outcome(cli)
    assert outcome["status"] == "failed" and outcome["attempt"] == 1
    assert "Content is a duplicate" in destination(cli, post_id)["error"]


def test_disconnect_revokes_the_token(initialized: str, cli: Cli, linkedin: FakeLinkedIn) -> None:
    token = _add_member(cli, linkedin)
    cli.ok("accounts", "disconnect", "--yes", "linkedin:jane")
    assert token["access_token"] in linkedin.oauth.revoked


# -- the adapter directly ---------------------------------------------------------------


def test_little_text_escaping() -> None:
    assert escape_little_text("a#b (c) @d \\") == "a\\#b \\(c\\) \\@d \\\\"
    reserved = "\\|{}@[]()<>#*_~"
    assert unescape_little_text(escape_little_text(reserved)) == reserved
    assert escape_little_text("plain text, 100% fine!") == "plain text, 100% fine!"


def test_accounts_add_learns_the_author(linkedin: FakeLinkedIn) -> None:
    token = linkedin.member_token()["access_token"]
    member = adapter().prepare_credentials({"handle": "jane", "access_token": token})
    assert member == {"access_token": token, "author": MEMBER}
    assert len(linkedin.calls("GET", "/v2/userinfo")) == 1
    org = adapter().prepare_credentials({"access_token": token, "organization": "1001"})
    assert org["author"] == ORG and len(linkedin.calls("GET", "/v2/userinfo")) == 1
    with pytest.raises(PermanentError, match="access_token"):
        adapter().prepare_credentials({"handle": "jane"})


def test_one_image_with_alt_text(linkedin: FakeLinkedIn, tmp_path: Path) -> None:
    picture = media_item(image(tmp_path / "a.png", "PNG"), "image/png", alt_text="A cup")
    result = adapter().publish(account(linkedin), request("Look", media=[picture]))
    post = linkedin.posts[result.remote_id]
    media = post.body["content"]["media"]
    assert media["altText"] == "A cup"
    assert linkedin.images[media["id"]] == (tmp_path / "a.png").read_bytes()
    [upload] = linkedin.calls("PUT", r"/upload/images/\w+")
    assert upload.bearer  # the upload URL is LinkedIn's own: the token goes along


def test_several_images_become_a_multi_image_post(linkedin: FakeLinkedIn, tmp_path: Path) -> None:
    pictures = [
        media_item(image(tmp_path / f"{n}.jpg", "JPEG", seed=n), "image/jpeg", id=n)
        for n in (1, 2, 3)
    ]
    result = adapter().publish(account(linkedin, ORG), request("Gallery", media=pictures))
    images = linkedin.posts[result.remote_id].body["content"]["multiImage"]["images"]
    assert len(images) == 3
    for picture, sent in zip(pictures, images, strict=True):
        assert linkedin.images[sent["id"]] == (tmp_path / picture.filename).read_bytes()
    assert linkedin.posts[result.remote_id].author == ORG


def test_video_is_uploaded_in_parts_and_waited_for(linkedin: FakeLinkedIn, tmp_path: Path) -> None:
    linkedin.part_size = 1500
    linkedin.processing_polls = 3
    path = mp4(tmp_path / "clip.mp4")
    clip = media_item(path, "video/mp4")
    result = adapter().publish(account(linkedin), request("Watch", media=[clip]))
    urn = linkedin.posts[result.remote_id].body["content"]["media"]["id"]
    assert linkedin.video_bytes(urn) == path.read_bytes()
    assert (
        len(linkedin.calls("PUT", r"/upload/videos/\w+/\d+")) == len(linkedin.videos[urn].parts) > 2
    )
    assert len(linkedin.calls("GET", r"/rest/videos/[^/]+")) == 4  # 3 x PROCESSING, then AVAILABLE


def test_a_video_processing_that_lasts_is_resumed_into_one_post_and_its_comments(
    linkedin: FakeLinkedIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPOSTR_LINKEDIN_MEDIA_POLL_SECONDS", "5")
    linkedin.processing_polls = 10**6
    clip = media_item(mp4(tmp_path / "clip.mp4"), "video/mp4")
    thread = request("Watch", "More", media=[clip], first_comment="Link: x.test")
    with pytest.raises(Processing) as caught:
        adapter().publish(account(linkedin), thread)
    state = json.loads(json.dumps(caught.value.resume))
    [urn] = linkedin.videos
    assert state["video"] == urn and linkedin.posts == {}
    linkedin.videos[urn].polls_left = 0
    result = adapter().resume(account(linkedin), thread, state)
    [post] = linkedin.posts.values()
    assert post.urn == result.remote_id and post.body["content"]["media"]["id"] == urn
    assert [c["text"] for c in post.comments] == ["More", "Link: x.test"]
    assert len(linkedin.videos) == 1  # uploaded once


def test_a_video_linkedin_cannot_process_fails_for_good(
    linkedin: FakeLinkedIn, tmp_path: Path
) -> None:
    linkedin.processing_fails = True
    clip = media_item(mp4(tmp_path / "clip.mp4"), "video/mp4")
    with pytest.raises(PermanentError, match="Video format is not supported"):
        adapter().publish(account(linkedin), request("Watch", media=[clip]))
    assert linkedin.posts == {}


def test_thread_parts_and_first_comment_become_comments_in_order(linkedin: FakeLinkedIn) -> None:
    result = adapter().publish(
        account(linkedin), request("1/3 (intro)", "2/3", "3/3", first_comment="Link: x.test")
    )
    post = linkedin.posts[result.remote_id]
    assert unescape_little_text(post.commentary) == "1/3 (intro)"
    assert [c["text"] for c in post.comments] == ["2/3", "3/3", "Link: x.test"]
    assert all(c["actor"] == MEMBER for c in post.comments)


def test_a_failed_comment_does_not_post_twice(linkedin: FakeLinkedIn) -> None:
    linkedin.fail_next(r"/comments", 500, {"message": "Internal error", "status": 500})
    result = adapter().publish(account(linkedin), request("Main", first_comment="late"))
    assert result.remote_id in linkedin.posts
    assert "comment 1 of 1 was not posted" in result.extra["follow_up_errors"][0]


def test_delete_is_idempotent(linkedin: FakeLinkedIn) -> None:
    ref = account(linkedin)
    result = adapter().publish(ref, request("Short-lived"))
    adapter().delete(ref, result.remote_id)
    assert linkedin.deleted == [result.remote_id]
    [call] = linkedin.calls("DELETE", r"/rest/posts/[^/]+")
    assert call.path.endswith("urn%3Ali%3Ashare%3A" + result.remote_id.rsplit(":", 1)[1])
    adapter().delete(ref, result.remote_id)  # 204 again
    linkedin.missing_delete_status = 404
    # The other reading: 404 is "already gone".
    assert adapter().delete(ref, result.remote_id) is False


def test_metrics_for_members_and_organizations(linkedin: FakeLinkedIn) -> None:
    member = account(linkedin)
    posted = adapter().publish(member, request("Member post"))
    got = adapter().metrics(member, posted.remote_id)
    assert (got.likes, got.comments, got.impressions) == (7, 2, None)
    with pytest.raises(NotSupported):
        adapter().account_metrics(member)

    org = account(linkedin, ORG)
    posted = adapter().publish(org, request("Company post"))
    got = adapter().metrics(org, posted.remote_id)
    assert (got.impressions, got.likes, got.comments, got.shares, got.clicks) == (
        1200,
        40,
        6,
        3,
        31,
    )
    assert got.reach == 900 and got.raw["totalShareStatistics"]["engagement"] == 0.066
    [call] = linkedin.calls("GET", "/rest/organizationalEntityShareStatistics")
    assert call.query["shares"] == f"List({posted.remote_id})"
    assert adapter().metrics(org, posted.remote_id).impressions == 1210  # seen more since
    assert adapter().account_metrics(org).followers == 5400
    adapter().delete(org, posted.remote_id)
    with pytest.raises(Gone):
        adapter().metrics(org, posted.remote_id)


def test_refresh_returns_a_fresh_60_day_token(linkedin: FakeLinkedIn) -> None:
    token = linkedin.member_token()
    ref = account(linkedin, refresh_token=token["refresh_token"])
    fresh = adapter().refresh(ref)
    assert fresh is not None and linkedin.oauth.valid(fresh["access_token"])
    assert fresh["expires_in"] == 60 * 86400
    assert fresh["refresh_token_expires_in"] == 365 * 86400
    assert adapter().refresh(account(linkedin)) is None  # no refresh token: reconnect later


def test_a_revoked_token_says_so(linkedin: FakeLinkedIn) -> None:
    ref = account(linkedin)
    linkedin.oauth.revoked.add(ref.credentials["access_token"])
    with pytest.raises(AuthExpired, match="revoked") as caught:
        adapter().publish(ref, request("Hello"))
    assert ref.credentials["access_token"] not in caught.value.message


def test_a_retry_after_header_is_honoured_when_sent(linkedin: FakeLinkedIn) -> None:
    linkedin.fail_next("/rest/posts", 429, {"message": "slow down"}, {"Retry-After": "90"})
    with pytest.raises(TransientError) as caught:
        adapter().publish(account(linkedin), request("Hello"))
    assert caught.value.retry_after == 90


def test_a_reply_without_a_post_id_is_looked_up_not_resent(linkedin: FakeLinkedIn) -> None:
    ref = account(linkedin)
    linkedin.omit_post_id = True
    with pytest.raises(TransientError) as caught:
        adapter().publish(ref, request("Did it go? (yes)"))
    assert caught.value.maybe_sent
    found = adapter().find_published(ref, request("Did it go? (yes)"))
    assert isinstance(found, PublishResult)
    assert found.remote_id in linkedin.posts
    assert adapter().find_published(ref, request("Never sent")) is UNKNOWN


def test_a_server_error_on_posting_is_looked_up_before_sending_again(
    linkedin: FakeLinkedIn,
) -> None:
    """LinkedIn can make the post and still answer 5xx: the retry must look first."""
    linkedin.fail_next("/rest/posts", 500, {"message": "Internal Server Error"}, method="POST")
    with pytest.raises(TransientError) as caught:
        adapter().publish(account(linkedin), request("Maybe out"))
    assert caught.value.maybe_sent and "Internal Server Error" in caught.value.message


def test_find_published_is_not_fooled_by_older_or_textless_posts(linkedin: FakeLinkedIn) -> None:
    ref = account(linkedin)
    weekly = "Office hours (Friday) #coffee"
    linkedin.add_post(escape_little_text(weekly), age_hours=7 * 24)  # last week's
    linkedin.add_post("", age_hours=1)  # an earlier picture-only post
    assert adapter().find_published(ref, request(weekly)) is UNKNOWN
    assert adapter().find_published(ref, request("")) is UNKNOWN
    today = linkedin.add_post(escape_little_text(weekly))
    found = adapter().find_published(ref, request(weekly))
    assert isinstance(found, PublishResult) and found.remote_id == today.urn


def test_a_stalled_upload_does_not_show_its_signed_url(
    linkedin: FakeLinkedIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPOSTR_HTTP_TIMEOUT", "0.2")
    linkedin.fail_next(r"/upload/images/", 201, b"", method="PUT", delay=0.5)
    picture = media_item(image(tmp_path / "a.png", "PNG"), "image/png")
    with pytest.raises(TransientError) as caught:
        adapter().publish(account(linkedin), request("Look", media=[picture]))
    assert "a.png" in caught.value.message
    assert "ut=" not in caught.value.message and "/upload/" not in caught.value.message


def test_a_malformed_upload_reply_is_a_clean_retry(linkedin: FakeLinkedIn, tmp_path: Path) -> None:
    linkedin.fail_next(r"/rest/images", 200, b"<html>maintenance</html>")
    picture = media_item(image(tmp_path / "a.png", "PNG"), "image/png")
    with pytest.raises(TransientError, match="unexpected reply to the image upload request"):
        adapter().publish(account(linkedin), request("Look", media=[picture]))
    assert linkedin.posts == {}


def test_a_missing_version_header_is_what_the_fake_refuses(linkedin: FakeLinkedIn) -> None:
    """The fake checks the headers the adapter is proved to send."""
    import urllib.request

    call = urllib.request.Request(
        linkedin.url + "/rest/posts?q=author&author=x",
        headers={"Authorization": "Bearer " + linkedin.member_token()["access_token"]},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(call, timeout=5)
    assert caught.value.code == 426


def test_tokens_never_travel_in_urls(linkedin: FakeLinkedIn, tmp_path: Path) -> None:
    ref = account(linkedin, refresh_token=linkedin.member_token()["refresh_token"])
    picture = media_item(image(tmp_path / "a.png", "PNG"), "image/png")
    posted = adapter().publish(ref, request("Hi", media=[picture], first_comment="c"))
    adapter().metrics(ref, posted.remote_id)
    adapter().refresh(ref)
    adapter().revoke(ref)
    secrets = {ref.credentials["access_token"], ref.credentials["refresh_token"], "test-secret"}
    for call in linkedin.requests:
        where = call.path + json.dumps(call.query)
        assert not any(secret in where for secret in secrets), call.path


def test_when_it_needs_reconnecting_the_printed_fix_runs_as_printed(
    initialized: str, cli: Cli, linkedin: FakeLinkedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import run_printed_fixes

    monkeypatch.setenv("AUTOPOSTR_OAUTH_PORT", "0")  # the port the OAuth redirect uses here
    cli.ok("accounts", "connect", "linkedin", "--page", "Acme Coffee", "--port", "0")
    for token in list(linkedin.oauth.access_tokens):
        linkedin.oauth.expire(token)
    linkedin.oauth.revoked.update(linkedin.oauth.refresh_tokens)
    post = cli.ok(
        "posts", "create", "--to", "linkedin:acme-coffee", "--text", "Back soon", "--json"
    ).json()
    published = cli("posts", "publish", post["id"], "--json")
    assert published.exit_code == 6
    [dest] = published.json()["destinations"]
    shown = cli.ok("accounts", "show", "linkedin:acme-coffee", "--json").json()
    assert shown["status"] == "needs_reconnect"
    # Without --page the member, not the organization, would be connected.
    assert "run `autopostr accounts connect linkedin --page acme-coffee`" in dest["error"]
    run_printed_fixes(cli, dest["error"])
    listed = cli.ok("accounts", "list", "--json").json()
    assert [(a["handle"], a["status"]) for a in listed] == [("acme-coffee", "active")]
    cli.ok("posts", "retry", post["id"])
    assert cli.ok("posts", "show", post["id"], "--json").json()["status"] == "published"
