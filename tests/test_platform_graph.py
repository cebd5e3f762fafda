"""Facebook and Instagram make their Graph calls the same way (`graph.call`): the same
rule for a failure that may hide a post that went out (shared with every other
adapter, with Graph's error bodies read first), and the same words for an answer
that is not Graph's JSON, with the token blanked out of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from autopostr.config import load_settings
from autopostr.platforms.base import TransientError
from autopostr.platforms.facebook import FacebookPlatform
from autopostr.platforms.instagram import InstagramPlatform
from tests import test_platform_facebook as facebook_tests
from tests import test_platform_instagram as instagram_tests
from tests.fakes.facebook_server import APP_ID, APP_SECRET, FakeFacebook, graph_error
from tests.fakes.instagram_server import FakeInstagram
from tests.fakes.platform_server import FakePlatform, Response
from tests.helpers import media_item
from tests.media_samples import image


@dataclass
class Graph:
    title: str
    fake: FakePlatform
    token: str
    creates: str  # the path of the request that makes the post
    made: str  # the path of a request that makes something, but no post
    publish: Callable[[], Any]


@pytest.fixture(params=["facebook", "instagram"])
def graph(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Graph]:
    def env(name: str, value: str) -> None:
        monkeypatch.setenv(f"AUTOPOSTR_{name}", value)

    if request.param == "facebook":
        with FakeFacebook() as fb:
            fb.add_page(facebook_tests.ACME, "Acme Coffee", username="acmecoffee")
            env("FACEBOOK_API_URL", fb.url)
            env("FACEBOOK_CLIENT_ID", APP_ID)
            env("FACEBOOK_CLIENT_SECRET", APP_SECRET)
            account = facebook_tests.page_account(fb)
            photos = [
                media_item(
                    image(tmp_path / f"{n}.png", "PNG", seed=n).read_bytes(), "image/png", "a.png"
                )
                for n in (1, 2)
            ]
            yield Graph(
                "Facebook",
                fb,
                str(account.credentials["access_token"]),
                r"/111/feed$",
                r"/111/photos$",  # an album's photos are uploaded unpublished first
                lambda: FacebookPlatform(load_settings()).publish(
                    account, facebook_tests.request(media=photos)
                ),
            )
    else:
        with FakeInstagram() as ig:
            for key, value in instagram_tests.env_for(ig).items():
                monkeypatch.setenv(key, value)
            account = instagram_tests.account(ig)
            photo = instagram_tests.jpeg(ig, tmp_path)
            yield Graph(
                "Instagram",
                ig,
                str(account.credentials["access_token"]),
                r"/media_publish$",
                r"/media$",  # a container
                lambda: InstagramPlatform(load_settings()).publish(
                    account, instagram_tests.request(photo)
                ),
            )


def failure(graph: Graph, path: str, answer: Response) -> TransientError:
    graph.fake.fail_next(path, answer.status, answer.body, answer.headers, method="POST")
    with pytest.raises(TransientError) as caught:
        graph.publish()
    return caught.value


def test_graph_reporting_its_own_failure_in_a_400_may_hide_a_post(graph: Graph) -> None:
    """Graph's "unknown error" (code 1) and temporary trouble (code 2) are the server
    failing, whatever the status says: on the request that makes the post, the post
    may be out, so the next attempt looks before sending again."""
    for code in (1, 2):
        unknown = graph_error(code, "An unknown error has occurred.", status=400)
        assert failure(graph, graph.creates, unknown).maybe_sent
        assert not failure(graph, graph.made, unknown).maybe_sent  # no post was made there
    throttled = graph_error(4, "Application request limit reached", status=400)
    assert not failure(graph, graph.creates, throttled).maybe_sent  # refused, not failed
    page = Response(503, "<html>Service Unavailable</html>", {"Content-Type": "text/html"})
    assert failure(graph, graph.creates, page).maybe_sent
    assert not failure(graph, graph.made, page).maybe_sent


def test_an_answer_that_is_not_graph_json_is_quoted_without_the_token(graph: Graph) -> None:
    echoed = f"<html>upstream hiccup for Bearer {graph.token}</html>"
    error = failure(graph, graph.creates, Response(200, echoed, {"Content-Type": "text/html"}))
    assert error.maybe_sent
    assert error.message.startswith(f"{graph.title} gave a malformed answer to POST /v23.0/")
    assert error.message.endswith(
        "(HTTP 200, not a JSON object): <html>upstream hiccup for Bearer ***</html>"
    )
