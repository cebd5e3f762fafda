"""A post that went out while its first comment or a follow-up did not: published, and
`posts show`, the log and `--json` say what is missing (a retry would post it twice)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest

from autopostr.platforms import registry
from autopostr.platforms.base import (
    AccountRef,
    Limits,
    Platform,
    PublishRequest,
    PublishResult,
)
from tests.helpers import Cli


class CommentlessPlatform(Platform):
    """Publishes, then has its first comment refused, as Facebook does for spam-looking links."""

    name: ClassVar[str] = "commentless"
    title: ClassVar[str] = "Commentless"
    needs_credentials: ClassVar[bool] = False
    limits: ClassVar[Limits] = Limits(max_chars=500, first_comment=True)

    def publish(self, account: AccountRef, request: PublishRequest) -> PublishResult:
        extra = {}
        if request.first_comment:
            extra["first_comment_error"] = "Commentless answered 400: comments are closed"
        return PublishResult(remote_id=f"c-{request.destination_id}", extra=extra)


@pytest.fixture
def commentless() -> Iterator[None]:
    registry.register("commentless", CommentlessPlatform)
    yield
    registry.reset()


def test_a_refused_first_comment_is_shown_on_the_published_destination(
    initialized: str, cli: Cli, commentless: None
) -> None:
    cli.ok("accounts", "add", "commentless", "--handle", "shop")
    post = cli.ok(
        "posts",
        "create",
        "--to",
        "commentless:shop",
        "--text",
        "Open today",
        "--first-comment",
        "Link: https://example.com",
        "--json",
    ).json()
    cli.ok("posts", "publish", str(post["id"]))
    shown = cli.ok("posts", "show", str(post["id"]), "--json").json()
    assert shown["status"] == "published"
    [dest] = shown["destinations"]
    assert dest["status"] == "published" and dest["remote_id"].startswith("c-")
    assert dest["error"] == (
        "published, but the first comment failed: Commentless answered 400: comments are closed"
    )
    log = cli.ok("logs", "--json").json()
    assert any(e["event"] == "published" and "comments are closed" in e["message"] for e in log)


def test_a_clean_publish_has_no_error(initialized: str, cli: Cli, commentless: None) -> None:
    cli.ok("accounts", "add", "commentless", "--handle", "shop")
    post = cli.ok("posts", "create", "--to", "commentless:shop", "--text", "Hi", "--json").json()
    cli.ok("posts", "publish", str(post["id"]))
    [dest] = cli.ok("posts", "show", str(post["id"]), "--json").json()["destinations"]
    assert dest["status"] == "published" and dest["error"] is None
