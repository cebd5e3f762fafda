"""The Bluesky adapter against a fake PDS and video service: app-password connect,
posts with facets, images, video, threads, refresh, rate limits and retries that
never post twice. The CLI tests run on both engines; the rest call the adapter."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from autopostr.config import load_settings
from autopostr.keys import is_secret_extra
from autopostr.platforms.base import (
    AccountRef,
    Gone,
    Metrics,
    PermanentError,
    Processing,
    PublishRequest,
    PublishResult,
    TransientError,
)
from autopostr.platforms.bluesky import (
    TID_ALPHABET,
    BlueskyPlatform,
    KeyTaken,
    facets,
    rate_limit_wait,
    record_key,
    tid_instant,
)
from tests.fakes.bluesky_server import CONFLICTS, TID, BlueskyFake
from tests.helpers import Cli, destination, due_post, media_item, only_outcome
from tests.media_samples import image, mp4

HANDLE = "me.bsky.social"
PASSWORD = "abcd-efgh-ijkl-mnop"
ACCOUNT = f"bluesky:{HANDLE}"
CREATE = "com.atproto.repo.createRecord"


@pytest.fixture(scope="module")
def pds() -> Iterator[BlueskyFake]:
    with BlueskyFake() as server:
        yield server


@pytest.fixture
def fake(pds: BlueskyFake, monkeypatch: pytest.MonkeyPatch) -> BlueskyFake:
    pds.reset()
    pds.add_account(HANDLE, PASSWORD)
    pds.handles["alice.test"] = "did:plc:alice"
    monkeypatch.setenv("AUTOPOSTR_BLUESKY_API_URL", pds.url)
    monkeypatch.setenv("AUTOPOSTR_BLUESKY_VIDEO_URL", pds.url)
    monkeypatch.setenv("AUTOPOSTR_BLUESKY_MEDIA_POLL_SECONDS", "0.01")
    return pds


def platform() -> BlueskyPlatform:
    return BlueskyPlatform(load_settings())


def connect() -> AccountRef:
    """What `accounts add` stores, split the way AccountRef hands it back."""
    fields = platform().prepare_credentials({"handle": HANDLE, "app_password": PASSWORD})
    secret = {
        k: v
        for k, v in fields.items()
        if k in ("access_token", "refresh_token") or is_secret_extra(k)
    }
    extra = {
        k: v for k, v in fields.items() if k not in secret and k not in ("expires_in", "handle")
    }
    return AccountRef(id=1, platform="bluesky", handle=HANDLE, credentials=secret, extra=extra)


def request(*parts: str, **kw: Any) -> PublishRequest:
    kw.setdefault("idempotency_key", uuid.uuid4().hex)
    kw.setdefault("first_claimed_at", datetime.now(UTC))
    return PublishRequest(post_id=1, destination_id=1, parts=list(parts), **kw)


def covered(text: str, facet: dict[str, Any]) -> str:
    index = facet["index"]
    return text.encode()[index["byteStart"] : index["byteEnd"]].decode()


# -- through the CLI, on both engines -------------------------------------------------


def add_account(cli: Cli) -> dict[str, Any]:
    credentials = json.dumps({"handle": HANDLE, "app_password": PASSWORD})
    run = cli.ok("accounts", "add", "bluesky", "--json", input=credentials)
    return dict(run.json())


def publish_due(cli: Cli, text: str, **extra: str) -> tuple[str, dict[str, Any]]:
    flags = [arg for flag, value in extra.items() for arg in (f"--{flag.replace('_', '-')}", value)]
    post_id = due_post(cli, text, *flags, to=ACCOUNT)
    return post_id, only_outcome(cli)


def test_connect_with_an_app_password(
    initialized: str, cli: Cli, fake: BlueskyFake, tmp_path: Path
) -> None:
    account = add_account(cli)
    assert account["platform"] == "bluesky" and account["handle"] == HANDLE
    assert account["expires_at"] is not None  # from the accessJwt's own exp claim
    assert fake.sessions_created == 1
    run = cli.ok("accounts", "test", ACCOUNT, "--json")
    says = run.json()["platform_says"]
    assert says["handle"] == HANDLE and says["did"] == fake.handles[HANDLE]
    secrets = [PASSWORD, *fake.access, *fake.refresh]
    shown = cli.ok("accounts", "show", ACCOUNT, "--json").stdout
    assert not any(secret in shown for secret in secrets)
    if initialized == "sqlite":
        raw = (tmp_path / "home" / "autopostr.db").read_bytes()
        assert not any(secret.encode() in raw for secret in secrets)


def test_a_wrong_app_password_exits_5_and_an_unreachable_pds_exits_6(
    initialized: str, cli: Cli, fake: BlueskyFake
) -> None:
    wrong = json.dumps({"handle": HANDLE, "app_password": "zzzz-zzzz-zzzz-zzzz"})
    run = cli("accounts", "add", "bluesky", input=wrong)
    assert run.exit_code == 5
    assert "Invalid identifier or password" in run.stderr and "App passwords" in run.stderr
    assert "zzzz-zzzz" not in run.stderr + run.stdout
    unreachable = {"AUTOPOSTR_BLUESKY_API_URL": "http://127.0.0.1:9"}
    run = cli("accounts", "add", "bluesky", input=wrong, env=unreachable)
    assert run.exit_code == 6 and "cannot reach Bluesky" in run.stderr
    assert cli.ok("accounts", "list", "--json").json() == []


def test_a_text_post_goes_out_with_facets(initialized: str, cli: Cli, fake: BlueskyFake) -> None:
    add_account(cli)
    text = "Grüße 👩‍👩‍👧 @alice.test read https://example.com/a. #café"
    post_id, outcome = publish_due(cli, text)
    assert outcome["status"] == "published", outcome
    [record] = fake.posts()
    assert record["value"]["text"] == text
    assert outcome["remote_id"] == record["uri"]
    rkey = record["uri"].rsplit("/", 1)[1]
    assert TID.match(rkey)
    assert destination(cli, post_id)["url"] == f"https://bsky.app/profile/{HANDLE}/post/{rkey}"
    spans = [covered(text, f) for f in record["value"]["facets"]]
    assert spans == ["@alice.test", "https://example.com/a", "#café"]


@pytest.mark.parametrize("expired_status", [400, 401])
def test_an_expired_session_is_refreshed_and_the_post_goes_out(
    initialized: str, cli: Cli, fake: BlueskyFake, expired_status: int
) -> None:
    fake.expired_status = expired_status
    add_account(cli)
    fake.expire_access_tokens()
    _post_id, outcome = publish_due(cli, "after a nap")
    assert outcome["status"] == "published", outcome
    assert len(fake.calls("POST", r"/xrpc/com\.atproto\.server\.refreshSession")) == 1
    assert len(fake.calls("POST", r"/xrpc/" + CREATE)) == 2
    assert len(fake.posts()) == 1
    assert fake.sessions_created == 1  # the refreshJwt sufficed


def test_a_throttled_post_retries_at_the_reset_time(
    initialized: str, cli: Cli, fake: BlueskyFake
) -> None:
    add_account(cli)
    fake.throttle_next(CREATE, 900)  # RateLimit-Reset in epoch seconds, as Bluesky sends
    post_id, outcome = publish_due(cli, "not so fast")
    assert outcome["status"] == "retrying"
    wait = datetime.fromisoformat(str(outcome["next_attempt_at"])).timestamp() - time.time()
    assert 890 <= wait <= 905
    assert "Rate Limit Exceeded" in str(destination(cli, post_id)["error"])
    assert fake.posts() == []


def test_a_refused_post_fails_with_blueskys_words(
    initialized: str, cli: Cli, fake: BlueskyFake
) -> None:
    add_account(cli)
    fake.fail_next(
        CREATE,
        400,
        {"error": "InvalidRequest", "message": "Invalid app.bsky.feed.post record: nope"},
    )
    post_id, outcome = publish_due(cli, "doomed")
    assert outcome["status"] == "failed" and outcome["attempt"] == 1
    assert "Invalid app.bsky.feed.post record: nope" in str(destination(cli, post_id)["error"])


def test_links_tags_and_cashtags_go_out_as_the_official_client_marks_them(
    initialized: str, cli: Cli, fake: BlueskyFake
) -> None:
    add_account(cli)
    text = "see middle.com, bsky.app: its #double#rainbow ##hashash #️⃣no $aapl #a\u200bb"
    _post_id, outcome = publish_due(cli, text)
    assert outcome["status"] == "published", outcome
    [record] = fake.posts()
    found = [(covered(text, f), f["features"][0]) for f in record["value"]["facets"]]
    link, tag = "app.bsky.richtext.facet#link", "app.bsky.richtext.facet#tag"
    assert found == [
        ("middle.com", {"$type": link, "uri": "https://middle.com"}),
        ("bsky.app", {"$type": link, "uri": "https://bsky.app"}),
        ("#double#rainbow", {"$type": tag, "tag": "double#rainbow"}),
        ("##hashash", {"$type": tag, "tag": "#hashash"}),
        ("$aapl", {"$type": tag, "tag": "$AAPL"}),
        ("#a", {"$type": tag, "tag": "a"}),  # U+200B ends a tag
    ]


def test_the_byte_limit_is_checked_when_a_post_is_written_or_imported(
    initialized: str, cli: Cli, fake: BlueskyFake, tmp_path: Path
) -> None:
    add_account(cli)
    family = "👨‍👩‍👧‍👦"  # one grapheme, 25 bytes
    text = family * 121  # 121 graphemes, 3025 bytes
    run = cli("posts", "create", "--to", ACCOUNT, "--text", text, "--at", "+1h")
    assert run.exit_code == 5
    assert "is 3025 bytes of UTF-8, Bluesky's limit is 3000" in run.stderr
    csv_file = tmp_path / "posts.csv"
    csv_file.write_text(f"text,accounts\n{text},{ACCOUNT}\n", encoding="utf-8")
    dry = cli("posts", "import", str(csv_file), "--dry-run")
    assert dry.exit_code == 5 and "3025 bytes" in dry.stderr
    assert cli.ok("posts", "list", "--json").json() == []
    # नमस्ते is 3 graphemes (स्ते is one conjunct): this post is 300, not 375.
    hindi = ("नमस्ते " * 75).strip() + "!"
    cli.ok("posts", "create", "--to", ACCOUNT, "--text", hindi, "--at", "+1h")
    run = cli("posts", "create", "--to", ACCOUNT, "--text", hindi + "!", "--at", "+1h")
    assert run.exit_code == 5 and "301 characters, Bluesky's limit is 300" in run.stderr


def test_record_keys_carry_the_first_claim_through_a_retry(
    initialized: str, cli: Cli, fake: BlueskyFake
) -> None:
    """A PDS lists posts by record key: the key's time is when the post first went to be
    published, not a random year, and `posts retry` (a new claim, a new due time) keeps it."""
    add_account(cli)
    before = datetime.now(UTC)
    fake.fail_next(CREATE, 400, {"error": "InvalidRequest", "message": "not now"})
    post_id, outcome = publish_due(cli, "one\n---\ntwo")
    assert outcome["status"] == "failed"
    first_try = datetime.now(UTC)
    time.sleep(0.05)
    cli.ok("posts", "retry", post_id)
    assert destination(cli, post_id)["status"] == "published"
    keys = [record["uri"].rsplit("/", 1)[1] for record in fake.posts()]
    assert len(keys) == 2 and keys == sorted(keys)
    instants = [tid_instant(key) for key in keys]
    assert before <= instants[0] <= first_try, (before, instants, first_try)
    assert instants[1] - instants[0] == timedelta(microseconds=1)


# -- the adapter itself -------------------------------------------------------------------


def test_record_keys_are_tids_stamped_with_the_first_claim() -> None:
    at = datetime(2026, 5, 1, 9, 30, 15, 123456, tzinfo=UTC)
    keys = {record_key(f"{n}", at) for n in range(40)}
    assert all(TID.match(k) and set(k) <= set(TID_ALPHABET) for k in keys)
    assert {tid_instant(k) for k in keys} == {at}  # honest: the instant itself
    assert len(keys) > 30  # the clock bits come from each destination's own key
    assert record_key("abc", at) == record_key("abc", at)  # retries reuse it
    thread = [record_key("abc", at, step) for step in range(26)]
    assert thread == sorted(thread) and len(set(thread)) == 26  # listed in order
    assert tid_instant(record_key("abc", datetime(2252, 1, 1, tzinfo=UTC))).year == 2252


def test_facets_use_utf8_byte_offsets() -> None:
    text = (
        "日本語 🎉 (see https://ex.example/path_(x)), @alice.test and @nobody.test #tag, #123 ＃ok"
    )
    found = facets(text, {"alice.test": "did:plc:alice"}.get)
    # As Bluesky's own client links it: one trailing "," goes, and a ")" stays once the
    # link holds a "(".
    assert [covered(text, f) for f in found] == [
        "https://ex.example/path_(x))",
        "@alice.test",
        "#tag",
        "＃ok",
    ]
    link, mention, tag, wide = (f["features"][0] for f in found)
    assert link == {"$type": "app.bsky.richtext.facet#link", "uri": "https://ex.example/path_(x))"}
    assert mention == {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:alice"}
    assert tag["tag"] == "tag" and wide["tag"] == "ok"
    assert found[0]["index"]["byteStart"] == len("日本語 🎉 (see ".encode())


def test_rate_limit_reset_is_read_as_epoch_or_delta() -> None:
    now = 1_750_000_000.0
    assert rate_limit_wait({"ratelimit-reset": str(int(now) + 300)}, now) == 300
    assert rate_limit_wait({"ratelimit-reset": "300"}, now) == 300
    assert rate_limit_wait({"ratelimit-reset": "30", "retry-after": "120"}, now) == 120
    assert rate_limit_wait({}, now) is None


def test_a_delta_reset_header_is_honoured_too(fake: BlueskyFake) -> None:
    account = connect()
    fake.throttle_next(CREATE, 42, epoch=False)
    with pytest.raises(TransientError) as caught:
        platform().publish(account, request("hi"))
    assert caught.value.retry_after == 42


def test_images_carry_alt_text_and_aspect_ratio(fake: BlueskyFake, tmp_path: Path) -> None:
    account = connect()
    first = image(tmp_path / "a.png", "PNG", (64, 48))
    second = image(tmp_path / "b.jpg", "JPEG", (30, 90), seed=1)
    result = platform().publish(
        account,
        request(
            "two pictures",
            media=[
                media_item(first, "image/png", width=64, height=48, alt_text="a noisy square"),
                media_item(second, "image/jpeg", width=30, height=90),
            ],
        ),
    )
    [record] = fake.posts()
    assert result.remote_id == record["uri"]
    embed = record["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert [i["alt"] for i in embed["images"]] == ["a noisy square", ""]
    assert [i["aspectRatio"] for i in embed["images"]] == [
        {"width": 64, "height": 48},
        {"width": 30, "height": 90},
    ]
    uploads = fake.calls("POST", r"/xrpc/com\.atproto\.repo\.uploadBlob")
    assert [u.headers["content-type"] for u in uploads] == ["image/png", "image/jpeg"]
    assert uploads[0].body == first.read_bytes()


def test_an_image_over_one_megabyte_is_refused_before_any_upload(
    fake: BlueskyFake, tmp_path: Path
) -> None:
    account = connect()
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"\0" * 1_000_001)
    with pytest.raises(PermanentError, match="1,000,000"):
        platform().publish(
            account, request("big", media=[media_item(big, "image/png", width=10, height=10)])
        )
    assert fake.calls("POST", r"/xrpc/com\.atproto\.repo\.uploadBlob") == []
    assert fake.posts() == []


@pytest.mark.parametrize("wrapped", [False, True])
def test_a_video_is_processed_then_posted(fake: BlueskyFake, tmp_path: Path, wrapped: bool) -> None:
    fake.wrap_upload_status = wrapped
    fake.video_polls = 3
    account = connect()
    clip = mp4(tmp_path / "clip.mp4", width=1280, height=720)
    item = media_item(clip, "video/mp4", width=1280, height=720, alt_text="a short clip")
    platform().publish(account, request("watch this", media=[item]))
    [record] = fake.posts()
    embed = record["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.video" and embed["alt"] == "a short clip"
    assert embed["aspectRatio"] == {"width": 1280, "height": 720}
    [job] = fake.jobs.values()
    assert embed["video"] == job.blob
    assert job.states == ["JOB_STATE_ENCODING"] * 3 + ["JOB_STATE_COMPLETED"]
    [upload] = fake.calls("POST", r"/xrpc/app\.bsky\.video\.uploadVideo")
    assert upload.query == {"did": fake.handles[HANDLE], "name": "clip.mp4"}
    assert upload.body == clip.read_bytes()
    grants = sorted(
        lxm for _did, aud, lxm in fake.service_tokens.values() if aud.startswith("did:web:")
    )
    assert grants == ["app.bsky.video.getUploadLimits", "com.atproto.repo.uploadBlob"]


@pytest.mark.parametrize("blob_in_answer", [False, True])
def test_a_video_uploaded_before_is_reused(
    fake: BlueskyFake, tmp_path: Path, blob_in_answer: bool
) -> None:
    fake.already_exists_blob = blob_in_answer
    account = connect()
    clip = mp4(tmp_path / "clip.mp4")
    item = media_item(clip, "video/mp4", width=1280, height=720)
    platform().publish(account, request("once", media=[item]))
    # Answered 409 already_exists; its job's status is a failure that carries the blob.
    platform().publish(account, request("twice", media=[item]))
    first, second = fake.posts()
    assert first["value"]["embed"]["video"] == second["value"]["embed"]["video"]
    assert len(fake.calls("POST", r"/xrpc/app\.bsky\.video\.uploadVideo")) == 2


def test_a_video_post_retried_after_a_refused_create_goes_out(
    fake: BlueskyFake, tmp_path: Path
) -> None:
    account = connect()
    item = media_item(mp4(tmp_path / "clip.mp4"), "video/mp4", width=1280, height=720)
    post = request("retry me", media=[item])
    fake.throttle_next(CREATE, 60)
    with pytest.raises(TransientError):
        platform().publish(account, post)
    assert fake.posts() == []
    platform().publish(account, post)  # the video service knows the clip by now
    [record] = fake.posts()
    [job] = [j for j in fake.jobs.values() if not j.already_exists]
    assert record["value"]["embed"]["video"] == job.blob


def test_a_video_thread_processed_for_long_is_carried_on_as_one_thread(
    fake: BlueskyFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wait goes to the daemon with the job; `resume` asks about that job only (no
    upload, no service token) and makes the thread and its comment once."""
    monkeypatch.setenv("AUTOPOSTR_BLUESKY_MEDIA_POLL_SECONDS", "5")
    fake.video_polls = 10**6
    item = media_item(mp4(tmp_path / "clip.mp4"), "video/mp4", width=1280, height=720)
    thread = request("one", "two", first_comment="comment", media=[item])
    with pytest.raises(Processing) as caught:
        platform().publish(connect(), thread)
    state = json.loads(json.dumps(caught.value.resume))
    [job] = fake.jobs.values()
    assert state["video_job"] == job.job_id and fake.posts() == []
    grants = len(fake.service_tokens)
    job.polls_left = 0
    result = platform().resume(connect(), thread, state)
    one, two, comment = fake.posts()
    assert [p["value"]["text"] for p in (one, two, comment)] == ["one", "two", "comment"]
    assert one["value"]["embed"]["video"] == job.blob and "embed" not in two["value"]
    assert comment["value"]["reply"]["parent"]["uri"] == two["uri"]
    assert result.remote_id == one["uri"] and result.extra["first_comment"] == comment["uri"]
    assert len(fake.calls("POST", r"/xrpc/app\.bsky\.video\.uploadVideo")) == 1
    assert len(fake.service_tokens) == grants
    # Carried on again (the daemon stopped before it noted the result): the same thread.
    statuses = len(fake.calls("GET", r"/xrpc/app\.bsky\.video\.getJobStatus"))
    assert platform().resume(connect(), thread, state).remote_id == one["uri"]
    assert len(fake.posts()) == 3
    assert len(fake.calls("GET", r"/xrpc/app\.bsky\.video\.getJobStatus")) == statuses


def test_a_failed_video_job_is_permanent(fake: BlueskyFake, tmp_path: Path) -> None:
    fake.fail_video = "Video is too long"
    account = connect()
    item = media_item(mp4(tmp_path / "clip.mp4"), "video/mp4", width=1280, height=720)
    with pytest.raises(PermanentError, match="Video is too long"):
        platform().publish(account, request("nope", media=[item]))
    assert fake.posts() == []


def test_a_used_up_daily_video_limit_waits_for_tomorrow(fake: BlueskyFake, tmp_path: Path) -> None:
    fake.video_limits = {"canUpload": False, "remainingDailyVideos": 0, "message": "Daily limit"}
    account = connect()
    item = media_item(mp4(tmp_path / "clip.mp4"), "video/mp4", width=1280, height=720)
    with pytest.raises(TransientError, match="Daily limit") as caught:
        platform().publish(account, request("later", media=[item]))
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 86400
    assert fake.calls("POST", r"/xrpc/app\.bsky\.video\.uploadVideo") == []


def test_a_thread_and_its_first_comment_reply_in_order(fake: BlueskyFake) -> None:
    account = connect()
    result = platform().publish(account, request("one", "two", "three", first_comment="comment"))
    one, two, three, comment = fake.posts()
    assert [p["value"]["text"] for p in (one, two, three, comment)] == [
        "one",
        "two",
        "three",
        "comment",
    ]
    assert "reply" not in one["value"]

    def ref(post: dict[str, Any]) -> dict[str, str]:
        return {"uri": post["uri"], "cid": post["cid"]}

    assert two["value"]["reply"] == {"root": ref(one), "parent": ref(one)}
    assert three["value"]["reply"] == {"root": ref(one), "parent": ref(two)}
    assert comment["value"]["reply"] == {"root": ref(one), "parent": ref(three)}
    assert result.remote_id == one["uri"]
    assert result.extra["thread"] == [two["uri"], three["uri"]]
    assert result.extra["first_comment"] == comment["uri"]


@pytest.mark.parametrize("conflict", sorted(CONFLICTS))
def test_a_retry_never_posts_twice(fake: BlueskyFake, conflict: str) -> None:
    fake.conflict = conflict
    account = connect()
    thread = request("one", "two", "three")
    first = platform().publish(account, thread)
    did = fake.handles[HANDLE]
    last_key = fake.posts()[-1]["uri"].rsplit("/", 1)[1]
    del fake.records[(did, last_key)]  # the last attempt stopped before part three
    assert platform().find_published(account, thread) is None
    again = platform().publish(account, thread)
    assert again.remote_id == first.remote_id
    assert [p["value"]["text"] for p in fake.posts()] == ["one", "two", "three"]
    assert platform().publish(account, thread).remote_id == first.remote_id
    assert len(fake.posts()) == 3


def test_another_post_under_our_record_key_is_never_taken_for_ours(fake: BlueskyFake) -> None:
    account = connect()
    at = datetime.now(UTC)
    platform().publish(account, request("hello", idempotency_key="k", first_claimed_at=at))
    clash = request("something else", idempotency_key="k", first_claimed_at=at)
    with pytest.raises(KeyTaken, match="already holds another post"):
        platform().publish(account, clash)
    with pytest.raises(KeyTaken):
        platform().find_published(account, clash)
    assert [r["value"]["text"] for r in fake.posts()] == ["hello"]


def test_find_published_tells_for_certain(fake: BlueskyFake) -> None:
    account = connect()
    post = request("hello", first_comment="more")
    assert platform().find_published(account, post) is None
    sent = platform().publish(account, post)
    fake.expire_access_tokens()  # getRecord needs no session
    found = platform().find_published(account, post)
    assert isinstance(found, PublishResult)
    assert (found.remote_id, found.url) == (sent.remote_id, sent.url)


def test_a_malformed_reply_is_checked_before_posting_again(fake: BlueskyFake) -> None:
    account = connect()
    post = request("did it work?")
    fake.garble_next_create = True
    fake.fail_next(r"com\.atproto\.repo\.getRecord", 503, {"error": "Unavailable"})
    with pytest.raises(TransientError) as caught:
        platform().publish(account, post)
    assert caught.value.maybe_sent and "cannot read" in caught.value.message
    found = platform().find_published(account, post)
    assert isinstance(found, PublishResult)
    assert platform().publish(account, post).remote_id == found.remote_id
    assert len(fake.posts()) == 1
    # When the PDS can say at once, the post under our record key is the answer.
    fake.garble_next_create = True
    made = platform().publish(account, request("and this one?"))
    assert made.remote_id == fake.posts()[-1]["uri"] and len(fake.posts()) == 2


def test_delete_and_metrics(fake: BlueskyFake) -> None:
    account = connect()
    sent = platform().publish(account, request("count me", first_comment="a reply"))
    fake.counts[sent.remote_id] = {"likeCount": 5, "repostCount": 2, "quoteCount": 1}
    assert platform().metrics(account, sent.remote_id) == Metrics(
        likes=5, comments=1, shares=3, saves=0
    )
    assert platform().metrics(account, sent.remote_id).likes == 6  # liked once more since
    assert platform().account_metrics(account).followers == 310
    assert platform().delete(account, sent.remote_id) is True
    assert [p["value"]["text"] for p in fake.posts()] == ["a reply"]
    [deleted] = fake.calls("POST", r"/xrpc/com\.atproto\.repo\.deleteRecord")
    assert deleted.json()["rkey"] == sent.remote_id.rsplit("/", 1)[1]
    with pytest.raises(Gone, match="no longer has"):
        platform().metrics(account, sent.remote_id)
    assert platform().delete(account, sent.remote_id) is False  # already gone


def test_refresh_rotates_and_falls_back_to_the_app_password(fake: BlueskyFake) -> None:
    account = connect()
    fresh = platform().refresh(account)
    assert fresh is not None and fresh["access_token"] != account.credentials["access_token"]
    assert 7000 < fresh["expires_in"] <= 7200
    assert account.credentials["refresh_token"] not in fake.refresh  # rotated
    fake.expire_refresh_tokens()
    renewed = platform().refresh(
        AccountRef(1, "bluesky", HANDLE, None, {**account.credentials, **fresh}, account.extra)
    )
    assert renewed is not None and renewed["access_token"] in fake.access
    assert fake.sessions_created == 2
    fake.accounts[fake.handles[HANDLE]].app_password = "revoked"
    fake.expire_refresh_tokens()
    with pytest.raises(PermanentError, match="Invalid identifier or password"):
        platform().refresh(account)


def test_revoke_ends_the_session(fake: BlueskyFake) -> None:
    account = connect()
    platform().revoke(account)
    assert account.credentials["refresh_token"] not in fake.refresh


def test_text_over_the_limits_is_refused_before_any_call(fake: BlueskyFake) -> None:
    account = connect()
    before = len(fake.requests)
    with pytest.raises(PermanentError, match="301 characters, Bluesky's limit is 300"):
        platform().publish(account, request("a" * 301))
    # 300 graphemes, but a family emoji is 18 bytes: over the 3000-byte cap.
    with pytest.raises(PermanentError, match="5400 bytes of UTF-8, Bluesky's limit is 3000"):
        platform().publish(account, request("👩‍👩‍👧" * 300))
    assert len(fake.requests) == before


def test_secrets_never_travel_in_urls_or_errors(fake: BlueskyFake) -> None:
    account = connect()
    fake.fail_next(CREATE, 500, {"error": "InternalServerError", "message": "boom"})
    with pytest.raises(TransientError) as caught:
        platform().publish(account, request("x"))
    secrets = [PASSWORD, *fake.access, *fake.refresh, *fake.service_tokens]
    assert not any(s in caught.value.message for s in secrets)
    for sent in fake.requests:
        in_url = sent.path + json.dumps(sent.query)
        assert not any(s in in_url for s in secrets)


def test_when_it_needs_reconnecting_the_printed_fix_runs_as_printed(
    initialized: str, cli: Cli, fake: BlueskyFake
) -> None:
    from tests.helpers import run_printed_fixes

    add_account(cli)
    # The app password was revoked in Bluesky's settings and the session ran out.
    new_password = "wxyz-wxyz-wxyz-wxyz"
    fake.accounts[fake.handles[HANDLE]].app_password = new_password
    fake.expire_access_tokens()
    fake.expire_refresh_tokens()
    post_id, outcome = publish_due(cli, "after the revoke")
    assert outcome["status"] == "failed"
    assert cli.ok("accounts", "show", ACCOUNT, "--json").json()["status"] == "needs_reconnect"
    fix = f'pipe {{"app_password": "…"}} to `autopostr accounts add bluesky --handle {HANDLE}`'
    assert fix in outcome["error"]
    doctor = {c["name"]: c for c in cli("doctor", "--json").json()}
    assert doctor["accounts can publish"]["fix"] == fix
    # The printed command, with only the new app password piped in: the handle comes
    # from --handle, as printed.
    run_printed_fixes(cli, outcome["error"], {"app_password": new_password})
    assert cli.ok("accounts", "show", ACCOUNT, "--json").json()["status"] == "active"
    cli.ok("posts", "retry", post_id)
    assert destination(cli, post_id)["status"] == "published"


def test_accounts_add_takes_the_handle_from_the_option_and_says_what_to_pipe(
    initialized: str, cli: Cli, fake: BlueskyFake
) -> None:
    from tests.helpers import run_printed_fixes

    nothing = cli("accounts", "add", "bluesky", "--handle", HANDLE)
    assert nothing.exit_code == 5
    assert (
        f'pipe {{"app_password": "…"}} to `autopostr accounts add bluesky --handle {HANDLE}`'
        in nothing.stderr
    )
    run_printed_fixes(cli, nothing.stderr, {"app_password": PASSWORD})
    assert cli.ok("accounts", "show", ACCOUNT, "--json").json()["status"] == "active"
    other = json.dumps({"handle": "alice.test", "app_password": PASSWORD})
    mismatch = cli("accounts", "add", "bluesky", "--handle", "bob.test", input=other)
    assert mismatch.exit_code == 5 and "differ" in mismatch.stderr
