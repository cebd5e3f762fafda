"""What a model wrote, made fit to post: measured in each platform's own counting (the
`text_problems`/`text_fits` that `posts create` validates with), trimmed on a word
boundary when it must be, and hashtags made valid.

Trimming drops whole words from the end, so a URL, a mention or a hashtag is either
kept whole or left out, never cut; an ellipsis marks a sentence cut short.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import regex

    from autopostr.platforms.base import Platform

ELLIPSIS = "…"
# Bluesky links a tag of up to 64 characters, the shortest any platform allows.
TAG_LIMIT = 64
# X takes 1,000 characters of alt text, the fewest of any platform.
ALT_TEXT_LIMIT = 1000


@dataclass(frozen=True)
class Measure:
    length: int
    limit: int | None
    fits: bool
    title: str | None = None  # the platform that measured it


@dataclass(frozen=True)
class Target:
    """Where a text is going: the platforms it must fit (all of them), or a plain limit in
    characters where none applies (alt text), or nothing in particular."""

    platforms: tuple[Platform, ...] = ()
    limit: int | None = None
    account: str | None = None  # a destination's label, for variants

    @property
    def binding(self) -> Platform | None:
        """The platform whose limit is the strictest: its counting is the one reported."""
        return min(self.platforms, key=lambda p: p.limits.max_chars, default=None)

    @property
    def platform(self) -> str | None:
        return self.binding.name if self.binding is not None else None

    def measure(self, text: str) -> Measure:
        """The text in the counting of the first platform it does not fit, else of the
        strictest one."""
        for platform in self.platforms:
            if not platform.text_fits(text):
                return _measured(platform, text, fits=False)
        if self.binding is not None:
            return _measured(self.binding, text, fits=True)
        length = len(text)
        return Measure(length, self.limit, self.limit is None or length <= self.limit)

    def fits(self, text: str) -> bool:
        if self.platforms:
            return all(platform.text_fits(text) for platform in self.platforms)
        return self.limit is None or len(text) <= self.limit


def _measured(platform: Platform, text: str, *, fits: bool) -> Measure:
    return Measure(platform.count_text(text), platform.limits.max_chars, fits, platform.title)


@dataclass(frozen=True)
class Candidate:
    text: str
    length: int
    limit: int | None
    fits: bool
    trimmed: bool = False
    platform: str | None = None
    account: str | None = None


def candidate(text: str, target: Target, *, trimmed: bool = False) -> Candidate:
    measured = target.measure(text)
    return Candidate(
        text,
        measured.length,
        measured.limit,
        measured.fits,
        trimmed,
        target.platform,
        target.account,
    )


# -- trimming -------------------------------------------------------------------


def _protected(word: str) -> bool:
    """A URL, a mention or a hashtag: kept whole or dropped, never cut or extended."""
    core = word.lstrip("([{\"'“‘")
    return "://" in core or core.startswith(("www.", "@", "#", "＃"))


def _shortened(text: str, end: int, last_word: str) -> str:
    kept = text[:end]
    if _protected(last_word):
        return kept
    kept = kept.rstrip(",;:-–—")
    return kept if kept.endswith((".", "!", "?", ELLIPSIS)) else kept + ELLIPSIS


def trim(text: str, fits: Callable[[str], bool]) -> str | None:
    """The longest run of whole words from the start that fits, or None when not even
    the first word does (and it is a URL, mention or hashtag, which are never cut)."""
    words = list(re.finditer(r"\S+", text))
    if not words:
        return None

    def cut(count: int) -> str:
        last = words[count - 1]
        return _shortened(text, last.end(), last.group())

    # Lengths grow with each word kept, so a binary search finds the longest that fits;
    # the walk down after it covers a counting that is not strictly monotonic.
    low, high = 0, len(words)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(cut(middle)):
            low = middle
        else:
            high = middle - 1
    for count in range(low, 0, -1):
        if fits(cut(count)):
            return cut(count)
    first = words[0].group()
    if _protected(first):
        return None
    clusters = _clusters().findall(first)
    for size in range(len(clusters) - 1, 0, -1):
        shortened = "".join(clusters[:size]) + ELLIPSIS
        if fits(shortened):
            return shortened
    return None


@cache
def _clusters() -> regex.Pattern[str]:
    import regex

    return regex.compile(r"\X")


def fitted(text: str, target: Target) -> Candidate:
    """The text as a candidate for `target`: as it is when it fits, else trimmed."""
    if target.fits(text):
        return candidate(text, target)
    shorter = trim(text, target.fits)
    if shorter is None:
        return candidate(text, target)
    return candidate(shorter, target, trimmed=True)


# -- hashtags -------------------------------------------------------------------


@cache
def _not_tag_character() -> regex.Pattern[str]:
    import regex

    # Letters, combining marks (Indic scripts need them), digits and the underscore: what
    # X, Mastodon, Bluesky, LinkedIn and Instagram all take inside a tag.
    return regex.compile(r"[^\p{L}\p{M}\p{N}_]+")


@cache
def _tag_in_text() -> regex.Pattern[str]:
    import regex

    return regex.compile(r"[#＃]([\p{L}\p{M}\p{N}_]+)")


def clean_hashtag(raw: str) -> str | None:
    """`raw` as one valid tag with its #, or None when nothing usable is left: spaces and
    punctuation removed (words after the first capitalised, "social media" becoming
    #SocialMedia), never digits alone, at most TAG_LIMIT characters."""
    words = [w for w in _not_tag_character().split(raw.replace("'", "").replace("’", "")) if w]
    if not words:
        return None
    body = words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])
    if body.replace("_", "").isdigit() or len(body) > TAG_LIMIT:
        return None
    return "#" + str(body)


def hashtags(items: Sequence[str], most: int, already: str = "") -> list[str]:
    """Valid, distinct tags (case aside) from what the model gave, none of those `already`
    has, at most `most` of them. An item holding several `#tags` counts as each."""
    seen = {"#" + tag.casefold() for tag in _tag_in_text().findall(already)}
    found: list[str] = []
    for item in items:
        pieces = item.split() if item.count("#") > 1 else [item]
        for piece in pieces:
            tag = clean_hashtag(piece)
            if tag is not None and tag.casefold() not in seen:
                seen.add(tag.casefold())
                found.append(tag)
    return found[:most]


# -- the model's reply ------------------------------------------------------------

_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")


def parse_candidates(reply: str) -> list[str] | None:
    """The strings of `{"candidates": [...]}` (or of a bare list), or None when the reply
    is not in that form or holds no text."""
    body = _FENCE.sub("", reply.strip())
    value = _loads(body)
    if value is None:
        start = min((i for i in (body.find("{"), body.find("[")) if i >= 0), default=-1)
        end = max(body.rfind("}"), body.rfind("]"))
        if start < 0 or end <= start:
            return None
        value = _loads(body[start : end + 1])
    if isinstance(value, dict):
        value = value.get("candidates")
    if not isinstance(value, list):
        return None
    texts = []
    for item in value:
        if isinstance(item, dict):  # {"text": "…"}, as some models wrap them
            item = item.get("text")
        if isinstance(item, str) and item.strip():
            texts.append(item.strip())
    return texts or None


def _loads(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def partial_candidates(reply: str) -> list[str]:
    """The candidates of a reply still streaming in, the last one maybe unfinished: what
    a terminal shows while the model writes."""
    key = reply.find('"candidates"')
    start = reply.find("[", max(key, 0))
    found: list[str] = []
    if start < 0:
        return found
    i, n = start + 1, len(reply)
    while i < n and reply[i] != "]":
        if reply[i] != '"':
            i += 1
            continue
        chars: list[str] = []
        i += 1
        while i < n and reply[i] != '"':
            if reply[i] == "\\" and i + 1 < n:
                escaped = reply[i + 1]
                if escaped == "u":
                    if i + 6 > n:  # the escape is still arriving
                        break
                    try:
                        chars.append(chr(int(reply[i + 2 : i + 6], 16)))
                    except ValueError:
                        pass
                    i += 6
                    continue
                chars.append(_ESCAPES.get(escaped, escaped))
                i += 2
                continue
            if reply[i] == "\\":
                break
            chars.append(reply[i])
            i += 1
        found.append("".join(chars))
        i += 1
    return found
