"""The one place that writes to the terminal: JSON or Rich tables on stdout,
messages on a stderr console. Rich loads only when something is rendered.

A command shows its result with `emit`: the document `autopostr.views` built for
it with --json, else a rendering for people made from that same document.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def _no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))


PIPED_WIDTH = 200  # piped output without COLUMNS: scripts read it, so wrap late


def columns(stream: Any = None) -> int | None:
    """The width to render for: `COLUMNS` when set (as gh and ls honour it), else the
    terminal's; None when the stream is piped and nothing says how wide its reader is."""
    raw = os.environ.get("COLUMNS", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    stream = stream or sys.stdout
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        pass
    return None


@cache
def _console(stderr: bool) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(
        file=stream,
        no_color=_no_color(),
        highlight=False,
        soft_wrap=stderr,
        width=columns(stream) or PIPED_WIDTH,
    )


_TRAILING_BLANKS = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$")


def _print_unpadded(renderable: Any, width: int | None = None) -> None:
    """Render to stdout with no trailing blanks on any line: Rich pads table cells to the
    column width, which makes piped lines end in spaces and diffs noisy."""
    console = stdout()
    with console.capture() as captured:
        console.print(renderable, width=width)
    lines = captured.get().split("\n")
    text = "\n".join(_TRAILING_BLANKS.sub(r"\1", line) for line in lines)
    console.file.write(text)
    console.file.flush()


def stdout() -> Console:
    return _console(False)


def stderr() -> Console:
    return _console(True)


def reset_consoles() -> None:
    """Consoles bind to the streams of the moment; tests swap streams between runs."""
    _console.cache_clear()
    set_quiet(False)


_quiet = [False]


def set_quiet(quiet: bool) -> None:
    """-q/--quiet: from now on only errors reach stderr (no info, success, warning or
    progress), so a cron job that went well mails nothing. Data on stdout is unchanged."""
    _quiet[0] = quiet


def is_quiet() -> bool:
    return _quiet[0]


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
    squeeze: Sequence[str] = (),
) -> None:
    """Rows of dicts as a table; `columns` maps keys to headers.

    Columns named in `squeeze` (free text: a post's text, its accounts) are cut with
    `…` to one line when the table is wider than the terminal; the others (ids, states,
    times) never wrap. Without `squeeze` every column folds as it must."""
    if not rows:
        info(empty)
        return
    from rich.cells import cell_len
    from rich.markup import render
    from rich.table import Table

    cells = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    natural = [
        max([cell_len(header), *(cell_len(render(line[n]).plain) for line in cells)])
        for n, (_key, header) in enumerate(columns)
    ]
    allowed = _share_width(natural, [key in squeeze for key, _ in columns])
    table = Table(title=title, show_edge=False, header_style="bold", box=None, pad_edge=False)
    for n, (key, header) in enumerate(columns):
        if not squeeze:
            table.add_column(header, overflow="fold")
        elif key in squeeze:
            table.add_column(header, overflow="ellipsis", no_wrap=True, max_width=allowed[n])
        else:
            # Ids, states and times keep their width; the free text gives way.
            table.add_column(header, no_wrap=True, min_width=natural[n])
    for line in cells:
        table.add_row(*line)
    _print_unpadded(table)


def _share_width(natural: list[int], squeezable: list[bool]) -> list[int]:
    """Widths for a table's columns on this console: fixed columns keep theirs, the
    squeezable ones share what is left (each at least 6), the narrow ones first."""
    total = stdout().width - 2 * (len(natural) - 1)
    left = total - sum(w for w, s in zip(natural, squeezable, strict=True) if not s)
    widths = list(natural)
    flexible = sorted((w, n) for n, (w, s) in enumerate(zip(natural, squeezable, strict=True)) if s)
    for position, (wanted, n) in enumerate(flexible):
        fair = max(6, left // (len(flexible) - position))
        widths[n] = min(wanted, fair)
        left -= widths[n]
    return widths


def print_fields(fields: Sequence[tuple[str, Any]]) -> None:
    """A record as aligned `label  value` lines."""
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in fields:
        table.add_row(label, _cell(value))
    _print_unpadded(table)


def print_grid(
    headers: Sequence[str],
    rows: Sequence[Sequence[Sequence[str]]],
    *,
    title: str | None = None,
    labelled: bool = False,
) -> None:
    """A calendar-like grid: equal columns, ruled rows, each cell a list of lines.

    Each line is cut with `…` rather than broken inside a word, and cells have no inner
    padding, so seven days fit 80 columns. Piped without COLUMNS it is drawn 100 wide.
    With `labelled`, each cell's first line is its label (a day) and is shown bold.
    """
    from rich import box
    from rich.table import Table

    width = columns() or GRID_PIPED_WIDTH
    table = Table(
        title=title,
        box=box.SQUARE,
        show_lines=True,
        header_style="bold",
        expand=True,
        padding=(0, 0),
    )
    for header in headers:
        table.add_column(header, overflow="ellipsis", no_wrap=True, ratio=1, vertical="top")
    for row in rows:
        table.add_row(*(_grid_cell(cell, labelled) for cell in row))
    _print_unpadded(table, width=width)


GRID_PIPED_WIDTH = 100


def _grid_cell(lines: Sequence[str], labelled: bool) -> Any:
    from rich.text import Text

    shown = [Text(line) for line in lines]
    if labelled and shown:
        shown[0].stylize("bold")
    return Text("\n").join(shown)


def _cell(value: Any) -> str:
    from rich.markup import escape

    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return escape(str(value))


def _message(prefix: str, style: str, text: str, *, even_quiet: bool = False) -> None:
    from rich.markup import escape

    if _quiet[0] and not even_quiet:
        return

    stderr().print(f"[{style}]{prefix}[/{style}]{escape(text)}" if prefix else escape(text))


def info(text: str) -> None:
    _message("", "", text)


def shown(note: str | None) -> None:
    """`100 of 120,000 posts shown`, on stderr, when a list was cut."""
    if note:
        info(note)


def success(text: str) -> None:
    _message("✔ ", "green", text)


def warn(text: str, *, even_quiet: bool = False) -> None:
    """`Warning: …` on stderr; `even_quiet` for what went wrong (a destination that
    failed for good), which --quiet still shows before the command's exit code says so."""
    _message("Warning: ", "yellow", text, even_quiet=even_quiet)


def error(text: str) -> None:
    """The one-line `Error: …` of PRODUCT §2, without Rich so it works even when Rich fails."""
    sys.stderr.write(f"Error: {text}\n")
    sys.stderr.flush()


@contextmanager
def progress(label: str, total: int, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr for long work; nothing when stderr is not a terminal."""
    if not enabled or not sys.stderr.isatty() or _no_color() or _quiet[0]:
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
    if not enabled or not sys.stderr.isatty() or _no_color() or _quiet[0]:
        yield Progress()
        return
    from rich.progress import Progress as RichProgress

    with RichProgress(console=stderr(), transient=True) as bar:
        yield Progress(bar, bar.add_task(label, total=None))


def local_time(value: str | None, zone_name: str, *, compact: bool = False) -> str | None:
    """An ISO 8601 time from a JSON document as people read it, in `zone_name`.

    Compact (for tables): `06-30 09:00`, with the year when it is not this year's, the
    zone named once in the column header. Otherwise with the offset and the zone:
    `2027-06-30 09:00 +02:00 (Europe/Berlin)`. JSON documents keep ISO 8601."""
    if not value:
        return None
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    try:
        tz = ZoneInfo(zone_name)
    except (ValueError, KeyError):
        tz = ZoneInfo("UTC")
    moment = datetime.fromisoformat(value).astimezone(tz)
    if compact:
        this_year = datetime.now(UTC).astimezone(tz).year
        return moment.strftime("%m-%d %H:%M" if moment.year == this_year else "%Y-%m-%d %H:%M")
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]} ({zone_name})"


def zone_label(zone_name: str) -> str:
    """A zone as a table header names it: `Berlin` for Europe/Berlin, `UTC` for Etc/UTC."""
    return zone_name.rsplit("/", 1)[-1].replace("_", " ")


class _WarningsToStderr:
    """Warnings the domain logs (a hook that failed) as the CLI's own `Warning:` lines;
    the daemon's foreground run has its own logging and takes these back."""

    def __init__(self) -> None:
        import logging

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                # Plain, to the stderr of the moment: the handler outlives the command
                # that installed it (tests run many in one process).
                if _quiet[0]:
                    return
                try:
                    sys.stderr.write(f"Warning: {record.getMessage()}\n")
                    sys.stderr.flush()
                except (ValueError, OSError):
                    pass

        self.handler = Handler(level=logging.WARNING)

    def install(self) -> None:
        import logging

        logger = logging.getLogger("autopostr")
        if self.handler not in logger.handlers:
            logger.addHandler(self.handler)

    def remove(self) -> None:
        import logging

        logging.getLogger("autopostr").removeHandler(self.handler)


_warnings = _WarningsToStderr()
route_warnings = _warnings.install
unroute_warnings = _warnings.remove


FIRST_STEPS = (
    ("autopostr accounts add sandbox --handle demo", "an account to post to (offline)"),
    ('autopostr posts create --to sandbox:demo --text "Hello" --at +5m', "a post"),
    ("autopostr daemon run", "publish it when its time comes (Ctrl-C stops)"),
)


def first_steps() -> None:
    """The three commands of a first run, on stderr: what `init` and an empty dashboard
    leave a new user to do next. A block to paste (the comments are shell comments),
    narrower than 80 columns."""
    info("Next steps:")
    for command, why in FIRST_STEPS:
        info(f"  # {why}")
        info(f"  {command}")
