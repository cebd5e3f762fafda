"""`autopostr ai …` against a fake OpenAI-compatible server, through the real `openai`
client, on both engines: what is sent, what comes back fitted, the retries, the
errors, `--apply` through the edit path, and what each request records."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAI, candidates
from tests.helpers import Cli, db_session, run_autopostr
from tests.media_samples import image

PASSWORD = "correct horse battery"
QUICK_RETRY = {"retry-after-ms": "10"}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        monkeypatch.setenv("AUTOPOSTR_AI_BASE_URL", server.url)
        assert server.key is not None
        monkeypatch.setenv("AUTOPOSTR_AI_API_KEY", server.key)
        yield server


def usage_rows() -> list[Any]:
    from sqlmodel import col, select

    from autopostr.models import AiUsage

    with db_session() as session:
        return list(session.exec(select(AiUsage).order_by(col(AiUsage.id))))


def one_error(run: Any) -> str:
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), run.stderr
    assert run.exception is None, run.exception
    return lines[0]


def post(cli: Cli, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return cli.ok("posts", "create", *args, "--json", env=env).json()


# -- what goes out, what comes back ---------------------------------------------------


def test_a_caption_goes_out_as_a_chat_completion_and_comes_back_fitted(
    initialized: str, cli: Cli, fake: FakeOpenAI
) -> None:
    data = cli.ok("ai", "caption", "--topic", "our espresso", "--platform", "x", "--json").json()

    (request,) = fake.completions()
    assert request.headers["authorization"] == f"Bearer {fake.key}"
    body = request.body
    assert body["model"] == "gpt-4o" and not body.get("stream")
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "our espresso" in body["messages"][1]["content"]
    assert "at most 280 characters as X counts them" in body["messages"][1]["content"]
    assert data == {
        "feature": "caption",
        "model": "gpt-4o",
        "platform": "x",
        "candidates": [
            {
                "text": f"Candidate {n}: fresh words for you.",
                "length": 33,
                "limit": 280,
                "fits": True,
                "trimmed": False,
                "platform": "x",
                "account": None,
            }
            for n in (1, 2, 3)
        ],
        "usage": {"prompt_tokens": data["usage"]["prompt_tokens"], "completion_tokens": 32},
        "applied": None,
    }
    assert data["usage"]["prompt_tokens"] > 50

    (row,) = usage_rows()
    assert (row.feature, row.model, row.completion_tokens, row.ok) == (
        "caption",
        "gpt-4o",
        32,
        True,
    )
    assert row.prompt_tokens == data["usage"]["prompt_tokens"] and row.team_id is not None


def test_the_human_output_numbers_the_candidates(
    initialized: str, cli: Cli, fake: FakeOpenAI
) -> None:
    run = cli.ok("ai", "ideas", "--topic", "tea", "-n", "2")
    assert run.stdout.splitlines() == [
        "1. Candidate 1: fresh words for you.",
        "2. Candidate 2: fresh words for you.",
    ]
    assert "gpt-4o:" in run.stderr and "completion tokens" in run.stderr


def test_model_comes_from_the_flag_then_the_setting(
    initialized: str, cli: Cli, fake: FakeOpenAI
) -> None:
    cli.ok("ai", "ideas", "--topic", "tea", "--model", "llama3.2")
    cli.ok("ai", "ideas", "--topic", "tea", env={"AUTOPOSTR_AI_MODEL": "gpt-4o-mini"})
    assert [r.body["model"] for r in fake.completions()] == ["llama3.2", "gpt-4o-mini"]
    assert [r.model for r in usage_rows()] == ["llama3.2", "gpt-4o-mini"]


def test_a_local_server_without_a_key_gets_no_authorization_header(
    initialized: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAI(key=None) as local:
        monkeypatch.setenv("AUTOPOSTR_AI_BASE_URL", local.url)
        cli.ok("ai", "ideas", "--topic", "tea")
        assert "authorization" not in local.completions()[0].headers


def test_openai_api_key_is_read_from_the_environment(
    initialized: str, cli: Cli, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUTOPOSTR_AI_API_KEY")
    assert fake.key is not None
    monkeypatch.setenv("OPENAI_API_KEY", fake.key)
    cli.ok("ai", "ideas", "--topic", "tea")
    assert fake.completions()[0].headers["authorization"] == f"Bearer {fake.key}"


def test_show_prompt_sends_nothing_and_needs_no_server(initialized: str, cli: Cli) -> None:
    run = cli.ok("ai", "caption", "--topic", "our espresso", "--tone", "playful", "--show-prompt")
    assert run.stdout.startswith("POST https://api.openai.com/v1/chat/completions\nmodel: gpt-4o\n")
    assert (
        "[system]" in run.stdout and "our espresso" in run.stdout and "Tone: playful." in run.stdout
    )
    data = cli.ok("ai", "ideas", "--topic", "tea", "--show-prompt", "--json").json()
    assert list(data) == ["url", "model", "messages"]
    assert data["messages"][1]["role"] == "user" and "tea" in data["messages"][1]["content"]
    assert usage_rows() == []


def test_config_show_masks_the_key(cli: Cli) -> None:
    env = {"AUTOPOSTR_AI_API_KEY": "sk-secret-123456", "AUTOPOSTR_AI_BASE_URL": "http://h:1/v1"}
    shown = {s["name"]: s for s in cli.ok("config", "show", "--json", env=env).json()}
    assert shown["ai_api_key"]["value"] == "****"
    assert shown["ai_base_url"]["value"] == "http://h:1/v1"
    assert shown["ai_requests_per_minute"]["source"] == "unset"


# -- fitting and retries ---------------------------------------------------------------


def test_an_over_long_candidate_is_asked_once_more_then_trimmed(
    initialized: str, cli: Cli, fake: FakeOpenAI
) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    long = "Our new espresso blend is here " * 12 + "https://example.com/espresso #coffee"
    fake.say(candidates(long, "Short and sweet."), candidates(long + " still long"))

    data = cli.ok("ai", "caption", "--topic", "espresso", "--to", "sandbox:demo", "--json").json()

    _first, again = fake.completions()
    reask = again.messages[-1]["content"]
    # 31 × 12 characters, the link as 23 (Sandbox counts as X does), " #coffee".
    assert "candidate 1 is 403 characters; Sandbox allows at most 280" in reask
    assert again.messages[-2] == {
        "role": "assistant",
        "content": candidates(long, "Short and sweet."),
    }
    trimmed, short = data["candidates"]
    assert trimmed["trimmed"] and trimmed["fits"] and trimmed["length"] <= 280
    assert trimmed["text"].endswith("…") and long.startswith(trimmed["text"][:-1])
    assert short == {**short, "text": "Short and sweet.", "trimmed": False, "fits": True}
    # Both calls are one request, with the tokens of both.
    (row,) = usage_rows()
    assert row.completion_tokens == data["usage"]["completion_tokens"] > 100


def test_the_second_answer_is_kept_when_it_fits(
    initialized: str, cli: Cli, fake: FakeOpenAI
) -> None:
    fake.say(candidates("word " * 100, "fine"), candidates("Now it fits, with https://x.co/a."))
    data = cli.ok("ai", "caption", "--topic", "t", "--platform", "bluesky", "--json").json()
    assert [c["text"] for c in data["candidates"]] == ["Now it fits, with https://x.co/a.", "fine"]
    assert not any(c["trimmed"] for c in data["candidates"])


def test_trimming_keeps_links_mentions_and_hashtags_whole(
    initialized: str, cli: Cli, fake: FakeOpenAI
) -> None:
    words = "Tasting notes " * 19 + "@roastery.bsky.social https://example.com/beans #SingleOrigin"
    fake.say(candidates(words + " and more words"), candidates(words + " and more words"))
    data = cli.ok("ai", "caption", "--topic", "t", "--platform", "bluesky", "-n", "1", "--json")
    (item,) = data.json()["candidates"]
    assert item["trimmed"] and item["fits"]
    for token in item["text"].rstrip("…").split():
        assert token in words.split() or token in ("and", "more", "words")


def test_bad_hashtags_come_back_valid_distinct_and_at_most_max(
    initialized: str, cli: Cli, fake: FakeOpenAI
) -> None:
    fake.say(
        candidates(
            "#Coffee Time",
            "#coffee-time",
            "#2024",
            "#Espresso!",
            "#espresso",
            "#latte art",
            "#Beans",
        )
    )
    data = cli.ok("ai", "hashtags", "Fresh espresso", "--max", "3", "--platform", "x", "--json")
    tags = [c["text"] for c in data.json()["candidates"]]
    assert tags == ["#CoffeeTime", "#Espresso", "#latteArt"]
    assert "holding 3 strings" in fake.completions()[0].messages[0]["content"]


@pytest.mark.parametrize("bad", ["Sure! Here are some captions: 1. Coffee 2. Tea", ""])
def test_a_reply_not_in_the_asked_format_is_asked_for_again(
    initialized: str, cli: Cli, fake: FakeOpenAI, bad: str
) -> None:
    fake.say(bad, candidates("Better"))
    data = cli.ok("ai", "caption", "--topic", "t", "--json").json()
    assert [c["text"] for c in data["candidates"]] == ["Better"]
    again = fake.completions()[1].messages
    assert "not in the asked format" in again[-1]["content"]
    assert len(usage_rows()) == 1


@pytest.mark.parametrize(
    ("bad", "said"), [("no JSON here", "not in the asked JSON form"), ("", "empty")]
)
def test_two_replies_not_in_the_asked_format_are_a_clear_error(
    initialized: str, cli: Cli, fake: FakeOpenAI, bad: str, said: str
) -> None:
    fake.say(bad, bad)
    run = cli("ai", "caption", "--topic", "t")
    assert run.exit_code == 6
    assert one_error(run) == (
        f"Error: the AI server's reply was {said} twice (gpt-4o): try again, or another "
        "model with --model"
    )
    (row,) = usage_rows()
    assert not row.ok


def test_a_429_is_retried_once_after_retry_after_and_counted_once(
    initialized: str, cli: Cli, fake: FakeOpenAI
) -> None:
    fake.fail(429, headers={"retry-after": "1"})
    started = time.monotonic()
    cli.ok("ai", "ideas", "--topic", "tea")
    assert time.monotonic() - started >= 1.0
    assert len(fake.completions()) == 2
    (row,) = usage_rows()
    assert row.ok


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (429, "the AI server is busy (429): Rate limit reached for gpt-4o"),
        (500, "the AI server failed (500): The server had an error while processing"),
        (503, "the AI server failed (503): The engine is currently overloaded"),
    ],
)
def test_a_server_failing_twice_is_exit_6_with_its_message(
    initialized: str, cli: Cli, fake: FakeOpenAI, status: int, said: str
) -> None:
    fake.fail(status, headers=QUICK_RETRY, times=2)
    run = cli("ai", "ideas", "--topic", "tea")
    assert run.exit_code == 6
    assert one_error(run).startswith(f"Error: {said}")
    assert len(fake.completions()) == 2
    (row,) = usage_rows()
    assert not row.ok


def test_a_timeout_is_retried_once_then_exit_6(
    initialized: str, cli: Cli, fake: FakeOpenAI
) -> None:
    fake.fail(500, delay=3, times=2)
    run = cli("ai", "ideas", "--topic", "tea", env={"AUTOPOSTR_AI_TIMEOUT": "0.5"})
    assert run.exit_code == 6
    assert "did not answer within 0.5 s (AUTOPOSTR_AI_TIMEOUT)" in one_error(run)
    assert len(fake.completions()) == 2


def test_a_stream_that_stalls_is_a_timeout_tried_once_more(fake: FakeOpenAI) -> None:
    from autopostr.ai.server import Client, Server
    from autopostr.errors import ExternalServiceError

    fake.pause = 1.0  # after each chunk
    seen: list[str] = []
    client = Client(Server(fake.url, "gpt-4o", timeout=0.3, key=fake.key, key_from="test"))
    with pytest.raises(ExternalServiceError, match=r"did not answer within 0\.3 s"):
        client.complete([{"role": "user", "content": "hi"}], on_text=seen.append)
    assert len(fake.completions()) == 2
    assert seen == ["", ""]  # each attempt starts the display over


def test_an_unreachable_server_is_exit_6_naming_the_setting(
    initialized: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPOSTR_AI_BASE_URL", "http://127.0.0.1:9/v1")
    run = cli("ai", "ideas", "--topic", "tea")
    assert run.exit_code == 6
    assert "cannot reach the AI server at http://127.0.0.1:9/v1" in one_error(run)
    assert "AUTOPOSTR_AI_BASE_URL" in run.stderr


# -- the errors a user must be able to act on ------------------------------------------


def test_no_key_and_no_base_url_is_exit_5_naming_both(initialized: str, cli: Cli) -> None:
    run = cli("ai", "caption", "--topic", "t")
    assert run.exit_code == 5
    line = one_error(run)
    assert "OPENAI_API_KEY" in line and "AUTOPOSTR_AI_BASE_URL" in line
    assert usage_rows() == []


def test_a_refused_key_is_exit_6_and_never_shown(
    initialized: str, cli: Cli, fake: FakeOpenAI
) -> None:
    wrong = "sk-proj-WRONGkey0123456789secret"
    run = cli("ai", "ideas", "--topic", "t", env={"AUTOPOSTR_AI_API_KEY": wrong})
    assert run.exit_code == 6
    assert one_error(run) == (
        "Error: the AI server refused the key (from env AUTOPOSTR_AI_API_KEY): check it, or "
        "set another with AUTOPOSTR_AI_API_KEY"
    )
    assert len(fake.completions()) == 1  # a refused key is not retried
    # The real program with --debug prints a traceback: still no key, whole or in part.
    proc = run_autopostr(
        "--debug", "ai", "ideas", "--topic", "t", env={"AUTOPOSTR_AI_API_KEY": wrong}
    )
    assert "Traceback" in proc.stderr and "refused the key" in proc.stderr
    for part in (wrong, wrong[:12], wrong[-8:], "WRONGkey", "cret"):
        assert part not in run.stdout + run.stderr + proc.stdout + proc.stderr


def test_a_server_message_quoting_the_key_is_shown_without_it(
    initialized: str, cli: Cli, fake: FakeOpenAI
) -> None:
    assert fake.key is not None
    body = {
        "error": {"message": f"Key {fake.key} may not use this model", "type": "x", "code": None}
    }
    fake.fail(403, body)
    run = cli("ai", "ideas", "--topic", "t")
    assert run.exit_code == 6
    assert (
        one_error(run)
        == "Error: the AI server refused the request (403): Key **** may not use this model"
    )


def test_a_server_that_wants_a_key_says_so(
    initialized: str, cli: Cli, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUTOPOSTR_AI_API_KEY")
    run = cli("ai", "ideas", "--topic", "t")
    assert run.exit_code == 6
    assert f"the AI server at {fake.url} asks for a key: set AUTOPOSTR_AI_API_KEY" in one_error(run)


def test_an_unknown_model_is_exit_6_naming_it_and_the_models_there_are(
    initialized: str, cli: Cli, fake: FakeOpenAI
) -> None:
    run = cli("ai", "ideas", "--topic", "t", "--model", "gpt-9")
    assert run.exit_code == 6
    assert one_error(run) == (
        "Error: the AI server has no model 'gpt-9'; it has gpt-4o, gpt-4o-mini, llama3.2, "
        "llava: choose one with --model or AUTOPOSTR_AI_MODEL"
    )
    assert [r.path for r in fake.requests] == ["/v1/chat/completions", "/v1/models"]


def test_a_text_too_long_for_the_context_is_exit_5(
    initialized: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAI(key=None, context_tokens=500) as small:
        monkeypatch.setenv("AUTOPOSTR_AI_BASE_URL", small.url)
        run = cli("ai", "improve", "long words " * 400)
        assert run.exit_code == 5
        line = one_error(run)
        assert line.startswith(
            "Error: the text is too long for gpt-4o: This model's maximum context"
        )
        assert "--model" in line
        assert len(small.completions()) == 1


def test_a_viewer_cannot_use_ai(
    initialized: str, cli: Cli, tmp_path: Path, fake: FakeOpenAI
) -> None:
    member = {"AUTOPOSTR_HOME": str(tmp_path / "member-home")}
    cli.ok(
        "auth",
        "register",
        "--email",
        "v@example.com",
        "--password-stdin",
        input=PASSWORD + "\n",
        env=member,
    )
    cli.ok("team", "create", "Acme")
    token = cli.ok("team", "invite", "v@example.com", "--role", "viewer", "--json").json()["token"]
    cli.ok("team", "join", "--token-stdin", input=token, env=member)
    run = cli("ai", "ideas", "--topic", "t", env=member)
    assert run.exit_code == 4 and "editor" in one_error(run)
    assert fake.completions() == []


# -- --apply: the edit path --------------------------------------------------------------


def test_apply_writes_the_chosen_candidate_through_posts_edit(
    initialized: str, cli: Cli, fake: FakeOpenAI
) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    created = post(cli, "--to", "sandbox:demo", "--text", "Our espresso is back")
    data = cli.ok("ai", "caption", "--from-post", created["id"], "--apply", "2", "--json").json()
    assert "Our espresso is back" in fake.completions()[0].messages[1]["content"]
    assert data["applied"] == {
        "candidates": [2],
        "post": created["id"],
        "media": None,
        "account": None,
        "status": "draft",
    }
    shown = cli.ok("posts", "show", created["id"], "--json").json()
    assert shown["text"] == "Candidate 2: fresh words for you."
    audit = cli.ok("team", "audit", "--json").json()
    assert "post.edit" in [entry["action"] for entry in audit]

    # A bare --apply takes the first; with --to, the destination's own text.
    cli.ok("ai", "improve", "--post", created["id"], "--to", "sandbox:demo", "--apply")
    shown = cli.ok("posts", "show", created["id"], "--json").json()
    assert shown["destinations"][0]["text"] == "Candidate 1: fresh words for you."


def test_apply_is_checked_before_a_request_is_spent(
    initialized: str, cli: Cli, fake: FakeOpenAI
) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    created = post(cli, "--to", "sandbox:demo", "--text", "Gone out")
    cli.ok("posts", "publish", created["id"])
    cli.ok("daemon", "run", "--once")
    run = cli("ai", "caption", "--from-post", created["id"], "--apply")
    assert run.exit_code == 5 and "only posts not yet sent can be edited" in one_error(run)
    run = cli("ai", "caption", "--topic", "t", "--apply")
    assert run.exit_code == 2 and "--from-post" in one_error(run)
    run = cli("ai", "caption", "--topic", "t", "-n", "2", "--apply", "3")
    assert run.exit_code == 5 and "only 2 candidates" in one_error(run)
    assert fake.completions() == [] and usage_rows() == []


def test_an_applied_candidate_that_does_not_validate_changes_nothing(
    initialized: str, cli: Cli, fake: FakeOpenAI
) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    created = post(cli, "--to", "sandbox:demo", "--text", "Before")
    unbreakable = "@" + "a" * 300  # a mention is never cut
    fake.say(candidates(unbreakable), candidates(unbreakable))
    run = cli("ai", "caption", "--from-post", created["id"], "--apply", "-n", "1")
    assert run.exit_code == 5 and "sandbox:demo: the text is" in run.stderr
    assert cli.ok("posts", "show", created["id"], "--json").json()["text"] == "Before"
    (row,) = usage_rows()
    assert row.ok  # the request itself was answered and counts


def test_an_editors_applied_caption_sends_the_post_back_for_approval(
    initialized: str, cli: Cli, tmp_path: Path, fake: FakeOpenAI
) -> None:
    editor = {"AUTOPOSTR_HOME": str(tmp_path / "editor-home")}
    cli.ok(
        "auth",
        "register",
        "--email",
        "e@example.com",
        "--password-stdin",
        input=PASSWORD + "\n",
        env=editor,
    )
    cli.ok("team", "create", "Acme")
    cli.ok("accounts", "add", "sandbox", "--handle", "acme")
    token = cli.ok("team", "invite", "e@example.com", "--role", "editor", "--json").json()["token"]
    cli.ok("team", "join", "--token-stdin", input=token, env=editor)
    cli.ok("team", "settings", "--approval-required")
    held = post(cli, "--to", "sandbox:acme", "--text", "Launch day", "--at", "+2h", env=editor)
    assert held["status"] == "pending_approval"
    assert cli.ok("posts", "approve", held["id"], "--json").json()["status"] == "scheduled"

    data = cli.ok(
        "ai", "caption", "--from-post", held["id"], "--apply", "--json", env=editor
    ).json()

    assert data["applied"]["status"] == "pending_approval"
    shown = cli.ok("posts", "show", held["id"], "--json").json()
    assert shown["status"] == "pending_approval"
    assert shown["text"] == "Candidate 1: fresh words for you."
    # Its destinations are not due while it waits.
    from autopostr.models import PostDestination

    with db_session() as session:
        dest = session.get(PostDestination, int(shown["destinations"][0]["id"]))
        assert dest is not None and dest.due_at is None


def test_hashtags_apply_adds_what_fits_to_the_post(
    initialized: str, cli: Cli, fake: FakeOpenAI
) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    created = post(cli, "--to", "sandbox:demo", "--text", "Our #Espresso is back " + "x" * 230)
    fake.say(candidates("#espresso", "#Coffee", "#MorningRitual", "#ThirdWaveCoffeeRoasters"))
    data = cli.ok("ai", "hashtags", "--post", created["id"], "--apply", "--json").json()
    assert [c["text"] for c in data["candidates"]] == [
        "#Coffee",
        "#MorningRitual",
        "#ThirdWaveCoffeeRoasters",
    ]
    # Only what keeps the text within Sandbox's 280 characters is added.
    text = cli.ok("posts", "show", created["id"], "--json").json()["text"]
    assert text == "Our #Espresso is back " + "x" * 230 + "\n\n#Coffee #MorningRitual"
    assert data["applied"]["candidates"] == [1, 2]


def test_variants_fit_each_destination_and_apply_writes_them(
    initialized: str, cli: Cli, fake: FakeOpenAI
) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    hook = {"handle": "site", "url": "https://hooks.example/in"}
    cli.ok("accounts", "add", "webhook", input=json.dumps(hook))
    created = post(cli, "--to", "sandbox:demo", "--to", "webhook:site", "--text", "Launch day")
    long = "A longer story for the site. " * 20
    fake.say(candidates("Short for the sandbox " + "word " * 80, long))
    data = cli.ok("ai", "variants", created["id"], "--json").json()

    prompt = fake.completions()[0].messages[1]["content"]
    assert "1. sandbox:demo on Sandbox: at most 280 characters as Sandbox counts them" in prompt
    assert "2. webhook:site on Webhook: at most 40000 characters as Webhook counts them" in prompt
    assert data["platform"] is None
    sandbox, site = data["candidates"]
    assert (sandbox["account"], sandbox["limit"], sandbox["fits"]) == ("sandbox:demo", 280, True)
    assert (site["account"], site["limit"], site["trimmed"]) == ("webhook:site", 40000, False)
    assert site["text"] == long.strip()
    assert sandbox["trimmed"]  # asked once more (the fake said nothing new), then trimmed

    fake.say(candidates("For the sandbox", "For the site"))
    cli.ok("ai", "variants", created["id"], "--apply")
    texts = {
        d["account"]: d["text"]
        for d in cli.ok("posts", "show", created["id"], "--json").json()["destinations"]
    }
    assert texts == {"sandbox:demo": "For the sandbox", "webhook:site": "For the site"}


# -- alt text: an image as a data URL ------------------------------------------------------


def test_alt_text_sends_the_image_and_apply_sets_it(
    initialized: str, cli: Cli, fake: FakeOpenAI, tmp_path: Path
) -> None:
    path = image(tmp_path / "logo.png", "PNG", seed=3)
    media = cli.ok("media", "upload", str(path), "--json").json()[0]
    fake.say(candidates("A red circle on white"))
    data = cli.ok("ai", "alt-text", media["id"], "--apply", "--json").json()

    parts = fake.completions()[0].messages[1]["content"]
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert fake.images == [("image/png", path.read_bytes())]
    assert data["candidates"][0]["limit"] == 1000 and data["applied"]["media"] == media["id"]
    assert (
        cli.ok("media", "show", media["id"], "--json").json()["alt_text"] == "A red circle on white"
    )
    shown = cli.ok("ai", "alt-text", media["id"], "--show-prompt").stdout
    assert "[image data:image/png;base64,…" in shown and path.read_bytes()[:8].hex() not in shown


def test_alt_text_needs_a_model_that_can_see(
    initialized: str, cli: Cli, fake: FakeOpenAI, tmp_path: Path
) -> None:
    path = image(tmp_path / "logo.png", "PNG", seed=4)
    media = cli.ok("media", "upload", str(path), "--json").json()[0]
    run = cli("ai", "alt-text", media["id"], "--model", "llama3.2")
    assert run.exit_code == 5
    assert one_error(run).startswith("Error: llama3.2 cannot see images (Invalid content type.")
    assert "choose a vision model with --model" in run.stderr


def test_an_applied_alt_text_sends_an_approved_post_back(
    initialized: str, cli: Cli, tmp_path: Path, fake: FakeOpenAI
) -> None:
    editor = {"AUTOPOSTR_HOME": str(tmp_path / "editor-home")}
    cli.ok(
        "auth",
        "register",
        "--email",
        "e@example.com",
        "--password-stdin",
        input=PASSWORD + "\n",
        env=editor,
    )
    cli.ok("team", "create", "Acme")
    cli.ok("accounts", "add", "sandbox", "--handle", "acme")
    token = cli.ok("team", "invite", "e@example.com", "--role", "editor", "--json").json()["token"]
    cli.ok("team", "join", "--token-stdin", input=token, env=editor)
    cli.ok("team", "settings", "--approval-required")
    path = image(tmp_path / "pic.png", "PNG", seed=5)
    held = post(
        cli,
        "--to",
        "sandbox:acme",
        "--text",
        "Look",
        "--media",
        str(path),
        "--at",
        "+2h",
        env=editor,
    )
    cli.ok("posts", "approve", held["id"])
    cli.ok("ai", "alt-text", held["media"][0]["id"], "--apply", env=editor)
    assert cli.ok("posts", "show", held["id"], "--json").json()["status"] == "pending_approval"


# -- ai usage --------------------------------------------------------------------------


def test_ai_usage_sums_the_requests(initialized: str, cli: Cli, fake: FakeOpenAI) -> None:
    cli.ok("ai", "ideas", "--topic", "tea")
    cli.ok("ai", "caption", "--topic", "tea")
    fake.fail(500, headers=QUICK_RETRY, times=2)
    cli("ai", "caption", "--topic", "tea")
    rows = usage_rows()
    data = cli.ok("ai", "usage", "--json").json()
    assert list(data) == [
        "requests",
        "prompt_tokens",
        "completion_tokens",
        "by_feature",
        "since",
        "failed",
        "team",
        "user",
    ]
    assert data["requests"] == 2 and data["failed"] == 1
    assert data["prompt_tokens"] == sum(r.prompt_tokens for r in rows)
    assert data["completion_tokens"] == sum(r.completion_tokens for r in rows) > 0
    assert data["by_feature"]["caption"]["requests"] == 1
    assert data["by_feature"]["caption"]["failed"] == 1
    assert data["by_feature"]["ideas"]["requests"] == 1
    assert data["since"].endswith("T00:00:00+00:00") and data["since"][8:10] == "01"
    assert data["user"] == "root@localhost" and data["team"] is None
    assert all(r.duration_ms >= 0 for r in rows)

    team = cli.ok("ai", "usage", "--team", "--json").json()
    assert team["requests"] == 2 and team["team"] is not None and team["user"] is None
    later = cli.ok("ai", "usage", "--since", "+1h", "--json").json()
    assert later["requests"] == 0 and later["by_feature"] == {}
    human = cli.ok("ai", "usage").stdout
    assert "caption" in human and "ideas" in human


# -- the cost of the AI commands is theirs alone --------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv", [["--version"], ["posts", "list"], ["ai", "--help"], ["ai", "usage"]]
)
def test_other_commands_never_import_openai(initialized: str, argv: list[str]) -> None:
    from tests.test_cli_conventions import _imported_modules_for

    modules = _imported_modules_for(argv)
    assert "autopostr.cli.ai" in modules or argv[0] != "ai"
    assert not [m for m in modules if m.split(".")[0] == "openai"]


@pytest.mark.slow
def test_the_real_program_reaches_the_server(initialized: str, fake: FakeOpenAI) -> None:
    started = time.time()
    proc = run_autopostr("ai", "caption", "--topic", "espresso", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["candidates"][0]["text"].startswith("Candidate 1")
    (request,) = fake.completions()
    assert request.at > started


@pytest.mark.slow
def test_a_terminal_sees_the_candidates_as_the_model_writes_them(
    initialized: str, fake: FakeOpenAI
) -> None:
    import re

    from tests.terminal import run_in_terminal

    fake.piece, fake.pause = 4, 0.03
    screen = run_in_terminal(
        "ai", "ideas", "--topic", "tea", "-n", "2", env={"TERM": "xterm", "NO_COLOR": ""}
    )
    assert screen.exit_code == 0, screen.output

    (request,) = fake.completions()
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}
    lines = re.split(r"[\r\n]+", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.output))
    full = "1. Candidate 1: fresh words for you."
    # Drawn while it was being written, then shown whole.
    assert any(
        line.startswith("1. Cand") and full.startswith(line) and line != full for line in lines
    )
    assert full in lines and "2. Candidate 2: fresh words for you." in lines
    # The usage came in the stream's last chunk.
    from sqlmodel import select

    from autopostr.models import AiUsage

    with db_session() as session:
        (row,) = session.exec(select(AiUsage)).all()
    assert row.ok and row.completion_tokens > 0 and row.prompt_tokens > 0
