"""What the adapters share about media, each against its fake platform: an item whose
bytes cannot be read is refused in the same words everywhere, and waiting for uploaded
media to be processed follows one pair of settings per platform,
AUTOPOSTR_<PLATFORM>_MEDIA_WAIT_SECONDS and _MEDIA_POLL_SECONDS (the older names still
work, with a warning that names the new one).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from autopostr.config import load_settings
from autopostr.errors import ConfigError
from autopostr.platforms import x as x_module
from autopostr.platforms.base import (
    MediaItem,
    PermanentError,
    Processing,
    PublishResult,
    TransientError,
)
from autopostr.platforms.bluesky import BlueskyPlatform
from autopostr.platforms.facebook import FacebookPlatform
from autopostr.platforms.http import (
    INLINE_WAIT_SECONDS,
    PROCESSING_SINCE,
    poll_until,
    timeout_seconds,
)
from autopostr.platforms.instagram import InstagramPlatform
from autopostr.platforms.linkedin import LinkedInPlatform
from autopostr.platforms.mastodon import MastodonPlatform, forget_instance_limits
from autopostr.platforms.oauth import configured_port
from autopostr.platforms.x import XPlatform
from tests import test_platform_bluesky as bluesky_tests
from tests import test_platform_facebook as facebook_tests
from tests import test_platform_instagram as instagram_tests
from tests import test_platform_linkedin as linkedin_tests
from tests import test_platform_mastodon as mastodon_tests
from tests import test_platform_x as x_tests
from tests.fakes.bluesky_server import BlueskyFake
from tests.fakes.facebook_server import APP_ID, APP_SECRET, FakeFacebook
from tests.fakes.instagram_server import FakeInstagram
from tests.fakes.linkedin_server import FakeLinkedIn
from tests.fakes.mastodon_server import FakeMastodon
from tests.fakes.x_server import FakeX
from tests.helpers import media_item
from tests.media_samples import mp4

WAIT: dict[str, Any] = {"what": "media", "wait": 1.0, "every": 1.0}
ENDLESS = 10**6  # status checks before a fake says it is done: never, for these tests


@dataclass
class Rig:
    """One adapter and its fake, ready to publish a video."""

    title: str
    publish: Callable[[MediaItem], PublishResult]
    video: Callable[[Path], MediaItem]
    endless: Callable[[], None]  # the platform never finishes processing
    # Carrying on: the adapter's `resume` in a new instance (another process), the
    # platform finishing what it processes, and what reached it so far.
    resume: Callable[[MediaItem, dict[str, Any]], PublishResult] | None = None
    finish: Callable[[], None] | None = None
    uploads: Callable[[], int] | None = None  # media sent to the platform
    posts: Callable[[], int] | None = None  # posts made


@contextmanager
def x_rig(env: Callable[[str, str], None]) -> Iterator[Rig]:
    with FakeX() as fake:
        env("X_API_URL", fake.url)

        def endless() -> None:
            fake.processing_polls = ENDLESS

        def finish() -> None:
            for media in fake.media.values():
                media.polls_left = 0

        yield Rig(
            "X",
            lambda item: XPlatform(load_settings()).publish(
                x_tests.account(fake), x_tests.request("Clip", media=[item])
            ),
            lambda path: media_item(mp4(path), "video/mp4", duration=12.5, width=1280, height=720),
            endless,
            resume=lambda item, state: XPlatform(load_settings()).resume(
                x_tests.account(fake), x_tests.request("Clip", media=[item]), state
            ),
            finish=finish,
            uploads=lambda: len(fake.calls("POST", "/2/media/upload/initialize")),
            posts=lambda: len(fake.live_tweets()),
        )


@contextmanager
def linkedin_rig(env: Callable[[str, str], None]) -> Iterator[Rig]:
    with FakeLinkedIn() as fake:
        env("LINKEDIN_API_URL", fake.url)

        def endless() -> None:
            fake.processing_polls = ENDLESS

        def finish() -> None:
            for video in fake.videos.values():
                video.polls_left = 0

        yield Rig(
            "LinkedIn",
            lambda item: LinkedInPlatform(load_settings()).publish(
                linkedin_tests.account(fake), linkedin_tests.request("Watch", media=[item])
            ),
            lambda path: media_item(mp4(path), "video/mp4"),
            endless,
            resume=lambda item, state: LinkedInPlatform(load_settings()).resume(
                linkedin_tests.account(fake), linkedin_tests.request("Watch", media=[item]), state
            ),
            finish=finish,
            uploads=lambda: len(fake.videos),
            posts=lambda: len(fake.posts),
        )


@contextmanager
def facebook_rig(env: Callable[[str, str], None]) -> Iterator[Rig]:
    with FakeFacebook() as fake:
        fake.add_page(facebook_tests.ACME, "Acme Coffee", username="acmecoffee")
        env("FACEBOOK_API_URL", fake.url)
        env("FACEBOOK_CLIENT_ID", APP_ID)
        env("FACEBOOK_CLIENT_SECRET", APP_SECRET)

        def endless() -> None:
            fake.video_polls_until_ready = ENDLESS

        yield Rig(
            "Facebook",
            lambda item: FacebookPlatform(load_settings()).publish(
                facebook_tests.page_account(fake), facebook_tests.request("Roastery", media=[item])
            ),
            lambda path: media_item(mp4(path).read_bytes(), "video/mp4", path.name),
            endless,
            resume=lambda item, state: FacebookPlatform(load_settings()).resume(
                facebook_tests.page_account(fake),
                facebook_tests.request("Roastery", media=[item]),
                state,
            ),
            finish=fake.finish_videos,
            uploads=lambda: len(fake.calls("POST", r"/v\d+\.\d+/\d+/videos")),
            # The upload publishes a page video; it appears once Facebook has processed it.
            posts=lambda: len(fake.live_videos()),
        )


@contextmanager
def instagram_rig(env: Callable[[str, str], None]) -> Iterator[Rig]:
    with FakeInstagram() as fake:
        for key, value in instagram_tests.env_for(fake).items():
            if "POLL" not in key:
                env(key.removeprefix("AUTOPOSTR_"), value)

        def endless() -> None:
            fake.video_polls = ENDLESS

        def finish() -> None:
            for container in fake.containers.values():
                container.polls_left = 0

        yield Rig(
            "Instagram",
            lambda item: InstagramPlatform(load_settings()).publish(
                instagram_tests.account(fake), instagram_tests.request(item)
            ),
            lambda path: instagram_tests.reel(fake),  # Instagram fetches it by URL
            endless,
            resume=lambda item, state: InstagramPlatform(load_settings()).resume(
                instagram_tests.account(fake), instagram_tests.request(item), state
            ),
            finish=finish,
            uploads=lambda: len(fake.container_calls()),
            posts=lambda: len(fake.media),
        )


@contextmanager
def mastodon_rig(env: Callable[[str, str], None]) -> Iterator[Rig]:
    forget_instance_limits()  # a port may come back in a later test
    with FakeMastodon() as fake:

        def endless() -> None:
            fake.processing_polls = ENDLESS

        def finish() -> None:
            for media in fake.media.values():
                media.polls_left = 0

        yield Rig(
            "Mastodon",
            lambda item: MastodonPlatform(load_settings()).publish(
                mastodon_tests.account(fake), mastodon_tests.request("Watch", media=[item])
            ),
            lambda path: media_item(mp4(path), "video/mp4"),
            endless,
            resume=lambda item, state: MastodonPlatform(load_settings()).resume(
                mastodon_tests.account(fake), mastodon_tests.request("Watch", media=[item]), state
            ),
            finish=finish,
            uploads=lambda: len(fake.calls("POST", "/api/v2/media")),
            posts=lambda: len(fake.statuses),
        )


@contextmanager
def bluesky_rig(env: Callable[[str, str], None]) -> Iterator[Rig]:
    with BlueskyFake() as fake:
        fake.add_account(bluesky_tests.HANDLE, bluesky_tests.PASSWORD)
        env("BLUESKY_API_URL", fake.url)
        env("BLUESKY_VIDEO_URL", fake.url)

        # One destination: a resumed publish comes with the request the first one had.
        post = bluesky_tests.request("watch")

        def endless() -> None:
            fake.video_polls = ENDLESS

        def finish() -> None:
            for job in fake.jobs.values():
                job.polls_left = 0

        yield Rig(
            "Bluesky",
            lambda item: BlueskyPlatform(load_settings()).publish(
                bluesky_tests.connect(), dataclasses.replace(post, media=[item])
            ),
            lambda path: media_item(mp4(path), "video/mp4", width=1280, height=720),
            endless,
            resume=lambda item, state: BlueskyPlatform(load_settings()).resume(
                bluesky_tests.connect(), dataclasses.replace(post, media=[item]), state
            ),
            finish=finish,
            uploads=lambda: len(fake.calls("POST", r"/xrpc/app\.bsky\.video\.uploadVideo")),
            posts=lambda: len(fake.posts()),
        )


RIGS = {
    "x": x_rig,
    "linkedin": linkedin_rig,
    "facebook": facebook_rig,
    "instagram": instagram_rig,
    "mastodon": mastodon_rig,
    "bluesky": bluesky_rig,
}
UPLOADERS = ["x", "linkedin", "facebook", "mastodon", "bluesky"]  # Instagram fetches by URL
# Facebook publishes a video when it is done processing, so a wait that runs out there
# counts as sent; everywhere else the publish is tried again later.
RETRIED = ["x", "linkedin", "instagram", "mastodon", "bluesky"]
# Media processing that lasts hands the wait to the daemon (`Processing`) and is carried
# on by the adapter's `resume`.
RESUMABLE = ["x", "linkedin", "facebook", "instagram", "mastodon", "bluesky"]
# The names the wait and the pause had before they shared one scheme.
OLD_NAMES = {
    "x": ("X_PROCESSING_TIMEOUT", "X_POLL_SECONDS"),
    "linkedin": ("LINKEDIN_VIDEO_WAIT_SECONDS", "LINKEDIN_POLL_SECONDS"),
    "facebook": ("FACEBOOK_VIDEO_WAIT_SECONDS", "FACEBOOK_POLL_SECONDS"),
    "instagram": ("INSTAGRAM_POLL_TIMEOUT", "INSTAGRAM_POLL_SECONDS"),
    "mastodon": ("MASTODON_MEDIA_WAIT_SECONDS", "MASTODON_POLL_SECONDS"),  # the wait kept its
    "bluesky": ("BLUESKY_VIDEO_TIMEOUT", "BLUESKY_POLL_SECONDS"),
}


@pytest.fixture
def rig(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    def env(name: str, value: str) -> None:
        monkeypatch.setenv(f"AUTOPOSTR_{name}", value)

    monkeypatch.setattr(x_module, "_memory", x_module._Memory())
    with RIGS[request.param](env) as ready:
        yield ready


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """`call()`'s result or exception, failing the test (not hanging it) when it takes
    longer than `seconds`, as a publish that ignores its wait would."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert outcome, f"still running after {seconds} s"
    return outcome[0]


@pytest.mark.parametrize("rig", UPLOADERS, indirect=True)
def test_an_item_whose_bytes_cannot_be_read_is_refused_in_one_sentence(
    rig: Rig, tmp_path: Path
) -> None:
    item = dataclasses.replace(rig.video(tmp_path / "clip.mp4"), id=42, open=None)
    with pytest.raises(PermanentError) as caught:
        rig.publish(item)
    assert caught.value.message == "the bytes of clip.mp4 (media 42) are not available"


@pytest.mark.parametrize("rig", RETRIED, indirect=True)
def test_media_still_processing_when_the_wait_runs_out_is_tried_again_later(
    rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    name = request.node.callspec.params["rig"].upper()
    monkeypatch.setenv(f"AUTOPOSTR_{name}_MEDIA_WAIT_SECONDS", "0.3")
    monkeypatch.setenv(f"AUTOPOSTR_{name}_MEDIA_POLL_SECONDS", "0.05")
    rig.endless()
    error = within(10, lambda: rig.publish(rig.video(tmp_path / "clip.mp4")))
    assert isinstance(error, TransientError) and not error.maybe_sent
    assert error.message.startswith(f"{rig.title} was still processing ")
    assert error.message.endswith(" after 0.3 s")


@pytest.mark.parametrize("rig", ["facebook"], indirect=True)
def test_a_facebook_video_still_processing_when_the_wait_runs_out_counts_as_sent(
    rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPOSTR_FACEBOOK_MEDIA_WAIT_SECONDS", "0.3")
    monkeypatch.setenv("AUTOPOSTR_FACEBOOK_MEDIA_POLL_SECONDS", "0.05")
    rig.endless()
    result = within(10, lambda: rig.publish(rig.video(tmp_path / "clip.mp4")))
    assert isinstance(result, PublishResult) and result.extra["video_status"] == "processing"


@pytest.mark.parametrize("rig", list(OLD_NAMES), indirect=True)
def test_the_old_names_of_the_media_wait_still_work_and_name_the_new_ones(
    rig: Rig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    name = request.node.callspec.params["rig"]
    old_wait, old_poll = OLD_NAMES[name]
    monkeypatch.setenv(f"AUTOPOSTR_{old_wait}", "0.3")
    monkeypatch.setenv(f"AUTOPOSTR_{old_poll}", "0.05")
    rig.endless()
    with caplog.at_level(logging.WARNING, logger="autopostr.config"):
        outcome = within(10, lambda: rig.publish(rig.video(tmp_path / "clip.mp4")))
    if name == "facebook":
        assert outcome.extra["video_status"] == "processing"
    else:
        assert isinstance(outcome, TransientError) and outcome.message.endswith(" after 0.3 s")
    warnings = {r.getMessage() for r in caplog.records if r.levelno == logging.WARNING}
    new_poll = f"AUTOPOSTR_{name.upper()}_MEDIA_POLL_SECONDS"
    assert f"AUTOPOSTR_{old_poll} is a deprecated name: use {new_poll}" in warnings
    if old_wait != "MASTODON_MEDIA_WAIT_SECONDS":
        new_wait = f"AUTOPOSTR_{name.upper()}_MEDIA_WAIT_SECONDS"
        assert f"AUTOPOSTR_{old_wait} is a deprecated name: use {new_wait}" in warnings


def test_a_new_name_wins_over_the_old_and_a_file_names_where_the_old_one_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "old.toml"
    config.write_text("[x]\npoll_seconds = 3\nprocessing_timeout = 60\n")
    both = load_settings({"AUTOPOSTR_CONFIG": str(config), "AUTOPOSTR_X_MEDIA_POLL_SECONDS": "0.5"})
    assert both.seconds("x_media_poll_seconds", 1.0) == 0.5
    with caplog.at_level(logging.WARNING, logger="autopostr.config"):
        settings = load_settings({"AUTOPOSTR_CONFIG": str(config)})
        assert settings.seconds("x_media_wait_seconds", 600.0) == 60
        assert settings.seconds("x_media_wait_seconds", 600.0) == 60
    assert [r.getMessage() for r in caplog.records] == [
        f"x_processing_timeout (file {config}) is a deprecated name: use x_media_wait_seconds"
    ]  # once per name, not at every read
    assert settings.source("x_media_wait_seconds") == f"file {config}"


@pytest.mark.parametrize(
    ("variable", "value", "read"),
    [
        ("X_MEDIA_WAIT_SECONDS", "soon", lambda s: poll_until(XPlatform(s), bool, int, **WAIT)),
        (
            "BLUESKY_MEDIA_POLL_SECONDS",
            "-2",
            lambda s: poll_until(BlueskyPlatform(s), bool, int, **WAIT),
        ),
        ("HTTP_TIMEOUT", "-1", timeout_seconds),
        ("OAUTH_PORT", "70000", configured_port),
        ("X_CHUNK_BYTES", "0", lambda s: XPlatform(s).chunk_bytes),
    ],
)
def test_a_platform_setting_out_of_range_names_itself_and_where_it_came_from(
    variable: str, value: str, read: Callable[[Any], Any]
) -> None:
    settings = load_settings({f"AUTOPOSTR_{variable}": value})
    with pytest.raises(ConfigError) as caught:
        read(settings)
        raise AssertionError("no error")
    assert caught.value.message.startswith(f"AUTOPOSTR_{variable} must be ")
    assert f"not {value!r} (from env AUTOPOSTR_{variable})" in caught.value.message


def test_durations_take_units(tmp_path: Path) -> None:
    assert timeout_seconds(load_settings({"AUTOPOSTR_HTTP_TIMEOUT": "2m"})) == 120


def carrying_on(
    rig: Rig,
) -> tuple[
    Callable[[MediaItem, dict[str, Any]], PublishResult],
    Callable[[], None],
    Callable[[], int],
    Callable[[], int],
]:
    assert rig.resume and rig.finish and rig.uploads and rig.posts, f"{rig.title}'s rig"
    return rig.resume, rig.finish, rig.uploads, rig.posts


@pytest.mark.parametrize("rig", RESUMABLE, indirect=True)
def test_processing_that_lasts_is_handed_to_the_daemon_and_carried_on_once(
    rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """A video the platform processes for longer than a moment holds no slot: the publish
    raises Processing with where it is; `resume` (in another process, from the state as
    the database keeps it) asks again, and once processed makes the post, never
    uploading twice."""
    resume, finish, uploads, posts = carrying_on(rig)
    name = request.node.callspec.params["rig"].upper()
    # Longer than INLINE_WAIT_SECONDS: the first "not yet" hands the wait over.
    monkeypatch.setenv(f"AUTOPOSTR_{name}_MEDIA_POLL_SECONDS", "5")
    rig.endless()
    item = rig.video(tmp_path / "clip.mp4")
    started = time.monotonic()
    waiting = within(10, lambda: rig.publish(item))
    assert isinstance(waiting, Processing), waiting
    assert time.monotonic() - started < INLINE_WAIT_SECONDS + 1.5
    assert waiting.check_after == 5
    state = json.loads(json.dumps(waiting.resume))  # as the destination keeps it
    assert uploads() == 1 and posts() == 0
    again = within(10, lambda: resume(item, state))  # not yet: nothing sent again
    assert isinstance(again, Processing), again
    assert uploads() == 1 and posts() == 0
    state = json.loads(json.dumps(again.resume))
    finish()
    result = within(10, lambda: resume(item, state))
    assert isinstance(result, PublishResult) and result.remote_id, result
    assert uploads() == 1 and posts() == 1


@pytest.mark.parametrize("rig", [name for name in RESUMABLE if name in RETRIED], indirect=True)
def test_processing_handed_over_still_gives_up_after_the_wait(
    rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """The wait counts from when the processing began, across hand-overs."""
    resume, _finish, _uploads, _posts = carrying_on(rig)
    name = request.node.callspec.params["rig"].upper()
    monkeypatch.setenv(f"AUTOPOSTR_{name}_MEDIA_POLL_SECONDS", "5")
    monkeypatch.setenv(f"AUTOPOSTR_{name}_MEDIA_WAIT_SECONDS", "60")
    rig.endless()
    item = rig.video(tmp_path / "clip.mp4")
    waiting = within(10, lambda: rig.publish(item))
    assert isinstance(waiting, Processing), waiting
    state = {**waiting.resume, PROCESSING_SINCE: time.time() - 61}  # an hour-long wait, later
    error = within(10, lambda: resume(item, state))
    assert isinstance(error, TransientError), error
    assert error.message.endswith(" after 60 s")
