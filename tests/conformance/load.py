"""Read the platforms' own test data, kept here as published (see SOURCES.md).

Each loader returns the cases of one upstream suite as plain Python values; the
JavaScript and Ruby files are read as the literals they hold, never transcribed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

HERE = Path(__file__).parent


# -- twitter-text: conformance/validate.yml --------------------------------------------


def twitter_text_validate() -> dict[str, list[dict[str, Any]]]:
    import yaml

    data = yaml.safe_load((HERE / "twitter-text" / "validate.yml").read_text(encoding="utf-8"))
    return dict(data["tests"])


# -- Unicode: GraphemeBreakTest.txt ----------------------------------------------------


def grapheme_break_tests() -> list[tuple[str, list[str]]]:
    """(line, clusters) for each test line: ÷ marks a break, × none."""
    cases = []
    path = HERE / "unicode" / "GraphemeBreakTest-18.0.0.txt"
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        clusters: list[str] = []
        current = ""
        for token in line.split():
            if token == "÷":
                if current:
                    clusters.append(current)
                current = ""
            elif token != "×":
                current += chr(int(token, 16))
        cases.append((line, clusters))
    return cases


# -- Mastodon: spec/validators/status_length_validator_spec.rb -------------------------


def mastodon_examples() -> list[str]:
    """The descriptions of the spec's `it` examples, in order."""
    source = (HERE / "mastodon" / "status_length_validator_spec.rb").read_text(encoding="utf-8")
    return re.findall(r"^\s*it '([^']*)' do$", source, re.MULTILINE)


def mastodon_example_body(description: str) -> str:
    source = (HERE / "mastodon" / "status_length_validator_spec.rb").read_text(encoding="utf-8")
    start = source.index(f"it '{description}' do")
    return source[start : source.index("\n    end\n", start)]


# -- atproto: packages/api/tests/*.test.ts ---------------------------------------------


class _Js:
    """A reader of the JavaScript literals the tests hold: strings, numbers, arrays,
    objects with bare keys, comments and trailing commas."""

    _ESCAPES: ClassVar[dict[str, str]] = {
        "n": "\n",
        "t": "\t",
        "r": "\r",
        "b": "\b",
        "f": "\f",
        "v": "\v",
        "0": "\0",
    }

    def __init__(self, source: str, at: int):
        self.s = source
        self.i = at

    def _skip(self) -> None:
        while True:
            while self.i < len(self.s) and self.s[self.i].isspace():
                self.i += 1
            if self.s.startswith("//", self.i):
                self.i = self.s.index("\n", self.i)
            else:
                return

    def value(self) -> Any:
        self._skip()
        ch = self.s[self.i]
        if ch == "[":
            self.i += 1
            items: list[Any] = []
            while True:
                self._skip()
                if self.s[self.i] == "]":
                    self.i += 1
                    return items
                items.append(self.value())
                self._skip()
                if self.s[self.i] == ",":
                    self.i += 1
        if ch == "{":
            self.i += 1
            obj: dict[str, Any] = {}
            while True:
                self._skip()
                if self.s[self.i] == "}":
                    self.i += 1
                    return obj
                key = self._key()
                self._skip()
                assert self.s[self.i] == ":", self.s[self.i : self.i + 20]
                self.i += 1
                obj[key] = self.value()
                self._skip()
                if self.s[self.i] == ",":
                    self.i += 1
        if ch in "'\"":
            return self._string()
        number = re.compile(r"-?\d+").match(self.s, self.i)
        assert number, self.s[self.i : self.i + 20]
        self.i = number.end()
        return int(number.group())

    def _key(self) -> str:
        if self.s[self.i] in "'\"":
            return self._string()
        name = re.compile(r"[$\w]+").match(self.s, self.i)
        assert name, self.s[self.i : self.i + 20]
        self.i = name.end()
        return name.group()

    def _string(self) -> str:
        quote = self.s[self.i]
        self.i += 1
        out = []
        while self.s[self.i] != quote:
            ch = self.s[self.i]
            if ch == "\\":
                nxt = self.s[self.i + 1]
                if nxt == "u" and self.s[self.i + 2] == "{":
                    end = self.s.index("}", self.i)
                    out.append(chr(int(self.s[self.i + 3 : end], 16)))
                    self.i = end + 1
                    continue
                if nxt == "u":
                    out.append(chr(int(self.s[self.i + 2 : self.i + 6], 16)))
                    self.i += 6
                    continue
                if nxt == "x":
                    out.append(chr(int(self.s[self.i + 2 : self.i + 4], 16)))
                    self.i += 4
                    continue
                out.append(self._ESCAPES.get(nxt, nxt))
                self.i += 2
                continue
            out.append(ch)
            self.i += 1
        self.i += 1
        return "".join(out)


def _literal_after(source: str, marker: str, opener: str = "[", after: int = 0) -> Any:
    at = source.index(marker, after) + len(marker)
    return _Js(source, source.index(opener, at - len(opener))).value()


@dataclass(frozen=True)
class Detection:
    """The first suite: each input and the segments (text, and the DID or URI of a
    mention or link facet) the official client makes of it."""

    inputs: list[str]
    outputs: list[list[list[str]]]


def atproto_detection() -> Detection:
    source = _atproto("rich-text-detection.test.ts")
    inputs = _literal_after(source, "const inputs = [")
    outputs = _literal_after(source, "const outputs: string[][][] = [")
    return Detection(inputs, outputs)


def atproto_inline(kind: str) -> list[tuple[str, list[str], list[dict[str, int]]]]:
    """(input, tags, byte ranges) of the suite 'correctly detects <kind> inline'."""
    source = _atproto("rich-text-detection.test.ts")
    start = source.index(f"describe('correctly detects {kind} inline'")
    table = _literal_after(source, "][] = [", after=start)
    return [(text, tags, indices) for text, tags, indices in table]


def atproto_lengths() -> list[tuple[str, int, int]]:
    """(text, UTF-8 bytes, graphemes) from 'calculates bytelength and grapheme length'."""
    source = _atproto("rich-text.test.ts")
    start = source.index("it('calculates bytelength and grapheme length correctly'")
    block = source[start : source.index("\n  })\n", start)]
    found = []
    for match in re.finditer(
        r"new RichText\(\{ text: (?P<text>'(?:[^'\\]|\\.)*') \}\)\s*"
        r"expect\(rt\.length\)\.toBe\((?P<bytes>\d+)\)\s*"
        r"expect\(rt\.graphemeLength\)\.toBe\((?P<graphemes>\d+)\)",
        block,
    ):
        text = _Js(block, match.start("text")).value()
        found.append((text, int(match.group("bytes")), int(match.group("graphemes"))))
    return found


def atproto_its(name: str) -> list[str]:
    """The `it(...)` and `describe(...)` titles of a test file, to list what is left out."""
    return re.findall(r"^\s*(?:it|describe)\(['\"]([^'\"]*)['\"]", _atproto(name), re.MULTILINE)


def _atproto(name: str) -> str:
    return (HERE / "atproto" / name).read_text(encoding="utf-8")
