"""Fitting what a model wrote to a platform, reading its replies, and the server's settings:
the rules themselves, without a database or a server."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from autopostr.ai.fit import (
    ALT_TEXT_LIMIT,
    Target,
    clean_hashtag,
    fitted,
    hashtags,
    parse_candidates,
    partial_candidates,
    trim,
)
from autopostr.ai.server import NO_SERVER, retry_after, server_for
from autopostr.config import load_settings
from autopostr.errors import ConfigError
from autopostr.platforms.registry import get_platform

URL = "https://example.com/a/really/long/path/that/goes/on/and/on/for/a/while?with=query"


def target(name: str) -> Target:
    return Target((get_platform(name, load_settings()),))


def test_a_text_that_fits_is_left_alone() -> None:
    item = fitted("Fresh beans today.", target("x"))
    assert (item.text, item.length, item.limit, item.fits, item.trimmed) == (
        "Fresh beans today.",
        18,
        280,
        True,
        False,
    )
    assert item.platform == "x"


def test_x_counts_a_link_as_23_whatever_its_length() -> None:
    text = f"Read this {URL}"
    assert len(text) > 90
    assert fitted(text, target("x")).length == len("Read this ") + 23


def test_trimming_drops_whole_words_and_marks_the_cut() -> None:
    text = "word " * 100 + "end."
    item = fitted(text, target("bluesky"))
    assert item.trimmed and item.fits and item.limit == 300
    assert item.text.endswith("word…")
    assert item.length <= 300
    assert "wor…" not in item.text


def test_trimming_never_cuts_a_url_mention_or_hashtag() -> None:
    bluesky = target("bluesky")
    for token in (URL, "@someone.bsky.social", "#LongHashtagAtTheEnd"):
        words = ["filler"] * 40 + [token] + ["tail"] * 40
        text = " ".join(words)
        for limit in range(len("filler ") * 40, len("filler ") * 40 + len(token) + 2):

            def fits(t: str, limit: int = limit) -> bool:
                return bluesky.fits(t) and len(t) <= limit

            short = trim(text, fits)
            assert short is not None
            kept = short.split()
            assert all(w in ("filler", "filler…", token, "tail", "tail…") for w in kept), short
            if token in short:
                assert short.endswith(token) or "tail" in short
            # Nothing is appended to a URL, mention or hashtag that ends the text.
            assert not short.endswith(token + "…")


def test_a_single_word_too_long_is_cut_but_a_lone_url_is_not() -> None:
    fits_ten = lambda t: len(t) <= 10  # noqa: E731
    assert trim("Supercalifragilistic", fits_ten) == "Supercali…"
    assert trim(URL, fits_ten) is None
    item = fitted(URL * 20, target("bluesky"))
    assert not item.fits and not item.trimmed


def test_alt_text_has_a_plain_limit() -> None:
    item = fitted("a " * 600, Target(limit=ALT_TEXT_LIMIT))
    assert item.trimmed and item.length <= ALT_TEXT_LIMIT and item.limit == ALT_TEXT_LIMIT


def test_several_platforms_must_all_fit() -> None:
    both = Target((get_platform("x", load_settings()), get_platform("linkedin", load_settings())))
    long_for_x = "é" * 200 + " ok"
    item = fitted(long_for_x, both)
    assert item.fits and item.length <= 280
    # CJK weighs two on X: 200 of them are 400, over X's 280 though within LinkedIn's 3000.
    cjk = "字" * 200
    measured = both.measure(cjk)
    assert (measured.length, measured.limit, measured.fits, measured.title) == (
        400,
        280,
        False,
        "X",
    )


@pytest.mark.parametrize(
    ("raw", "tag"),
    [
        ("#Coffee", "#Coffee"),
        ("coffee", "#coffee"),
        ("#social media", "#socialMedia"),
        ("#Social Media", "#SocialMedia"),
        ("#AI-tools", "#AITools"),
        ("#don't stop", "#dontStop"),
        ("##double", "#double"),
        ("#café_crème", "#café_crème"),
        ("#नमस्ते", "#नमस्ते"),
        ("#2024", None),
        ("#!!!", None),
        ("#" + "a" * 65, None),
    ],
)
def test_a_hashtag_is_made_valid_or_dropped(raw: str, tag: str | None) -> None:
    assert clean_hashtag(raw) == tag


def test_hashtags_are_distinct_new_and_at_most_max() -> None:
    given = ["#Coffee", "#coffee", "#Espresso!", "#2024", "#morning brew", "#Latte #Mocha", "#x1"]
    assert hashtags(given, 10) == [
        "#Coffee",
        "#Espresso",
        "#morningBrew",
        "#Latte",
        "#Mocha",
        "#x1",
    ]
    assert hashtags(given, 2) == ["#Coffee", "#Espresso"]
    assert hashtags(given, 10, already="Our #coffee is back") == [
        "#Espresso",
        "#morningBrew",
        "#Latte",
        "#Mocha",
        "#x1",
    ]


@pytest.mark.parametrize(
    "reply",
    [
        '{"candidates": ["one", "two"]}',
        '```json\n{"candidates": ["one", "two"]}\n```',
        'Sure! Here they are: {"candidates": ["one", "two"]} Enjoy.',
        '["one", "two"]',
        '{"candidates": [{"text": "one"}, {"text": "two"}, ""]}',
    ],
)
def test_replies_in_the_asked_form_are_read(reply: str) -> None:
    assert parse_candidates(reply) == ["one", "two"]


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "   ",
        "Sure! Here are three captions: 1. one 2. two",
        '{"captions": ["one"]}',
        '{"candidates": []}',
    ],
)
def test_replies_not_in_the_asked_form_are_refused(reply: str) -> None:
    assert parse_candidates(reply) is None


def test_a_streaming_reply_shows_its_candidates_as_they_come() -> None:
    whole = '{"candidates": ["First \\"one\\"\\nline", "Caf\\u00e9 two", "three"]}'
    seen = [partial_candidates(whole[:end]) for end in range(len(whole) + 1)]
    assert seen[0] == [] and seen[-1] == ['First "one"\nline', "Café two", "three"]
    assert ["First"] in seen  # a candidate shows while it is being written
    for before, after in itertools.pairwise(seen):
        assert len(after) >= len(before)


def test_no_key_and_no_base_url_names_both_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        server_for(load_settings({"AUTOPOSTR_CONFIG": str(tmp_path / "none.toml")}), environ={})
    assert caught.value.message == NO_SERVER
    assert "OPENAI_API_KEY" in NO_SERVER and "AUTOPOSTR_AI_BASE_URL" in NO_SERVER


def test_where_the_key_and_model_come_from(tmp_path: Path) -> None:
    config = str(tmp_path / "none.toml")
    env_key = server_for(
        load_settings({"AUTOPOSTR_CONFIG": config}), environ={"OPENAI_API_KEY": "k1"}
    )
    assert (env_key.key, env_key.key_from, env_key.model) == ("k1", "env OPENAI_API_KEY", "gpt-4o")
    assert env_key.base_url == "https://api.openai.com/v1"
    ours = server_for(
        load_settings(
            {
                "AUTOPOSTR_CONFIG": config,
                "AUTOPOSTR_AI_API_KEY": "k2",
                "AUTOPOSTR_AI_MODEL": "llama3.2",
                "AUTOPOSTR_AI_BASE_URL": "http://localhost:11434/v1/",
            }
        ),
        "qwen2.5",
        environ={"OPENAI_API_KEY": "k1"},
    )
    assert (ours.key, ours.key_from, ours.model) == ("k2", "env AUTOPOSTR_AI_API_KEY", "qwen2.5")
    assert ours.base_url == "http://localhost:11434/v1"
    assert "k2" not in repr(ours)
    local = server_for(
        load_settings({"AUTOPOSTR_CONFIG": config, "AUTOPOSTR_AI_BASE_URL": "http://h:1/v1"}),
        environ={},
    )
    assert local.key is None


def test_retry_after_in_seconds_milliseconds_or_a_date() -> None:
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after({}) is None
