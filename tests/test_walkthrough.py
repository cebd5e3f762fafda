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
    # Tables and the calendar fit 80 columns (messages are lines the terminal wraps).
    for line in fresh.splitlines():
        if line.startswith(("ID ", "┌", "│", "├", "└")) or line[:2].strip().isdigit():
            assert len(line) <= 80 and line == line.rstrip(), line
