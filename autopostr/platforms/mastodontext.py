"""Mastodon's text rules: a status's length as its StatusLengthValidator counts it.

Mastodon counts the grapheme clusters of its "countable text": the status with every
URL that twitter-text extracts (with a protocol only) replaced by 23 characters and
every mention that Mastodon's Extractor finds cut to its local part. Only entities
that will be linked get the concession, so the rules below follow that extraction
exactly (app/validators/status_length_validator.rb, app/lib/extractor.rb and
Account::MENTION_RE in Mastodon; extract_urls_with_indices and is_valid_domain in
twitter-text's Ruby library):

- a URL needs a protocol and a valid preceding character (so `aaahttp://x.com`
  is not one), may be at most 4096 characters long counting its punycode domain,
  and a t.co URL stops after its slug;
- a mention is `@user` or `@user@domain` not preceded by `=`, `/` or a word
  character and not followed by `@`, a Latin accent or `://`; one whose domain is
  longer than 253 characters is not a mention and counts in full;
- overlapping entities keep the first one.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import regex

URL_PLACEHOLDER_CHARS: Final = 23
MAX_URL_LENGTH: Final = 4096  # twitter-text's MAX_URL_LENGTH
MAX_TCO_SLUG_LENGTH: Final = 40
MAX_DOMAIN_LENGTH: Final = 253  # Mastodon's Extractor::MAX_DOMAIN_LENGTH

# twitter-text's LATIN_ACCENTS (regex.rb), for REGEXEN[:end_mention_match].
_LATIN_ACCENTS = (
    "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f\u0253-\u0254\u0256-\u0257"
    "\u0259\u025b\u0263\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
# Onigmo's [[:word:]] on Unicode strings: Letter, Mark, Decimal_Number, Connector_Punctuation.
_WORD = r"\p{L}\p{M}\p{Nd}\p{Pc}"


@cache
def _mention_re() -> regex.Pattern[str]:
    import regex

    username = r"(?i:[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)"
    return regex.compile(
        rf"(?<![=/{_WORD}])@({username}(?:@[{_WORD}]+(?:[.-]+[{_WORD}]+)*)?)", regex.VERSION0
    )


@cache
def _end_mention_re() -> regex.Pattern[str]:
    import regex

    return regex.compile(rf"(?:[@＠]|[{_LATIN_ACCENTS}]+|://)", regex.IGNORECASE)


def _idna_length(domain: str) -> int | None:
    """The domain's length once punycode-encoded, None where IDNA refuses it."""
    try:
        return len(domain.encode("idna"))
    except UnicodeError:
        return None


def urls(text: str) -> list[tuple[int, int]]:
    """Spans of the URLs with a protocol, as twitter-text's Ruby extract_urls_with_indices
    finds them with extract_url_without_protocol: false."""
    if ":" not in text:
        return []
    from twitter_text.regexp.extract_url import extract_url
    from twitter_text.regexp.valid_tco_url import valid_tco_url

    found = []
    for match in extract_url.finditer(text):
        url, protocol, domain = match.group(3), match.group(4), match.group(5)
        if not protocol:
            continue
        start = match.start(3)
        tco = valid_tco_url.match(url)
        if tco:
            if tco.group(1) and len(tco.group(1)) > MAX_TCO_SLUG_LENGTH:
                continue
            url = tco.group(0)
        encoded = _idna_length(domain) if domain else None
        if encoded is None:
            continue
        length = len(url) + max(0, encoded - len(domain))
        if length <= MAX_URL_LENGTH:
            found.append((start, start + len(url)))
    return found


def mentions(text: str) -> list[tuple[int, int, str]]:
    """Spans and local parts of the mentions Mastodon's Extractor finds."""
    if "@" not in text and "＠" not in text:
        return []
    found = []
    end_mention = _end_mention_re()
    for match in _mention_re().finditer(text):
        if end_mention.match(text, match.end()):
            continue
        screen_name = match.group(1)
        user, _, domain = screen_name.partition("@")
        if domain and len(domain) > MAX_DOMAIN_LENGTH:
            continue
        found.append((match.start(1) - 1, match.end(1), user))
    return found


def countable_text(text: str, url_chars: int = URL_PLACEHOLDER_CHARS) -> str:
    """The text Mastodon measures: URLs as `url_chars` x's, mentions as @user."""
    if _blank(text):
        return ""
    entities: list[tuple[int, int, str]] = [(a, b, "x" * url_chars) for a, b in urls(text)]
    entities += [(a, b, "@" + user) for a, b, user in mentions(text)]
    entities.sort(key=lambda entity: entity[0])
    out: list[str] = []
    cursor = 0
    for start, end, replacement in entities:
        if start < cursor:  # remove_overlapping_entities: the earlier one stays
            continue
        out += [text[cursor:start], replacement]
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def _blank(text: str) -> bool:
    """ActiveSupport's String#blank?: nothing but Unicode whitespace."""
    import regex

    return regex.fullmatch(r"\p{White_Space}*", text) is not None
