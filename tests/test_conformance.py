"""The platforms' own conformance data (tests/conformance/, see SOURCES.md there), run
through the functions `posts create` and the publisher use: `validate_destination` and
the adapters' `count_text`, and Bluesky's `facets`.

Every case of every vendored suite is either run here or listed in EXCLUDED with the
reason; the loader tests fail when a suite grows or a parser misses a case.
"""

from __future__ import annotations

from typing import Any

import pytest

from autopostr.config import load_settings
from autopostr.platforms.base import Platform
from autopostr.platforms.bluesky import facets
from autopostr.platforms.mastodon import mastodon_length
from autopostr.platforms.registry import get_platform
from autopostr.platforms.textcount import _cluster, count, utf8_length
from autopostr.posts import validate_destination
from tests.conformance import load

# Cases per suite as published, and how many of them run here.
SUITES = {
    "twitter-text validate.yml WeightedTweetsWithDiscountedEmojiCounterTest": (22, 22),
    "twitter-text validate.yml UnicodeDirectionalMarkerCounterTest": (2, 2),
    "Mastodon status_length_validator_spec.rb": (12, 8),
    "atproto rich-text-detection.test.ts detectFacets": (40, 40),
    "atproto rich-text-detection.test.ts tags inline": (39, 39),
    "atproto rich-text-detection.test.ts cashtags inline": (18, 18),
    "atproto rich-text.test.ts bytelength and grapheme length": (3, 3),
    "Unicode GraphemeBreakTest-18.0.0.txt": (853, 853),
}

# What is left out, and why.
EXCLUDED = {
    "twitter-text validate.yml tweets": "the retired v1 rule (140 code points); config v3's "
    "weighted length replaced it",
    "twitter-text validate.yml WeightedTweetsCounterTest": "config v2, which weighs each emoji "
    "code point; X counts with config v3",
    "twitter-text validate.yml usernames, lists, hashtags, urls, urls_without_protocol": "they "
    "validate a lone @username, list, #hashtag or URL, which posting never does",
    "Mastodon: does not add errors onto remote statuses": "remote statuses are not posted "
    "through the API",
    "Mastodon: does not add errors onto local reblogs": "autopostr posts no reblogs",
    "Mastodon: adds an error when content warning is over character limit": "autopostr sends "
    "no content warning",
    "Mastodon: adds an error when text and content warning are over character limit total": (
        "autopostr sends no content warning"
    ),
    "atproto rich-text.test.ts: entities, insert, delete, segments": "they convert legacy "
    "entities and edit given facets, which autopostr never does; it only detects",
}

MASTODON_EXCLUDED = {
    "does not add errors onto remote statuses",
    "does not add errors onto local reblogs",
    "adds an error when content warning is over character limit",
    "adds an error when text and content warning are over character limit total",
}
FLAG = "\U0001f3f3\ufe0f\u200d\u26a7\ufe0f"
# description -> (the spec's own expression, the same text in Python, refused?)
MASTODON_CASES: dict[str, tuple[str, str, bool]] = {
    "adds an error when text is over character limit": ("text: 'a' * 520", "a" * 520, True),
    "reduces calculated length of auto-linkable space-separated URLs": (
        "[starting_string, example_link].join(' ')",
        "a" * 476 + " " + "http://" + "b" * 30 + ".com/example",
        False,
    ),
    "does not reduce calculated length of non-autolinkable URLs": (
        "[starting_string, example_link].join\n",
        "a" * 476 + "http://" + "b" * 30 + ".com/example",
        True,
    ),
    "does not reduce calculated length of count overly long URLs": (
        "\"http://example.com/valid?#{'#foo?' * 1000}\"",
        "http://example.com/valid?" + "#foo?" * 1000,
        True,
    ),
    "counts only the front part of remote usernames": (
        "('a' * 475) + \" @alice@#{'b' * 30}.com\"",
        "a" * 475 + " @alice@" + "b" * 30 + ".com",
        False,
    ),
    "does count both parts of remote usernames for overly long domains": (
        "\"@alice@#{'b' * 500}.com\"",
        "@alice@" + "b" * 500 + ".com",
        True,
    ),
    "counts multi byte emoji as single character": ("'✨' * 500", "✨" * 500, False),
    "counts ZWJ sequence emoji as single character": (f"'{FLAG}' * 500", FLAG * 500, False),
}


def _platform(name: str) -> Platform:
    return get_platform(name, load_settings())


def _refused(platform: Platform, text: str) -> list[str]:
    return validate_destination(platform, f"{platform.name}:someone", text, None, [])


# -- the loaders find every case ------------------------------------------------------


def test_each_suite_holds_the_cases_the_note_counts() -> None:
    validate = load.twitter_text_validate()
    found = {
        "twitter-text validate.yml WeightedTweetsWithDiscountedEmojiCounterTest": len(
            validate["WeightedTweetsWithDiscountedEmojiCounterTest"]
        ),
        "twitter-text validate.yml UnicodeDirectionalMarkerCounterTest": len(
            validate["UnicodeDirectionalMarkerCounterTest"]
        ),
        "Mastodon status_length_validator_spec.rb": len(load.mastodon_examples()),
        "atproto rich-text-detection.test.ts detectFacets": len(load.atproto_detection().inputs),
        "atproto rich-text-detection.test.ts tags inline": len(load.atproto_inline("tags")),
        "atproto rich-text-detection.test.ts cashtags inline": len(load.atproto_inline("cashtags")),
        "atproto rich-text.test.ts bytelength and grapheme length": len(load.atproto_lengths()),
        "Unicode GraphemeBreakTest-18.0.0.txt": len(load.grapheme_break_tests()),
    }
    assert found == {suite: published for suite, (published, _) in SUITES.items()}
    assert len(load.atproto_detection().outputs) == len(load.atproto_detection().inputs)
    assert set(validate) == {
        "tweets",
        "usernames",
        "lists",
        "hashtags",
        "urls",
        "urls_without_protocol",
        "WeightedTweetsCounterTest",
        "WeightedTweetsWithDiscountedEmojiCounterTest",
        "UnicodeDirectionalMarkerCounterTest",
    }


def test_every_mastodon_example_is_run_or_excluded_and_transcribed_from_the_spec() -> None:
    examples = load.mastodon_examples()
    assert set(examples) == set(MASTODON_CASES) | MASTODON_EXCLUDED
    assert len(MASTODON_CASES) == SUITES["Mastodon status_length_validator_spec.rb"][1]
    for description, (expression, _text, refused) in MASTODON_CASES.items():
        body = load.mastodon_example_body(description)
        assert expression in body, description
        assert ("to_not have_received(:add)" not in body) == refused, description
    spec = (load.HERE / "mastodon" / "status_length_validator_spec.rb").read_text()
    assert "def starting_string\n    'a' * 476\n" in spec
    assert "def example_link\n    \"http://#{'b' * 30}.com/example\"\n" in spec
    assert 'stub_const("#{described_class}::MAX_CHARS", 500)' in spec


def test_the_excluded_atproto_examples_are_the_ones_named() -> None:
    """rich-text.test.ts: one example runs, the rest (groups in brackets) are excluded."""
    titles = load.atproto_its("rich-text.test.ts")
    kept = "calculates bytelength and grapheme length correctly"
    groups = {"RichText", "RichText#insert", "RichText#insert w/fat unicode", "RichText#delete"}
    groups |= {"RichText#delete w/fat unicode", "RichText#segments"}
    excluded = [t for t in titles if t != kept and t not in groups]
    assert kept in titles
    assert excluded[:2] == [
        "converts entities to facets correctly",
        "converts entity utf16 indices to facet utf8 indices",
    ]
    # insert, delete: 18 facet edits; segments: 12 renderings of facets given, not detected.
    assert sum(t.startswith("correctly adjusts facets") for t in excluded) == 18
    assert len(excluded) == 2 + 18 + 12


# -- X: twitter-text's weighted length and valid verdict (config v3) --------------------


def _x_cases() -> list[Any]:
    validate = load.twitter_text_validate()
    return [
        pytest.param(case, id=f"{suite}: {case['description']}")
        for suite in (
            "WeightedTweetsWithDiscountedEmojiCounterTest",
            "UnicodeDirectionalMarkerCounterTest",
        )
        for case in validate[suite]
    ]


@pytest.mark.parametrize("case", _x_cases())
def test_x_counts_and_judges_like_twitter_text(case: dict[str, Any]) -> None:
    x = _platform("x")
    text, expected = case["text"], case["expected"]
    assert x.count_text(text) == expected["weightedLength"]
    assert (not _refused(x, text)) == expected["valid"], _refused(x, text)


# -- Mastodon: StatusLengthValidator ------------------------------------------------------


@pytest.mark.parametrize("description", list(MASTODON_CASES))
def test_mastodon_refuses_what_its_validator_refuses(description: str) -> None:
    _expression, text, refused = MASTODON_CASES[description]
    mastodon = _platform("mastodon")
    assert bool(_refused(mastodon, text)) == refused
    assert (mastodon_length(text) > 500) == refused  # the publish-time check, default server


# -- Bluesky: the official client's facets, with byte offsets -----------------------------


def _segments(text: str, found: list[dict[str, Any]]) -> list[list[str]]:
    """RichText.segments(): plain runs and facets, a facet starting inside an earlier one
    skipped, each facet with its DID or URI ('' for a tag)."""
    data = text.encode("utf-8")
    if not found:
        return [[text]]
    out: list[list[str]] = []
    cursor = 0
    for facet in found:
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        if cursor < start:
            out.append([data[cursor:start].decode()])
        elif cursor > start:
            continue
        if start < end:
            sub = data[start:end].decode()
            feature = facet["features"][0]
            value = feature.get("did") or feature.get("uri") or ""
            out.append([sub, value] if sub.strip() else [sub])
        cursor = end
    if cursor < len(data):
        out.append([data[cursor:].decode()])
    return out


def _fake_did(handle: str) -> str:
    return f"did:fake:{handle}"


def _detection_cases() -> list[Any]:
    suite = load.atproto_detection()
    return [pytest.param(t, o, id=t) for t, o in zip(suite.inputs, suite.outputs, strict=True)]


@pytest.mark.parametrize(("text", "segments"), _detection_cases())
def test_bluesky_links_and_mentions_like_the_official_client(
    text: str, segments: list[list[str]]
) -> None:
    assert _segments(text, facets(text, _fake_did)) == segments


def _inline(kind: str) -> list[Any]:
    return [pytest.param(*case, id=case[0]) for case in load.atproto_inline(kind)]


@pytest.mark.parametrize(("text", "tags", "indices"), _inline("tags"))
def test_bluesky_tags_like_the_official_client(
    text: str, tags: list[str], indices: list[dict[str, int]]
) -> None:
    found = [f for f in facets(text, _fake_did) if _segments_keep(text, f)]
    assert [f["features"][0]["tag"] for f in found if "tag" in f["features"][0]] == tags
    assert [f["index"] for f in found] == indices


@pytest.mark.parametrize(("text", "tags", "indices"), _inline("cashtags"))
def test_bluesky_cashtags_like_the_official_client(
    text: str, tags: list[str], indices: list[dict[str, int]]
) -> None:
    found = [
        f
        for f in facets(text, lambda handle: handle)  # detectFacetsWithoutResolution
        if f["features"][0].get("tag", "").startswith("$")
    ]
    assert [f["features"][0]["tag"] for f in found] == tags
    assert [f["index"] for f in found] == indices


def _segments_keep(text: str, facet: dict[str, Any]) -> bool:
    """Whether segments() shows this facet as one (it does unless it covers only space)."""
    index = facet["index"]
    return bool(text.encode()[index["byteStart"] : index["byteEnd"]].decode().strip())


@pytest.mark.parametrize(("text", "size", "clusters"), load.atproto_lengths())
def test_bluesky_counts_bytes_and_graphemes_like_the_official_client(
    text: str, size: int, clusters: int
) -> None:
    assert utf8_length(text) == size
    assert _platform("bluesky").count_text(text) == clusters


# -- Unicode: grapheme clusters -------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "clusters"), [pytest.param(*case, id=case[0]) for case in load.grapheme_break_tests()]
)
def test_graphemes_follow_unicode_18(line: str, clusters: list[str]) -> None:
    text = "".join(clusters)
    assert _cluster().findall(text) == clusters
    assert count(text, "graphemes") == len(clusters)
