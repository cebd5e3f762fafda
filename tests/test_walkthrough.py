"""docs/walkthrough.md is what the walkthrough prints now, at 80 columns."""

from __future__ import annotations

import pytest

from tests.walkthrough import DOC, render


@pytest.mark.slow
def test_the_walkthrough_in_docs_is_current() -> None:
    fresh = render()
    assert DOC.read_text(encoding="utf-8") == fresh, (
        "docs/walkthrough.md is stale: run scripts/update-walkthrough.sh"
    )
    for line in fresh.splitlines():
        if not line.startswith("$ autopostr"):
            assert len(line) <= 80 or "~/.local/share" in line, line
