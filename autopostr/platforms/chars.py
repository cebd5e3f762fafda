"""Character facts every platform's counting leans on, kept apart so that the
platform text modules can share them without importing each other."""

from __future__ import annotations

# Unicode's White_Space property: the characters every platform's tokenizer splits on.
WHITE_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def whitespace(text: str) -> int:
    """How many White_Space characters `text` holds."""
    chars = WHITE_SPACE[:6] if text.isascii() else WHITE_SPACE
    return sum(text.count(ch) for ch in chars)
