"""The one place that writes to the terminal: JSON or Rich tables on stdout,
messages on a stderr console. Rich loads only when something is rendered.

A command shows its result with `emit`: the document `autopostr.views` built for
it with --json, else a rendering for people made from that same document.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
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


def emit(
    document: Any,
    as_json: bool,
    human: Callable[[Any], None] | None = None,
    *,
    notes: Sequence[str] = (),
) -> None:
    """Show a command's result: with --json its document on stdout, then `notes` (warnings
    a script must not miss) on stderr; else `human(document)`, which shows the notes
    where a person reads them."""
    if as_json:
        print_json(document)
        for note in notes:
            warn(note)
    elif human is not None:
        human(document)


def emit_lines(documents: Iterable[Any], as_json: bool, human: Callable[[Any], str]) -> None:
    """A stream of results, one line each: JSON Lines with --json, else `human(document)`."""
    for document in documents:
        print_line(json.dumps(document, ensure_ascii=False) if as_json else human(document))


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


def print_grid(
    headers: Sequence[str],
    rows: Sequence[Sequence[Sequence[str]]],
    *,
    title: str | None = None,
    labelled: bool = False,
) -> None:
    """A calendar-like grid: equal columns, ruled rows, each cell a list of lines.

    With `labelled`, each cell's first line is its label (a day) and is shown bold.
    """
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SQUARE, show_lines=True, header_style="bold", expand=True)
    for header in headers:
        table.add_column(header, overflow="fold", ratio=1, vertical="top")
    for row in rows:
        table.add_row(*(_grid_cell(cell, labelled) for cell in row))
    stdout().print(table)


def _grid_cell(lines: Sequence[str], labelled: bool) -> str:
    from rich.markup import escape

    shown = [escape(line) for line in lines]
    if labelled and shown:
        shown[0] = f"[bold]{shown[0]}[/bold]"
    return "\n".join(shown)


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


@contextmanager
def progress(label: str, total: int, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr for long work; nothing when stderr is not a terminal."""
    if not enabled or not sys.stderr.isatty() or _no_color():
        yield lambda _n: None
        return
    from rich.progress import Progress

    with Progress(console=stderr(), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@contextmanager
def live_text(enabled: bool = True) -> Iterator[Callable[[str], None] | None]:
    """Text redrawn on stdout as it grows (a model's reply streaming in), removed when the
    block ends so the final rendering takes its place. None where stdout is no terminal:
    a pipe gets only the final document."""
    if not enabled or not sys.stdout.isatty():
        yield None
        return
    from rich.live import Live
    from rich.text import Text

    with Live(console=stdout(), transient=True, auto_refresh=False) as live:
        yield lambda text: live.update(Text(text), refresh=True)


class Progress:
    """A progress bar whose total is known only once the work has started."""

    def __init__(self, bar: Any = None, task: Any = None) -> None:
        self.bar, self.task = bar, task

    def total(self, total: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, total=total)

    def advance(self, done: int) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, done)


@contextmanager
def open_progress(label: str, enabled: bool = True) -> Iterator[Progress]:
    """`progress` with the total told later (`Progress.total`); nothing when stderr is
    not a terminal."""
    if not enabled or not sys.stderr.isatty() or _no_color():
        yield Progress()
        return
    from rich.progress import Progress as RichProgress

    with RichProgress(console=stderr(), transient=True) as bar:
        yield Progress(bar, bar.add_task(label, total=None))
