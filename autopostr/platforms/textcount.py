"""Counting and checking a post's text the way each platform does, fast enough for bulk
imports and for a 20 MB text that must be refused at once.

Counting modes: "x-weighted" (X's weighted length, see `xtext`), "mastodon" (grapheme
clusters of Mastodon's countable text, see `mastodontext`), "graphemes" (user-perceived
characters, Bluesky) and "codepoints" (Python's `len`). Graphemes follow Unicode's
current segmentation rules (UAX #29, Indic conjuncts included) through the `regex`
module's `\\X`, imported only when a text needs it.

`over` (and `fits`, `accepts`, `problems` on top of it) answers from cheap bounds
whenever they decide, and measures a text that does not fit exactly when it has up to
EXACT_UP_TO code points; past that, a lower bound already over the limit is its answer
(so a 20 MB text is refused in well under a second, not minutes). The lower bound for
graphemes: a cluster holds at most one White_Space character, except CR LF, since
whitespace characters are Control, CR, LF or Other and none of UAX #29's no-break
rules joins two of those; and neither URLs nor mentions hold whitespace.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from itertools import islice
from typing import TYPE_CHECKING, Final

from autopostr.platforms.chars import whitespace

if TYPE_CHECKING:
    import regex

    from autopostr.platforms.base import Limits

COUNTING_MODES: Final = ("x-weighted", "mastodon", "graphemes", "codepoints")
EXACT_UP_TO: Final = 20_000  # code points; past this an over-long text gets a lower bound
SLACK_LIMIT: Final = 100_000  # clusters worth reading to spare a long text's extraction


# Unicode White_Space, as the grapheme bound counts it.
@dataclass(frozen=True)
class Length:
    """A text's length under a counting mode: exact, or (when `exact` is false) a lower
    bound that is already over the limit it was measured against."""

    value: int
    exact: bool = True

    def __str__(self) -> str:
        return str(self.value) if self.exact else f"at least {self.value}"


@cache
def _cluster() -> regex.Pattern[str]:
    import regex

    return regex.compile(r"\X")


def graphemes(text: str) -> int:
    """The number of extended grapheme clusters (current Unicode)."""
    if text.isascii():
        return len(text) - text.count("\r\n")
    return len(_cluster().findall(text))


def graphemes_over(text: str, limit: int) -> bool:
    """Whether `text` has more than `limit` clusters, reading no further than needed."""
    if len(text) <= limit:
        return False
    if limit < 0:
        return True
    return sum(1 for _ in islice(_cluster().finditer(text), limit + 1)) > limit


def graphemes_floor(text: str) -> int:
    """A number never above the text's cluster count: its whitespace, CR LF counted once."""
    return whitespace(text) - text.count("\r\n")


def count(text: str, counting: str) -> int:
    """The exact length of `text` under a platform's counting mode."""
    if counting == "codepoints":
        return len(text)
    if counting == "graphemes":
        return graphemes(text)
    if counting == "mastodon":
        from autopostr.platforms.mastodontext import countable_text

        return graphemes(countable_text(text))
    if counting == "x-weighted":
        from autopostr.platforms.xtext import x_weighted, x_weighted_bound

        exact, bound = x_weighted_bound(text)
        return bound if exact else x_weighted(text)
    raise ValueError(f"unknown counting mode {counting!r}; expected one of {COUNTING_MODES}")


def fits(text: str, counting: str, max_chars: int) -> bool:
    """Whether `count(text, counting) <= max_chars`, skipping the slow exact count when a
    bound decides."""
    return over(text, counting, max_chars) is None


def over(text: str, counting: str, max_chars: int) -> Length | None:
    """None when the text fits; else its length for a message: exact, or for a text of
    more than EXACT_UP_TO code points possibly a lower bound already over `max_chars`.
    Each bound is computed at most once, and only when the cheaper ones cannot decide."""
    if counting == "codepoints":
        return Length(len(text)) if len(text) > max_chars else None
    if counting == "graphemes":
        if len(text) <= max_chars:  # a cluster holds at least one code point
            return None
        return _over_graphemes(text, max_chars)
    if counting == "mastodon":
        from autopostr.platforms.mastodontext import (
            MAX_DOMAIN_LENGTH,
            MAX_URL_LENGTH,
            URL_PLACEHOLDER_CHARS,
            countable_text,
        )

        # Only a URL (which holds "://") can come out longer than it went in.
        if len(text) + URL_PLACEHOLDER_CHARS * text.count("://") <= max_chars:
            return None
        floor = graphemes_floor(text)  # URLs and mentions hold no whitespace
        if floor > max_chars:
            return _floor_or_exact(text, counting, floor)
        if len(text) > EXACT_UP_TO:
            # Extraction reads the whole text; a few hundred clusters may decide first: a URL
            # (which holds "://") is at most 4096 code points, a mention's domain (after an
            # "@") at most 253, and replacing either moves a boundary by at most one.
            slack = (MAX_URL_LENGTH + 2) * text.count("://") + (MAX_DOMAIN_LENGTH + 3) * (
                text.count("@")
            )
            if slack <= SLACK_LIMIT and graphemes_over(text, max_chars + slack):
                return Length(max_chars + 1, exact=False)
        return _over_graphemes(countable_text(text), max_chars)
    if counting == "x-weighted":
        from autopostr.platforms.xtext import x_weighted, x_weighted_bound, x_weighted_floor

        # A long text is usually refused by the floor alone, before any per-character work.
        if len(text) > EXACT_UP_TO:
            floor = x_weighted_floor(text)
            if floor > max_chars:
                return Length(floor, exact=False)
        exact, bound = x_weighted_bound(text)
        if exact or bound <= max_chars:
            return Length(bound) if bound > max_chars else None
        weight = x_weighted(text)
        return Length(weight) if weight > max_chars else None
    raise ValueError(f"unknown counting mode {counting!r}; expected one of {COUNTING_MODES}")


def _over_graphemes(text: str, max_chars: int) -> Length | None:
    floor = graphemes_floor(text)
    if floor > max_chars:
        return _floor_or_exact(text, "graphemes", floor)
    if not graphemes_over(text, max_chars):
        return None
    if len(text) > EXACT_UP_TO:
        return Length(max_chars + 1, exact=False)  # read no further than needed
    return Length(graphemes(text))


def _floor_or_exact(text: str, counting: str, floor: int) -> Length:
    if len(text) > EXACT_UP_TO:
        return Length(floor, exact=False)
    return Length(count(text, counting))


def utf8_length(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def accepts(text: str, limits: Limits) -> bool:
    """Whether `problems` would find nothing."""
    if limits.max_bytes is not None and len(text) > limits.max_bytes // 4:
        if utf8_length(text) > limits.max_bytes:
            return False
    if limits.counting == "x-weighted":
        from autopostr.platforms.xtext import invalid_characters

        if invalid_characters(text):
            return False
    return fits(text, limits.counting, limits.max_chars)


def problems(text: str, limits: Limits, title: str) -> list[str]:
    """What the platform would refuse in `text`, each a phrase to follow "the text":
    its length in the platform's own count, its size in bytes, characters it refuses."""
    found = []
    measured = over(text, limits.counting, limits.max_chars)
    if measured is not None:
        found.append(f"is {measured} characters, {title}'s limit is {limits.max_chars}")
    if limits.max_bytes is not None and len(text) > limits.max_bytes // 4:
        size = utf8_length(text)
        if size > limits.max_bytes:
            found.append(f"is {size} bytes of UTF-8, {title}'s limit is {limits.max_bytes}")
    if limits.counting == "x-weighted":
        from autopostr.platforms.xtext import invalid_characters

        for ch in invalid_characters(text):
            name = unicodedata.name(ch, "a noncharacter")
            found.append(f"holds U+{ord(ch):04X} ({name}), which {title} does not accept")
    return found
