"""X's text rules: twitter-text's weighted length and its `valid` verdict, decided cheaply.

twitter-text (config v3, the library's "defaults") NFC-normalises the text (which
can *lengthen* it, e.g. U+1D160 becomes three code points), turns CR LF and CR
into LF (which only shortens it), then walks it left to right. Each step is one of:

- a URL: weighs 23 and skips the URL's span. Every URL the library extracts has a
  literal '.' in the span it skips (its domain regexes end labels with `\\.`, and
  `extract_urls_with_indices` returns nothing for a text without a '.'), no
  whitespace, and spans do not overlap;
- an emoji: weighs 2 and skips its code points. That is at most the sum of their
  per-code-point weights, except for a lone light code point matched as an emoji:
  only © and ® (`LIGHT_EMOJI`), each adding 1;
- any other code point: 1 if it lies in a light range, else 2.

Hence an upper bound (`x_weighted_bound`): weight <= len(nfc) + heavy + count(©, ®)
+ 22 * count('.'), exact when the text has no heavy code point, no © or ® and no
'.'. And a lower bound (`x_weighted_floor`): no step covers more than 4096 code points
(the longest URL twitter-text extracts) and each weighs at least 1; and no URL or
emoji holds whitespace, each character of which weighs at least 1. Between the two,
the library decides.

The text is valid when it is not empty, weighs at most 280 and holds none of
U+FFFE, U+FEFF and U+FFFF. Every fact above is checked against the library by the
tests.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from autopostr.platforms.chars import whitespace

# twitter-text v3 weights: code points in these ranges weigh 1, all others 2.
X_LIGHT_RANGES: Final = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
X_URL_WEIGHT: Final = 23
X_MAX_URL: Final = 4096  # twitter-text's MAX_URL_LENGTH: no URL span is longer
X_LIBRARY_MAX: Final = 280  # the library's configured maximum: its `valid` verdict uses it
# Characters twitter-text declares invalid anywhere in a text.
X_INVALID: Final = ("\ufffe", "\ufeff", "\uffff")

_LIGHT_CLASS = "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in X_LIGHT_RANGES)
_HEAVY = re.compile(f"[^{_LIGHT_CLASS}]")
# Light code points the library's emoji regex matches on their own (weight 2, not 1).
LIGHT_EMOJI: Final = frozenset("\u00a9\u00ae")


def fold(text: str) -> str:
    """The text as the library walks it: NFC, line endings as LF."""
    nfc = text if text.isascii() else unicodedata.normalize("NFC", text)
    return nfc.replace("\r\n", "\n").replace("\r", "\n")


def invalid_characters(text: str) -> list[str]:
    """The characters twitter-text refuses that `text` holds, in a stable order."""
    return [ch for ch in X_INVALID if ch in text]


def x_weighted_bound(text: str) -> tuple[bool, int]:
    """(exact, n): n is never below X's weighted length, and equals it when `exact`.

    Pure C-level string operations; the module docstring proves the bound.
    """
    folded = fold(text)
    dots = folded.count(".")
    if folded.isascii():
        heavy = light_emoji = 0
    else:
        heavy = len(folded) - len(_HEAVY.sub("", folded))
        light_emoji = sum(folded.count(ch) for ch in LIGHT_EMOJI)
    if dots == 0 and heavy == 0 and light_emoji == 0:
        return True, len(folded)
    return False, len(folded) + heavy + light_emoji + (X_URL_WEIGHT - 1) * dots


def x_weighted_floor(text: str) -> int:
    """A number never above X's weighted length; C-level and linear."""
    folded = fold(text)
    return max(-(-len(folded) // X_MAX_URL), whitespace(folded))


def x_weighted(text: str) -> int:
    """X's weighted length from twitter-text (imported here: it is slow to import)."""
    from twitter_text import parse_tweet

    # weightedLength does not depend on the configured maximum; callers compare it themselves.
    return int(parse_tweet(text).weightedLength)
