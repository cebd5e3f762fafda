"""`posts unpublish` (and `posts delete --unpublish`): a published post is taken down on each
platform through the real adapters, against the fake platform servers, on both engines.
The record and the publish log stay; each destination ends `deleted` or says why not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from autopostr.platforms import x as x_module
from autopostr.platforms.mastodon import forget_instance_limits
from tests.fakes.bluesky_server import BlueskyFake
from tests.fakes.http_server import ScriptedServer, scripted_server
from tests.fakes.mastodon_server import FakeMastodon
from tests.fakes.x_server import FakeX
from tests.helpers import Cli, sandbox_lines
from tests.terminal import run_in_terminal

BSKY_HANDLE = "me.bsky.social"
BSKY_PASSWORD = "abcd-efgh-ijkl-mnop"


@dataclass
class Fakes:
    x: FakeX
    mastodon: FakeMastodon
    bluesky: BlueskyFake
    slack: ScriptedServer

    @property
    def mastodon_account(self) -> str:
        return f"mastodon:{self.mastodon.handle}"


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Fakes]:
    forget_instance_limits()
    monkeypatch.setattr(x_module, "_memory", x_module._Memory())
    with (
        FakeX() as x,
        FakeMastodon() as mastodon,
        BlueskyFake() as bluesky,
        scripted_server() as slack,
    ):
        for name, value in {
            "AUTOPOSTR_X_API_URL": x.url,
            "AUTOPOSTR_X_AUTH_URL": x.url,
            "AUTOPOSTR_X_CLIENT_ID": "x-client",
            "AUTOPOSTR_X_CLIENT_SECRET": "x-secret",
            "AUTOPOSTR_BLUESKY_API_URL": bluesky.url,
            "AUTOPOSTR_BLUESKY_VIDEO_URL": bluesky.url,
        }.items():
            monkeypatch.setenv(name, value)
        bluesky.add_account(BSKY_HANDLE, BSKY_PASSWORD)
        yield Fakes(x, mastodon, bluesky, slack)


def add_accounts(cli: Cli, fakes: Fakes) -> list[str]:
    """One account on each platform, as `accounts add` takes them on a headless server."""
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    cli.ok("accounts", "add", "x", input=json.dumps({"handle": "acme", **fakes.x.token()}))
    mastodon = {
        "handle": fakes.mastodon.handle,
        "access_token": fakes.mastodon.user_token(),
        "instance": fakes.mastodon.url,
    }
    cli.ok("accounts", "add", "mastodon", input=json.dumps(mastodon))
    bluesky = {"handle": BSKY_HANDLE, "app_password": BSKY_PASSWORD}
    cli.ok("accounts", "add", "bluesky", input=json.dumps(bluesky))
    slack = {"handle": "team", "url": fakes.slack.url + "/hook", "format": "slack"}
    cli.ok("accounts", "add", "webhook", input=json.dumps(slack))
    return [
        "sandbox:demo",
        "x:acme",
        fakes.mastodon_account,
        f"bluesky:{BSKY_HANDLE}",
        "webhook:team",
    ]


def published_post(cli: Cli, *to: str, text: str = "Going out, then taken down") -> str:
    targets = [arg for name in to for arg in ("--to", name)]
    post = cli.ok("posts", "create", *targets, "--text", text, "--json").json()["id"]
    cli.ok("posts", "publish", post)
    shown = cli.ok("posts", "show", post, "--json").json()
    assert {d["status"] for d in shown["destinations"]} == {"published"}
    return str(post)


def by_account(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["account"]: row for row in rows}


def test_unpublish_takes_it_down_everywhere_and_keeps_the_record(
    initialized: str, cli: Cli, fakes: Fakes, isolated_env: Path
) -> None:
    names = add_accounts(cli, fakes)
    post = published_post(cli, *names)
    tweet_id = fakes.x.live_tweets()[0].id
    assert fakes.mastodon.posted() and fakes.bluesky.posts()

    run = cli("posts", "unpublish", post, "--yes", "--json")
    assert run.exit_code == 5, run.stderr  # Slack's incoming webhooks have no delete
    result = run.json()
    assert result["post"] == post and result["status"] == "published"
    outcomes = by_account(result["destinations"])
    for name in names[:4]:
        assert outcomes[name]["outcome"] == "deleted" and outcomes[name]["status"] == "deleted"
        assert outcomes[name]["error"] is None and outcomes[name]["remote_id"]
    slack = outcomes["webhook:team"]
    assert slack["outcome"] == "not_supported" and slack["status"] == "published"
    assert "Slack incoming webhooks cannot delete" in slack["error"]

    # Gone on each platform, through each one's real delete call.
    assert fakes.x.tweets[tweet_id].deleted
    assert fakes.x.calls("DELETE", rf"/2/tweets/{tweet_id}")
    assert fakes.mastodon.posted() == [] and fakes.mastodon.deleted
    assert fakes.bluesky.posts() == []
    assert sandbox_lines(isolated_env)[-1]["deleted"] == outcomes["sandbox:demo"]["remote_id"]
    assert [r.method for r in fakes.slack.received] == ["POST"]  # the post; no delete call

    # The record stays, each destination saying what happened to it.
    shown = cli.ok("posts", "show", post, "--json").json()
    states = by_account(shown["destinations"])
    assert {n: states[n]["status"] for n in names} == {
        **dict.fromkeys(names[:4], "deleted"),
        "webhook:team": "published",
    }
    assert states["x:acme"]["remote_id"] == tweet_id and states["x:acme"]["url"]
    assert "still published" in states["webhook:team"]["error"]
    # One log event per destination, next to the ones that published it.
    log = cli.ok("logs", "--post", post, "--json").json()
    takedowns = [e for e in log if e["event"] in ("deleted", "delete_failed")]
    assert sorted((e["account"], e["event"]) for e in takedowns) == sorted(
        [(n, "deleted") for n in names[:4]] + [("webhook:team", "delete_failed")]
    )
    assert [e for e in log if e["event"] == "published"]
    audit = cli.ok("team", "audit", "--action", "post.unpublish", "--json").json()
    assert len(audit) == 1

    # Again: only what is still up is tried, and it still cannot be.
    again = cli("posts", "unpublish", post, "--yes", "--json")
    assert again.exit_code == 5
    assert [d["account"] for d in again.json()["destinations"]] == ["webhook:team"]


def test_a_post_already_gone_from_the_platform_counts_as_done(
    initialized: str, cli: Cli, fakes: Fakes
) -> None:
    add_accounts(cli, fakes)
    bluesky = f"bluesky:{BSKY_HANDLE}"
    post = published_post(cli, "x:acme", bluesky)
    # Someone deleted both by hand, in the apps: X answers 404, the PDS makes no commit.
    [tweet] = fakes.x.live_tweets()
    tweet.deleted = True
    fakes.bluesky.records.clear()
    run = cli.ok("posts", "unpublish", post, "--yes", "--json")
    outcomes = by_account(run.json()["destinations"])
    for name in ("x:acme", bluesky):
        assert outcomes[name]["outcome"] == "already_gone"
        assert outcomes[name]["status"] == "deleted"
    shown = cli.ok("posts", "show", post, "--json").json()
    assert {d["status"] for d in shown["destinations"]} == {"deleted"}
    messages = [e["message"] for e in cli.ok("logs", "--post", post, "--json").json()]
    assert sum("already gone" in m for m in messages) == 2
    # Taken down everywhere: running it again is fine and does nothing.
    calls = len(fakes.x.requests)
    again = cli.ok("posts", "unpublish", post, "--yes", "--json")
    assert again.json()["destinations"] == [] and len(fakes.x.requests) == calls


def test_one_account_only(initialized: str, cli: Cli, fakes: Fakes) -> None:
    add_accounts(cli, fakes)
    post = published_post(cli, "sandbox:demo", "x:acme")
    run = cli.ok("posts", "unpublish", post, "--account", "x:acme", "--yes")
    assert "x:acme: taken down" in run.stderr
    states = by_account(cli.ok("posts", "show", post, "--json").json()["destinations"])
    assert states["x:acme"]["status"] == "deleted"
    assert states["sandbox:demo"]["status"] == "published"
    elsewhere = cli("posts", "unpublish", post, "--account", "bluesky:" + BSKY_HANDLE, "--yes")
    assert elsewhere.exit_code == 5 and "does not go to" in elsewhere.stderr


def test_an_expired_token_is_refreshed_once_and_a_refused_one_says_how_to_reconnect(
    initialized: str, cli: Cli, fakes: Fakes
) -> None:
    add_accounts(cli, fakes)
    first = published_post(cli, "x:acme", text="first")
    for token in list(fakes.x.oauth.access_tokens):
        fakes.x.oauth.expire(token)
    refreshes = len(fakes.x.oauth.token_requests)
    done = cli.ok("posts", "unpublish", first, "--yes", "--json").json()
    assert done["destinations"][0]["outcome"] == "deleted"
    assert len(fakes.x.oauth.token_requests) == refreshes + 1
    assert fakes.x.oauth.token_requests[-1]["grant_type"] == "refresh_token"

    second = published_post(cli, "x:acme", text="second")
    for token in list(fakes.x.oauth.access_tokens):
        fakes.x.oauth.expire(token)
    fakes.x.oauth.revoked.update(fakes.x.oauth.refresh_tokens)
    run = cli("posts", "unpublish", second, "--yes", "--json")
    assert run.exit_code == 6
    [failed] = run.json()["destinations"]
    assert failed["outcome"] == "failed" and failed["status"] == "published"
    assert "autopostr accounts connect x" in failed["error"]
    assert cli.ok("accounts", "show", "x:acme", "--json").json()["status"] == "needs_reconnect"
    assert fakes.x.live_tweets()  # still up, and the record says so
    [dest] = cli.ok("posts", "show", second, "--json").json()["destinations"]
    assert dest["status"] == "published" and "autopostr accounts connect x" in dest["error"]


def test_viewers_cannot_unpublish(initialized: str, cli: Cli, tmp_path: Path) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    post = published_post(cli, "sandbox:demo")
    viewer = {"AUTOPOSTR_HOME": str(tmp_path / "viewer")}
    cli.ok(
        "auth", "register", "--email", "v@example.com", "--password-stdin",
        input="correct horse battery", env=viewer,
    )  # fmt: skip
    token = cli.ok("team", "invite", "v@example.com", "--role", "viewer", "--json").json()
    cli.ok("team", "join", "--token-stdin", input=token["token"], env=viewer)
    run = cli("posts", "unpublish", post, "--yes", env=viewer)
    assert run.exit_code == 4 and "editor" in run.stderr
    [dest] = cli.ok("posts", "show", post, "--json").json()["destinations"]
    assert dest["status"] == "published"


def test_what_cannot_be_unpublished(initialized: str, cli: Cli) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    draft = cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "d", "--json").json()
    never = cli("posts", "unpublish", draft["id"], "--yes")
    assert never.exit_code == 5 and "nothing on the platforms" in never.stderr
    assert cli("posts", "unpublish", "99999", "--yes").exit_code == 3
    post = published_post(cli, "sandbox:demo")
    refused = cli("posts", "unpublish", post)  # no terminal, no --yes
    assert refused.exit_code == 2 and "--yes" in refused.stderr


def test_delete_offers_to_unpublish_first_in_a_terminal(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    post = published_post(cli, "sandbox:demo")
    screen = run_in_terminal(
        "posts", "delete", post, answers=[("Take it down", "y"), ("Delete post", "y")]
    )
    assert screen.exit_code == 0, screen.output
    assert f"autopostr posts unpublish {post}" in screen.output
    assert "sandbox:demo: taken down" in screen.output
    assert "deleted" in sandbox_lines(isolated_env)[-1]
    assert cli("posts", "show", post).exit_code == 3

    # Declined: the record goes, what went out stays, and the warning says how it is done.
    kept = published_post(cli, "sandbox:demo", text="kept up there")
    screen = run_in_terminal(
        "posts", "delete", kept, answers=[("Take it down", "n"), ("Delete post", "y")]
    )
    assert screen.exit_code == 0, screen.output
    warning = screen.output[screen.output.index(f"Post {kept} deleted") :]
    assert "stays online" in warning and "posts unpublish" in warning
    assert "deleted" not in sandbox_lines(isolated_env)[-1]
    assert cli("posts", "show", kept).exit_code == 3


def test_delete_in_scripts_names_unpublish_and_takes_it_down_with_the_flag(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    post = published_post(cli, "sandbox:demo")
    refused = cli("posts", "delete", post)
    assert refused.exit_code == 2
    assert "--yes" in refused.stderr and f"autopostr posts unpublish {post}" in refused.stderr
    done = cli.ok("posts", "delete", post, "--unpublish", "--yes")
    assert "taken down" in done.stderr
    assert "deleted" in sandbox_lines(isolated_env)[-1]
    assert cli("posts", "show", post).exit_code == 3
