"""The Facebook Pages adapter against a fake Graph API: connect through the Login
dialog and the loopback redirect, page picking, text/photo/album/video posts, first
comments, deletes, metrics, expired page tokens, throttling and malformed answers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from autopostr.config import load_settings
from autopostr.platforms.base import (
    UNKNOWN,
    AccountRef,
    AuthExpired,
    Gone,
    PermanentError,
    Processing,
    PublishRequest,
    PublishResult,
    TransientError,
)
from autopostr.platforms.facebook import FacebookPlatform, usage_wait
from autopostr.platforms.http import PROCESSING_SINCE
from tests.fakes.facebook_server import APP_ID, APP_SECRET, FakeFacebook, graph_error
from tests.fakes.platform_server import browse
from tests.helpers import Cli, db_session, destination, due_post, media_item, run_once

ACME = "111"
BETA = "222"
PAGE = "facebook:acmecoffee"  # Acme Coffee, connected


@pytest.fixture
def fb(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeFacebook]:
    with FakeFacebook() as fake:
        fake.add_page(ACME, "Acme Coffee", username="acmecoffee")
        fake.add_page(BETA, "Beta Bakes")
        monkeypatch.setenv("AUTOPOSTR_FACEBOOK_API_URL", fake.url)
        monkeypatch.setenv("AUTOPOSTR_FACEBOOK_AUTH_URL", fake.url)
        monkeypatch.setenv("AUTOPOSTR_FACEBOOK_CLIENT_ID", APP_ID)
        monkeypatch.setenv("AUTOPOSTR_FACEBOOK_CLIENT_SECRET", APP_SECRET)
        monkeypatch.setenv("AUTOPOSTR_FACEBOOK_MEDIA_POLL_SECONDS", "0.01")
        monkeypatch.setattr("webbrowser.open", lambda url: bool(browse(url)))
        yield fake
        # Tokens travel in headers or bodies, never in a URL that an error could quote.
        assert fake.tokens_in_query == []


def platform() -> FacebookPlatform:
    return FacebookPlatform(load_settings())


def page_account(fb: FakeFacebook, page_id: str = ACME, **credentials: Any) -> AccountRef:
    """An account as `connect` stores it: page token, and the long-lived user token."""
    user = "user-direct"
    fb.user_tokens.add(user)
    return AccountRef(
        id=1,
        platform="facebook",
        handle="acmecoffee",
        remote_id=page_id,
        credentials={"access_token": fb.pages[page_id].token, "user_token": user, **credentials},
    )


def request(text: str = "Fresh beans today", **kwargs: Any) -> PublishRequest:
    return PublishRequest(post_id=1, destination_id=1, parts=[text], idempotency_key="k1", **kwargs)


# -- connect (through the CLI, both engines) ----------------------------------------


def connect(cli: Cli, *pages: str) -> list[dict[str, Any]]:
    args = [arg for page in pages for arg in ("--page", page)]
    run = cli("accounts", "connect", "facebook", "--port", "0", "--json", *args)
    assert run.exit_code == 0, run.stderr
    return list(json.loads(run.stdout))


def test_connect_stores_the_picked_page_with_a_token_that_does_not_expire(
    initialized: str, cli: Cli, fb: FakeFacebook
) -> None:
    [account] = connect(cli, "Acme Coffee")
    assert account["platform"] == "facebook" and account["handle"] == "acmecoffee"
    assert account["name"] == "Acme Coffee"
    assert account["expires_at"] is None  # page tokens do not expire
    [asked] = fb.oauth.authorize_requests
    assert asked["state"] and "code_challenge" not in asked
    assert asked["scope"].split(",")[:3] == [
        "pages_show_list",
        "pages_read_engagement",
        "pages_manage_posts",
    ]
    grants = [r.get("grant_type") for r in fb.oauth.token_requests]
    assert grants == ["authorization_code", "fb_exchange_token"]
    test = cli.ok("accounts", "test", "facebook:acmecoffee", "--json").json()
    assert test["platform_says"]["id"] == ACME
    shown = cli.ok("accounts", "show", "facebook:acmecoffee", "--json").stdout
    assert fb.pages[ACME].token not in shown and not any(t in shown for t in fb.user_tokens)


def test_connect_with_several_pages_needs_page_and_lists_them(
    initialized: str, cli: Cli, fb: FakeFacebook
) -> None:
    run = cli("accounts", "connect", "facebook", "--port", "0")
    assert run.exit_code != 0
    assert "Acme Coffee (id 111)" in run.stderr and "Beta Bakes (id 222)" in run.stderr
    assert "--page" in run.stderr
    assert cli.ok("accounts", "list", "--json").json() == []


def test_connected_accounts_picks_pages_by_id_name_or_username(fb: FakeFacebook) -> None:
    fb.add_page("333", "Gamma Grill", tasks=["ANALYZE"])
    fb.accounts_page_size = 1  # three pages of answers: the cursor is followed
    token = fb.oauth.issue()
    accounts = platform().connected_accounts(token, {"page": "222,acmecoffee"})
    assert [(a.handle, a.remote_id) for a in accounts] == [
        ("beta-bakes", BETA),
        ("acmecoffee", ACME),
    ]
    assert accounts[0].credentials["access_token"] == fb.pages[BETA].token
    assert accounts[0].credentials["expires_in"] is None
    assert accounts[0].credentials["user_token"] in fb.user_tokens
    with pytest.raises(PermanentError, match="cannot publish"):
        platform().connected_accounts(fb.oauth.issue(), {"page": "Gamma Grill"})
    with pytest.raises(PermanentError, match=r"no page 'Delta'.*Acme Coffee"):
        platform().connected_accounts(fb.oauth.issue(), {"page": "Delta"})


def test_the_only_page_is_taken_without_page(fb: FakeFacebook) -> None:
    del fb.pages[BETA]
    [account] = platform().connected_accounts(fb.oauth.issue(), {})
    assert account.remote_id == ACME


def test_accounts_add_learns_the_page_from_a_pasted_token(
    initialized: str, cli: Cli, fb: FakeFacebook
) -> None:
    cli.ok(
        "accounts",
        "add",
        "facebook",
        "--handle",
        "acme",
        input=json.dumps({"access_token": fb.pages[ACME].token}),
    )
    said = cli.ok("accounts", "test", "facebook:acme", "--json").json()["platform_says"]
    assert said["id"] == ACME and said["name"] == "Acme Coffee"


# -- publishing end to end (CLI, both engines) ------------------------------------------


def account_status(cli: Cli, name: str = "facebook:acmecoffee") -> str:
    return str(cli.ok("accounts", "show", name, "--json").json()["status"])


def test_text_post_goes_to_the_page_feed(initialized: str, cli: Cli, fb: FakeFacebook) -> None:
    connect(cli, "acmecoffee")
    post_id = due_post(cli, "Fresh beans today", to=PAGE)
    [outcome] = run_once(cli)
    assert outcome["status"] == "published"
    remote = outcome["remote_id"]
    assert fb.posts[remote]["message"] == "Fresh beans today"
    assert (
        destination(cli, post_id)["url"]
        == f"https://www.facebook.com/{ACME}/posts/{remote.split('_')[1]}"
    )
    [feed] = fb.calls("POST", r"/v\d+\.\d+/111/feed")
    assert feed.headers["authorization"] == f"Bearer {fb.pages[ACME].token}"


def test_a_refused_page_token_is_derived_again_and_the_post_goes_out(
    initialized: str, cli: Cli, fb: FakeFacebook
) -> None:
    connect(cli, "acmecoffee")
    old = fb.invalidate_page_token(ACME)
    post_id = due_post(cli, "After a role change", to=PAGE)
    [outcome] = run_once(cli)
    assert outcome["status"] == "published", outcome
    assert fb.calls("GET", r"/v\d+\.\d+/me/accounts")  # asked for the page's token again
    assert account_status(cli) == "active"
    feeds = fb.calls("POST", r"/v\d+\.\d+/111/feed")
    assert [r.bearer for r in feeds] == [old, fb.pages[ACME].token]
    assert destination(cli, post_id)["status"] == "published"


def test_a_dead_login_marks_the_account_needs_reconnect_with_the_fix(
    initialized: str, cli: Cli, fb: FakeFacebook
) -> None:
    connect(cli, "acmecoffee")
    old = fb.pages[ACME].token
    fb.log_out_everywhere()
    post_id = due_post(cli, "After a password change", to=PAGE)
    [outcome] = run_once(cli)
    assert outcome["status"] == "failed"
    dest = destination(cli, post_id)
    assert "autopostr accounts connect facebook" in dest["error"]
    assert "Session has expired" in dest["error"]
    assert old not in dest["error"]
    assert account_status(cli) == "needs_reconnect"


def test_throttling_retries_when_facebook_says_access_returns(
    initialized: str, cli: Cli, fb: FakeFacebook
) -> None:
    connect(cli, "acmecoffee")
    usage = {ACME: [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 7}]}
    fb.throttle(r"/111/feed", 32, {"X-Business-Use-Case-Usage": json.dumps(usage)})
    post_id = due_post(cli, "Busy day", to=PAGE)
    [outcome] = run_once(cli)
    assert outcome["status"] == "retrying"
    dest = destination(cli, post_id)
    wait = datetime.fromisoformat(dest["next_attempt_at"]).timestamp() - time.time()
    assert 7 * 60 - 30 <= wait <= 7 * 60 + 5
    assert "Page request limit reached" in dest["error"]
    with db_session() as session:
        from sqlmodel import select

        from autopostr.models import PostDestination, utcnow

        for row in session.exec(select(PostDestination)):
            row.next_attempt_at = utcnow()
            session.add(row)
    [again] = run_once(cli)
    assert again["status"] == "published"
    assert len(fb.posts) == 1


def test_a_refused_post_fails_with_facebooks_message(
    initialized: str, cli: Cli, fb: FakeFacebook
) -> None:
    connect(cli, "acmecoffee")
    refusal = graph_error(368, "It looks like you were misusing this feature by going too fast.")
    fb.fail_next(r"/111/feed", refusal.status, refusal.body)
    post_id = due_post(cli, "Spam spam spam", to=PAGE)
    [outcome] = run_once(cli)
    assert outcome["status"] == "failed"
    error = destination(cli, post_id)["error"]
    assert "misusing this feature" in error and "code 368" in error
    assert fb.posts == {}


# -- media, comments, delete, metrics (the adapter alone) -----------------------------


def test_one_photo_is_posted_with_its_message(fb: FakeFacebook) -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    result = platform().publish(
        page_account(fb), request("Look", media=[media_item(data, "image/png", "a.png")])
    )
    [photo] = fb.photos.values()
    assert photo["bytes"] == data and photo["fields"]["message"] == "Look"
    assert fb.posts[result.remote_id]["photo"] in fb.photos
    assert result.url == f"https://www.facebook.com/{ACME}/posts/{result.remote_id.split('_')[1]}"


def test_a_photo_answer_without_post_id_gives_the_photo(fb: FakeFacebook) -> None:
    fb.photo_post_id = False
    result = platform().publish(
        page_account(fb), request("Look", media=[media_item(b"img", "image/png", "a.png")])
    )
    assert result.remote_id in fb.photos
    assert result.url == f"https://www.facebook.com/photo.php?fbid={result.remote_id}"


def test_several_photos_become_one_post(fb: FakeFacebook) -> None:
    contents = [bytes([n]) * 100 for n in range(1, 4)]
    items = [media_item(data, "image/png", f"{n}.png", id=n) for n, data in enumerate(contents, 1)]
    result = platform().publish(page_account(fb), request("Three", media=items))
    post = fb.posts[result.remote_id]
    assert post["message"] == "Three" and len(post["attached_media"]) == 3
    assert [fb.photos[p]["bytes"] for p in post["attached_media"]] == contents
    assert all(not fb.photos[p]["published"] for p in post["attached_media"])
    assert len(fb.posts) == 1  # the unpublished photos are not posts of their own


def test_video_uses_the_resumable_upload_and_waits_for_processing(fb: FakeFacebook) -> None:
    data = bytes(range(256)) * 5000
    fb.fail_next(r"/upload:", 503, {"error": {"message": "try again", "code": 2}}, method="POST")
    result = platform().publish(
        page_account(fb),
        request(
            "Our roastery",
            media=[media_item(data, "video/mp4", "v.mp4")],
            first_comment="Menu: link",
        ),
    )
    video = fb.videos[result.remote_id]
    assert video["bytes"] == data and video["via"] == "resumable"
    assert video["description"] == "Our roastery"
    assert video["polls"] == 3  # processing, processing, ready
    assert result.extra["video_status"] == "ready"
    assert fb.calls("GET", r"/v\d+\.\d+/upload:[\w-]+")  # asked where to resume
    upload = fb.calls("POST", r"/v\d+\.\d+/upload:[\w-]+")[-1]
    assert upload.headers["authorization"].startswith("OAuth user-")
    assert fb.comments[result.remote_id] == ["Menu: link"]


def test_video_without_a_user_token_goes_to_the_video_endpoint(fb: FakeFacebook) -> None:
    account = page_account(fb)
    account = AccountRef(
        1, "facebook", "acme", ACME, {"access_token": account.credentials["access_token"]}
    )
    data = b"\x00\x00\x00\x18ftypmp42" + b"\r\n" * 500
    result = platform().publish(
        account, request("", media=[media_item(data, "video/mp4", "v.mp4")])
    )
    assert fb.videos[result.remote_id]["bytes"] == data
    assert fb.videos[result.remote_id]["via"] == "source"


def test_video_after_the_login_ran_out_goes_with_the_page_token(fb: FakeFacebook) -> None:
    """The page token outlives the 60-day user token: videos still go out without a
    reconnect, through the endpoint that takes the file itself."""
    connected = page_account(fb)
    fb.user_tokens.clear()  # the long-lived login has expired
    account = AccountRef(
        1,
        "facebook",
        "acme",
        ACME,
        connected.credentials,
        extra={"user_token_expires_at": int(time.time()) - 60},
    )
    data = b"\x00\x00\x00\x18ftypmp42" + b"\r\n" * 500
    result = platform().publish(
        account, request("", media=[media_item(data, "video/mp4", "v.mp4")])
    )
    assert fb.videos[result.remote_id]["via"] == "source"


def test_a_video_facebook_cannot_process_fails_with_its_reason(fb: FakeFacebook) -> None:
    fb.video_fails = "The video file you selected is in a format that we don't support."
    with pytest.raises(PermanentError, match="format that we don't support"):
        platform().publish(
            page_account(fb), request("x", media=[media_item(b"v", "video/mp4", "v.mp4")])
        )


def test_a_failed_status_check_after_the_upload_does_not_upload_the_video_again(
    fb: FakeFacebook,
) -> None:
    """The video exists once Facebook gave its id: a throttled or broken status check
    must not make the publisher retry, which would upload it a second time."""
    fb.throttle(r"/v\d+\.\d+/\d+$", 32)
    item = media_item(b"\x00\x00\x00\x18ftypmp42" * 50, "video/mp4", "v.mp4")
    result = platform().publish(page_account(fb), request("Roasting", media=[item]))
    assert list(fb.videos) == [result.remote_id]
    assert result.extra["video_status"] == "unknown"


def test_a_video_processing_for_long_is_handed_over_and_commented_on_once_processed(
    fb: FakeFacebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload publishes a page video, so the hand-over names it and carrying on never
    uploads again: it asks its status, and once Facebook is done the result is the video
    (its post) and the first comment goes under it, once."""
    monkeypatch.setenv("AUTOPOSTR_FACEBOOK_MEDIA_POLL_SECONDS", "5")
    fb.video_polls_until_ready = 10**6
    item = media_item(b"\x00\x00\x00\x18ftypmp42" * 50, "video/mp4", "v.mp4")
    sent = request("Roasting", media=[item], first_comment="Menu: link")
    with pytest.raises(Processing) as caught:
        platform().publish(page_account(fb), sent)
    [video_id] = fb.videos
    state = json.loads(json.dumps(caught.value.resume))
    assert state["video_id"] == video_id and caught.value.check_after == 5
    with pytest.raises(Processing) as again:
        platform().resume(page_account(fb), sent, state)
    assert fb.comments == {} and fb.live_videos() == []
    fb.finish_videos()
    result = platform().resume(page_account(fb), sent, json.loads(json.dumps(again.value.resume)))
    assert result.remote_id == video_id and result.extra["video_status"] == "ready"
    assert result.url and result.url.endswith(f"/{ACME}/videos/{video_id}")
    assert fb.comments == {video_id: ["Menu: link"]}
    assert list(fb.videos) == [video_id] and len(fb.uploads) == 1


def test_a_video_handed_over_counts_as_sent_when_the_wait_runs_out(
    fb: FakeFacebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Facebook publishes the video when it is done, so a wait that runs out across
    hand-overs ends like one that runs out at once: sent, still processing."""
    monkeypatch.setenv("AUTOPOSTR_FACEBOOK_MEDIA_POLL_SECONDS", "5")
    monkeypatch.setenv("AUTOPOSTR_FACEBOOK_MEDIA_WAIT_SECONDS", "60")
    fb.video_polls_until_ready = 10**6
    item = media_item(b"\x00\x00\x00\x18ftypmp42" * 50, "video/mp4", "v.mp4")
    sent = request("Roasting", media=[item])
    with pytest.raises(Processing) as caught:
        platform().publish(page_account(fb), sent)
    state = {**caught.value.resume, PROCESSING_SINCE: time.time() - 61}
    result = platform().resume(page_account(fb), sent, state)
    assert result.remote_id == state["video_id"] and result.extra["video_status"] == "processing"
    assert list(fb.videos) == [result.remote_id]


def test_first_comment_goes_under_the_post_and_its_failure_does_not_repost(
    fb: FakeFacebook,
) -> None:
    result = platform().publish(page_account(fb), request("Hi", first_comment="Link: example.test"))
    assert fb.comments[result.remote_id] == ["Link: example.test"]
    assert result.extra["first_comment_id"]
    fb.fail_next(r"/comments", 400, graph_error(100, "(#100) comments are off").body)
    second = platform().publish(page_account(fb), request("Again", first_comment="nope"))
    assert second.remote_id in fb.posts
    assert "comments are off" in second.extra["first_comment_error"]


def test_delete_removes_the_post_and_a_second_delete_is_fine(fb: FakeFacebook) -> None:
    account = page_account(fb)
    result = platform().publish(account, request("Short-lived"))
    assert platform().delete(account, result.remote_id) is True
    assert result.remote_id not in fb.posts and fb.deleted == [result.remote_id]
    assert platform().delete(account, result.remote_id) is False  # already gone


def test_metrics_use_the_current_insights_names(fb: FakeFacebook) -> None:
    account = page_account(fb)
    result = platform().publish(account, request("Counted", first_comment="first"))
    metrics = platform().metrics(account, result.remote_id)
    # Unique media views are the post's reach; Graph has no total impressions any more.
    assert metrics.reach == 1234 and metrics.impressions is None and metrics.clicks == 56
    assert metrics.likes == 40 and metrics.comments == 1 and metrics.shares == 7
    assert metrics.raw["insights"]["post_clicks"] == 56 and metrics.raw["shares"] == {"count": 7}
    [asked] = fb.calls("GET", r"/v\d+\.\d+/\d+_\d+/insights")
    assert "impressions" not in asked.query["metric"]
    assert platform().metrics(account, result.remote_id).clicks == 61  # it grew meanwhile
    assert platform().account_metrics(account).followers == 321
    platform().delete(account, result.remote_id)
    with pytest.raises(Gone):
        platform().metrics(account, result.remote_id)


def test_throttle_codes_and_usage_headers(fb: FakeFacebook) -> None:
    fb.throttle(r"/feed", 4, {"X-App-Usage": '{"call_count": 100, "total_time": 20}'})
    with pytest.raises(TransientError) as caught:
        platform().publish(page_account(fb), request())
    assert caught.value.retry_after is None  # no time given: the publisher backs off
    assert usage_wait({"x-app-usage": '{"estimated_time_to_regain_access": 2}'}) == 120
    assert usage_wait({"x-business-use-case-usage": "not json"}) is None


def test_an_expired_token_is_authexpired_and_refresh_derives_a_new_one(fb: FakeFacebook) -> None:
    account = page_account(fb)
    fb.invalidate_page_token(ACME)
    with pytest.raises(AuthExpired, match="code 190"):
        platform().publish(account, request())
    fresh = platform().refresh(account)
    assert fresh == {"access_token": fb.pages[ACME].token, "expires_in": None}
    refused = AccountRef(1, "facebook", "acme", ACME, {"access_token": "x"})
    with pytest.raises(PermanentError, match="autopostr accounts connect facebook"):
        platform().refresh(refused)


def test_refresh_leaves_a_working_page_token_alone(fb: FakeFacebook) -> None:
    """`accounts refresh` on a pasted page token, or after the 60-day login ran out:
    the page token still works, so there is nothing to renew and nothing to reconnect."""
    token = fb.pages[ACME].token
    pasted = AccountRef(1, "facebook", "acme", ACME, {"access_token": token})
    assert platform().refresh(pasted) is None
    old_login = AccountRef(
        1, "facebook", "acme", ACME, {"access_token": token, "user_token": "user-expired"}
    )
    assert platform().refresh(old_login) is None


# -- malformed answers and lost replies ----------------------------------------------


def test_a_garbled_success_answer_means_ask_before_sending_again(fb: FakeFacebook) -> None:
    account = page_account(fb)
    fb.fail_next(r"/111/feed", 200, "<html>upstream hiccup</html>")
    with pytest.raises(TransientError) as caught:
        platform().publish(account, request("Maybe out"))
    assert caught.value.maybe_sent and "upstream hiccup" in caught.value.message
    assert platform().find_published(account, request("Maybe out")) is UNKNOWN
    platform().publish(account, request("Maybe out"))
    found = platform().find_published(account, request("Maybe out"))
    assert isinstance(found, PublishResult) and found.remote_id in fb.posts


def test_an_old_post_with_the_same_text_is_not_taken_for_the_lost_one(fb: FakeFacebook) -> None:
    """A page that says "Open today 9-5" every week: last week's post is another post,
    and taking it for the lost one would mark this one published without sending it."""
    account = page_account(fb)
    old = platform().publish(account, request("Open today 9-5"))
    fb.posts[old.remote_id]["created"] -= timedelta(days=7)
    assert platform().find_published(account, request("Open today 9-5")) is UNKNOWN


def test_an_error_page_that_is_not_graph_json_is_still_a_clear_error(fb: FakeFacebook) -> None:
    fb.fail_next(r"/111/feed", 502, "<html>Bad Gateway</html>")
    with pytest.raises(TransientError, match="502"):
        platform().publish(page_account(fb), request())
    fb.fail_next(r"/111/feed", 200, {"no": "id"})
    with pytest.raises(TransientError, match="without 'id'") as caught:
        platform().publish(page_account(fb), request())
    assert caught.value.maybe_sent


def test_a_server_error_on_a_post_means_ask_before_sending_again(fb: FakeFacebook) -> None:
    """Facebook's "unknown error" or a gateway's 504 came after the request arrived:
    the post may be out, so a blind retry could post it twice."""
    account = page_account(fb)
    unknown = graph_error(2, "An unexpected error has occurred.", status=500)
    fb.fail_next(r"/111/feed", unknown.status, unknown.body)
    with pytest.raises(TransientError) as caught:
        platform().publish(account, request())
    assert caught.value.maybe_sent and "unexpected error" in caught.value.message
    fb.fail_next(r"/111/feed", 504, "<html>Gateway Timeout</html>")
    with pytest.raises(TransientError) as caught:
        platform().publish(account, request())
    assert caught.value.maybe_sent
    fb.throttle(r"/111/feed", 32)  # a refusal: nothing went out
    with pytest.raises(TransientError) as caught:
        platform().publish(account, request())
    assert not caught.value.maybe_sent


def test_the_graph_version_comes_from_the_settings(
    fb: FakeFacebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPOSTR_FACEBOOK_GRAPH_VERSION", "21.0")
    platform().publish(page_account(fb), request())
    assert fb.calls("POST", r"/v21\.0/111/feed")


def test_a_token_for_another_page_is_refused_with_facebooks_words(fb: FakeFacebook) -> None:
    account = page_account(fb)
    wrong = AccountRef(1, "facebook", "acme", BETA, account.credentials)
    with pytest.raises(PermanentError, match=r"another page \(code 200"):
        platform().publish(wrong, request())


def test_when_it_needs_reconnecting_the_printed_fix_runs_as_printed(
    initialized: str, cli: Cli, fb: FakeFacebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import printed_fixes, run_printed_fixes

    monkeypatch.setenv("AUTOPOSTR_OAUTH_PORT", "0")  # the port the OAuth redirect uses here
    connect(cli, "acmecoffee")
    fb.log_out_everywhere()
    post_id = due_post(cli, "After a password change", to=PAGE)
    [outcome] = run_once(cli)
    assert outcome["status"] == "failed"
    assert account_status(cli) == "needs_reconnect"
    # This login manages two pages: only a command that names the page can work.
    assert printed_fixes(outcome["error"]) == [
        (f"autopostr accounts connect facebook --page {ACME}", None)
    ]
    run_printed_fixes(cli, outcome["error"])
    assert account_status(cli) == "active"
    assert [a["handle"] for a in cli.ok("accounts", "list", "--json").json()] == ["acmecoffee"]
    cli.ok("posts", "retry", post_id)
    assert destination(cli, post_id)["status"] == "published"
