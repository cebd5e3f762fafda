"""Text counting: exact values, and the fast `fits` path never disagreeing with the exact count."""

from __future__ import annotations

import random
import unicodedata

import pytest

from autopostr.platforms import chars, textcount, xtext
from autopostr.platforms.textcount import count, fits
from autopostr.platforms.xtext import x_weighted_bound, x_weighted_floor

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"
EIGHTH_NOTE = "\U0001d160"  # NFC turns it into three code points


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("hello", 5),
        ("x" * 281, 281),
        ("日本語", 6),
        ("english text 日本語", 19),
        ("😷", 2),
        (FAMILY, 2),
        ("👍🏽", 2),
        ("#️⃣", 2),
        ("©", 2),
        ("a\r\nb", 3),
        ("https://example.com", 23),
        ("https://example.com/a/very/long/path/that/is/longer/than/23", 23),
        ("a.co", 23),
        ("see example.com and https://t.co/abc", 4 + 23 + 5 + 23),
        ("end of sentence. Next", 21),
        (EIGHTH_NOTE, 6),
        ("english text 日本語 😷 https://example.com", 46),
    ],
)
def test_x_weighted_known_values(text: str, expected: int) -> None:
    assert count(text, "x-weighted") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", 0), ("abc", 3), ("e\u0301", 1), (FAMILY, 1), (RAINBOW_FLAG, 1), ("日本語", 3)],
)
def test_graphemes_known_values(text: str, expected: int) -> None:
    assert count(text, "graphemes") == expected


def test_codepoints_is_len() -> None:
    assert count(FAMILY, "codepoints") == 7
    assert count("abc", "codepoints") == 3


def test_unknown_mode_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown counting mode"):
        count("x", "words")
    with pytest.raises(ValueError, match="unknown counting mode"):
        fits("x", "words", 10)


# -- the facts the fast path's proof relies on, checked against the library ------------------


def test_light_ranges_and_url_weight_match_the_library() -> None:
    from twitter_text.config import config

    defaults = config["defaults"]
    light = tuple((r["start"], r["end"]) for r in defaults["ranges"] if r["weight"] == 100)
    assert light == xtext.X_LIGHT_RANGES
    assert defaults["scale"] == 100 and defaults["default_weight"] == 200
    assert defaults["transformed_url_length"] == xtext.X_URL_WEIGHT
    assert defaults["emoji_parsing_enabled"] is True


def _light(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in xtext.X_LIGHT_RANGES)


def test_only_copyright_and_registered_are_light_single_emoji() -> None:
    from twitter_text.regexp.emoji import emoji

    found = {
        chr(cp)
        for lo, hi in xtext.X_LIGHT_RANGES
        for cp in range(lo, hi + 1)
        if emoji.fullmatch(chr(cp))
    }
    assert found == set(xtext.LIGHT_EMOJI)


def test_every_multi_code_point_emoji_has_a_heavy_code_point() -> None:
    from twitter_text.regexp.emoji import emoji_list

    for entry in emoji_list:
        cps = [int(c, 16) for c in entry.codepoint.split()]
        if len(cps) > 1:
            assert any(not _light(cp) for cp in cps), entry


def test_normalisation_never_creates_a_dot() -> None:
    for cp in range(0x110000):
        if cp == 0x2E or 0xD800 <= cp <= 0xDFFF:
            continue
        assert "." not in unicodedata.normalize("NFC", chr(cp)), hex(cp)


# -- random texts: fits == (count <= max) at and around the exact count ----------------------

WORDS = ["hello", "world", "the", "a", "post", "#tag", "@someone", "1", "42", "!", "?", "..."]
SPECIAL = [
    "日本語",
    "中",
    "한국어",
    "Привет",
    "مرحبا",
    "ñ",
    "e\u0301",
    "😷",
    "👍🏽",
    FAMILY,
    RAINBOW_FLAG,
    "🇫🇷",
    "#️⃣",
    "#⃣",
    "©",
    "®",
    "™",
    "‼",
    "\u2000",
    "\u2033",
    "\u10ff",
    "\u1100",
    EIGHTH_NOTE,
    "\u0958",
    "\r\n",
    "\n",
    "\t",
    ".",
    "。",
    "…",
    "\ufeff",
]
URLS = [
    "a.co",
    "x.com",
    "example.com",
    "https://example.com",
    "http://example.com/path?q=1",
    "https://t.co/abc123",
    "www.example.co.uk/page",
    "sub.domain.example.org",
    "https://例え.jp",
    "日本語.jp",
    "http://localhost",
    "e.g.",
    "1.5",
    "foo.bar",
    "https://example.com/" + "p" * 60,
]


def _random_text(rng: random.Random) -> str:
    with_dots = rng.random() < 0.6  # dot-free texts exercise the exact and bound-only paths
    pieces: list[str] = []
    for _ in range(rng.randint(0, 60)):
        roll = rng.random()
        if roll < 0.5:
            pieces.append(rng.choice(WORDS))
        elif roll < 0.75:
            pieces.append(rng.choice(SPECIAL))
        elif roll < 0.85 and with_dots:
            pieces.append(rng.choice(URLS))
        else:
            pieces.append(chr(rng.choice([rng.randint(0x20, 0x7E), rng.randint(0xA0, 0x2FFF)])))
        pieces.append(rng.choice([" ", " ", "", "\n", ". " if with_dots else "! "]))
    text = "".join(pieces)
    return text if with_dots else text.replace(".", "")


def _texts() -> list[str]:
    rng = random.Random(20240501)
    edge = [
        "",
        "x" * 140,
        "x" * 141,
        "x" * 280,
        "x" * 281,
        "中" * 140,
        "中" * 141,
        "a.co " * 12,
        "😷" * 140,
        EIGHTH_NOTE * 47,
        "©" * 200,
        "\r\n" * 200,
        ("Ready. Set. Go. " * 20).strip(),
    ]
    return edge + [_random_text(rng) for _ in range(400)]


@pytest.fixture(scope="module")
def exact_counts() -> list[tuple[str, int]]:
    return [(text, count(text, "x-weighted")) for text in _texts()]


def test_x_bound_is_never_below_the_exact_count(exact_counts: list[tuple[str, int]]) -> None:
    for text, exact in exact_counts:
        is_exact, bound = x_weighted_bound(text)
        assert bound >= exact, text
        if is_exact:
            assert bound == exact, text


def test_x_floor_is_never_above_the_exact_count(exact_counts: list[tuple[str, int]]) -> None:
    for text, exact in exact_counts:
        assert x_weighted_floor(text) <= exact, text


def test_no_url_or_emoji_holds_whitespace() -> None:
    """The floors count whitespace as characters of their own: check the library agrees."""
    from twitter_text import extract_urls_with_indices
    from twitter_text.extract_urls import max_url_length
    from twitter_text.regexp.emoji import emoji_list

    assert max_url_length == xtext.X_MAX_URL
    spaces = [chr(cp) for cp in range(0x110000) if chr(cp).isspace()]
    assert set(chars.WHITE_SPACE) <= set(spaces)
    for ws in spaces:
        for text in (
            f"https://a.com/x{ws}y",
            f"see a.com{ws}b.co/p?q=1{ws}z",
            f"http://example.com/path?q=1{ws}&r=2",
            f"www.example.co.uk/a{ws}b",
        ):
            for url in extract_urls_with_indices(text):
                assert ws not in url["url"], (hex(ord(ws)), text)
    assert not any(ch.isspace() for entry in emoji_list for ch in entry.emoji)


def test_the_grapheme_floor_is_never_above_the_count() -> None:
    rng = random.Random(7)
    alphabet = [" ", "\r", "\n", "\r\n", "\u3000", "\u00a0", "\u0600", "\u0308", "\u200d"]
    alphabet += ["a", "क", "\u094d", "ष", FAMILY, "🇫🇷", "\u1100", "\uac00", "\t", "\u2028"]
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert textcount.graphemes_floor(text) <= count(text, "graphemes"), repr(text)


def test_x_fits_agrees_with_the_exact_count(exact_counts: list[tuple[str, int]]) -> None:
    for text, exact in exact_counts:
        for limit in {exact - 1, exact, exact + 1, 23, 140, 280}:
            assert fits(text, "x-weighted", limit) == (exact <= limit), (text, limit)


def test_x_fast_path_does_not_call_the_library(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(text: str) -> int:
        raise AssertionError(f"library called for {text!r}")

    monkeypatch.setattr(xtext, "x_weighted", boom)
    assert fits("Hello world! A normal post with no links", "x-weighted", 280)
    assert fits("Ready. Set. Go. Visit example.com", "x-weighted", 280)
    assert fits("日本語のポスト 😷 ©", "x-weighted", 280)
    assert not fits("x" * 281, "x-weighted", 280)  # dot-free light text is counted exactly
    assert fits("x" * 300, "graphemes", 300)


def test_graphemes_fits_agrees_with_the_exact_count() -> None:
    for text in _texts():
        exact = count(text, "graphemes")
        for limit in {exact - 1, exact, exact + 1, 0, 300}:
            assert fits(text, "graphemes", limit) == (exact <= limit), (text, limit)


def test_codepoints_fits() -> None:
    assert fits("abc", "codepoints", 3)
    assert not fits("abcd", "codepoints", 3)


# -- long texts: decided by bounds, never by a full extraction or library walk ---------------


@pytest.mark.parametrize(
    "text",
    [
        "x" * 2_000_000 + ":",  # one word: no whitespace to count
        "http://a.co/" * 200_000,  # one giant (over-long) URL
        "@bob@a.co" * 200_000,
        ("A sentence about example.com, with 日本語 and 😷. " * 50_000),
    ],
    ids=["word", "urls", "mentions", "prose"],
)
def test_long_texts_are_refused_from_bounds(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from autopostr.platforms import mastodontext

    def boom(*args: object) -> int:
        raise AssertionError("a bound should have decided")

    monkeypatch.setattr(xtext, "x_weighted", boom)
    for mode, limit in [("x-weighted", 280), ("graphemes", 300), ("mastodon", 500)]:
        if mode == "mastodon" and ("://" in text or "@" in text):
            continue  # many possible links or mentions: extraction decides (and is fast)
        monkeypatch.setattr(mastodontext, "countable_text", boom)
        measured = textcount.over(text, mode, limit)
        assert measured is not None and not measured.exact and measured.value > limit
        assert str(measured) == f"at least {measured.value}"
    assert textcount.over("x" * 30_000, "codepoints", 280) == textcount.Length(30_000)
