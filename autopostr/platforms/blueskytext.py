"""Bluesky's text rules: the record's limits, and rich-text facets as the official client
detects them.

A post's text may hold 300 grapheme clusters and 3000 bytes of UTF-8 (the
app.bsky.feed.post lexicon: maxGraphemes, maxLength). Facets follow @atproto/api's
detectFacets (packages/api/src/rich-text/detection.ts and util.ts) rule for rule,
with JavaScript's regex semantics spelt out (its `\\s`, `\\b` and `^`):

- mentions: `@handle` after the start, whitespace or `(`, whose last label is a known
  top-level domain (or `.test`); one whose handle does not resolve is left as text;
- links: `http(s)://…`, or a bare domain with a known top-level domain, which gets
  `https://`; one trailing `.,;:!?` and then one unopened `)` are not part of it;
- tags: `#` or `＃` after the start or whitespace, not a keycap (U+FE0F), stopping at
  whitespace and at invisible characters (U+00AD, U+2060, U+200A–U+200D, U+20E2),
  needing one character that is no digit, space or punctuation, without trailing
  punctuation, at most 64 graphemes;
- cashtags: `$` and a letter and up to four letters or digits, upper-cased, stored as
  the tag `$TICKER`.

Offsets are UTF-8 byte offsets. Facets are ordered by their start, and one that starts
inside an earlier one is dropped, as the official client's segments() skips it.

One deliberate difference: upstream leaves a scheme-less link that happens to begin
with "http" (e.g. `httpbin.org`) without `https://`, which the lexicon's `uri` format
refuses; here every scheme-less link gets `https://`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import regex

MAX_GRAPHEMES: Final = 300
MAX_BYTES: Final = 3000
MAX_TAG_GRAPHEMES: Final = 64
LINK: Final = "app.bsky.richtext.facet#link"
MENTION: Final = "app.bsky.richtext.facet#mention"
TAG: Final = "app.bsky.richtext.facet#tag"

# JavaScript's \s (WhiteSpace and LineTerminator), which differs from Python's.
_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_INVISIBLE = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"


@dataclass(frozen=True)
class Facet:
    start: int  # code point offsets into the text
    end: int
    feature: dict[str, Any]


@cache
def _patterns() -> dict[str, regex.Pattern[str]]:
    import regex

    flags = regex.VERSION0
    return {
        # MENTION_REGEX = /(^|\s|\()(@)([a-zA-Z0-9.-]+)(\b)/g  (\b is ASCII without /u)
        "mention": regex.compile(
            rf"(\A|[{_JS_SPACE}]|\()(@)([a-zA-Z0-9.-]+)(?:(?<=[a-zA-Z0-9_])(?![a-zA-Z0-9_])"
            r"|(?<![a-zA-Z0-9_])(?=[a-zA-Z0-9_]))",
            flags,
        ),
        # URL_REGEX = /(^|\s|\()((https?:\/\/[\S]+)|((?<domain>[a-z][a-z0-9]*(\.[a-z0-9]+)+)[\S]*))/gim
        "url": regex.compile(
            rf"(\A|(?<=[\n\r\u2028\u2029])|[{_JS_SPACE}]|\()"
            rf"(([hH][tT][tT][pP][sS]?://[^{_JS_SPACE}]+)"
            rf"|((?P<domain>[a-zA-Z][a-zA-Z0-9]*(?:\.[a-zA-Z0-9]+)+)[^{_JS_SPACE}]*))",
            flags,
        ),
        "tag": regex.compile(
            rf"(\A|[{_JS_SPACE}])[#＃]((?!\ufe0f)[^{_JS_SPACE}{_INVISIBLE}]*"
            rf"[^0-9{_JS_SPACE}\p{{P}}{_INVISIBLE}]+[^{_JS_SPACE}{_INVISIBLE}]*)?",
            flags,
        ),
        "trailing_punctuation": regex.compile(r"\p{P}+\Z", flags),
        "cashtag": regex.compile(
            rf"(\A|[{_JS_SPACE}]|\()\$([A-Za-z][A-Za-z0-9]{{0,4}})"
            rf"(?=[{_JS_SPACE}]|\Z|[.,;:!?)\"'\u2019])",
            flags,
        ),
    }


def _known_domain(domain: str) -> bool:
    """isValidDomain: the last label is a top-level domain the `tlds` list knows."""
    from autopostr.platforms.tlds import TLDS

    _head, dot, tld = domain.rpartition(".")
    return bool(dot) and tld in TLDS


def _detect(text: str) -> Iterator[Facet]:
    """detectFacets, in its order: mentions, links, tags, cashtags (mentions unresolved)."""
    from autopostr.platforms.textcount import graphemes

    patterns = _patterns()
    for match in patterns["mention"].finditer(text):
        handle = match.group(3)
        if _known_domain(handle) or handle.endswith(".test"):
            yield Facet(match.start(3) - 1, match.end(3), {"$type": MENTION, "did": handle})
    for match in patterns["url"].finditer(text):
        uri = match.group(2)
        if not uri.startswith("http"):
            domain = match.group("domain")
            if not domain or not _known_domain(domain):
                continue
        if "://" not in uri:
            uri = "https://" + uri
        start, end = match.start(2), match.end(2)
        if uri[-1] in ".,;:!?":
            uri, end = uri[:-1], end - 1
        if uri.endswith(")") and "(" not in uri:
            uri, end = uri[:-1], end - 1
        yield Facet(start, end, {"$type": LINK, "uri": uri})
    trailing = patterns["trailing_punctuation"]
    for match in patterns["tag"].finditer(text):
        tag = match.group(2)
        if not tag:
            continue
        tag = trailing.sub("", tag)
        if not tag or (len(tag) > MAX_TAG_GRAPHEMES and graphemes(tag) > MAX_TAG_GRAPHEMES):
            continue
        start = match.end(1)
        yield Facet(start, start + 1 + len(tag), {"$type": TAG, "tag": tag})
    for match in patterns["cashtag"].finditer(text):
        ticker = match.group(2).upper()
        start = match.end(1)
        yield Facet(start, start + 1 + len(ticker), {"$type": TAG, "tag": "$" + ticker})


def detect(text: str, resolve: Callable[[str], str | None]) -> list[Facet]:
    """The facets of `text`, ordered, without overlaps; mentions resolved by `resolve`
    (handle -> DID), those that do not resolve left out."""
    found = sorted(_detect(text), key=lambda facet: facet.start)
    kept: list[Facet] = []
    cursor = 0
    for facet in found:
        if facet.start < cursor:
            continue
        if facet.feature["$type"] == MENTION:
            did = resolve(facet.feature["did"])
            if not did:
                continue
            facet = Facet(facet.start, facet.end, {"$type": MENTION, "did": did})
        kept.append(facet)
        cursor = facet.end
    return kept


def facets(text: str, resolve: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """The facets of `text` as app.bsky.richtext.facet records, with UTF-8 byte offsets."""
    out = []
    for facet in detect(text, resolve):
        start = len(text[: facet.start].encode("utf-8"))
        end = start + len(text[facet.start : facet.end].encode("utf-8"))
        out.append({"index": {"byteStart": start, "byteEnd": end}, "features": [facet.feature]})
    return out
