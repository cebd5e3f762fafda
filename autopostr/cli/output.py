"""The one place that writes to the terminal: JSON or Rich tables on stdout,
messages on a stderr console. Rich loads only when something is rendered.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def _no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))


@cache
def _console(stderr: bool) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output is read by scripts: do not wrap it at a guessed 80 columns.
    width = None if stream.isatty() else 200
    return Console(
        file=stream, no_color=_no_color(), highlight=False, soft_wrap=stderr, width=width
    )


def stdout() -> Console:
    return _console(False)


def stderr() -> Console:
    return _console(True)


def reset_consoles() -> None:
    """Consoles bind to the streams of the moment; tests swap streams between runs."""
    _console.cache_clear()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def print_line(text: str) -> None:
    """Plain data on stdout, no markup (a token, a path)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def print_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    title: str | None = None,
    empty: str = "Nothing to show.",
) -> None:
    """Rows of dicts as a table; `columns` maps keys to headers."""
    if not rows:
        info(empty)
        return
    from rich.table import Table

    table = Table(title=title, show_edge=False, header_style="bold", box=None, pad_edge=False)
    for _key, header in columns:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(key)) for key, _ in columns))
    stdout().print(table)


def print_fields(fields: Sequence[tuple[str, Any]]) -> None:
    """A record as aligned `label  value` lines."""
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for label, value in fields:
        table.add_row(label, _cell(value))
    stdout().print(table)


def _cell(value: Any) -> str:
    from rich.markup import escape

    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return escape(str(value))


def _message(prefix: str, style: str, text: str) -> None:
    from rich.markup import escape

    stderr().print(f"[{style}]{prefix}[/{style}]{escape(text)}" if prefix else escape(text))


def info(text: str) -> None:
    _message("", "", text)


def success(text: str) -> None:
    _message("✔ ", "green", text)


def warn(text: str) -> None:
    _message("Warning: ", "yellow", text)


def error(text: str) -> None:
    """The one-line `Error: …` of PRODUCT §2, without Rich so it works even when Rich fails."""
    sys.stderr.write(f"Error: {text}\n")
    sys.stderr.flush()
