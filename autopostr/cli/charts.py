"""Charts for the analytics reports: plotext bar charts in a terminal, the same numbers
as a plain table when stdout is a pipe or a file (scripts and `less` get text)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from typing import Any

MAX_WIDTH = 120
HEIGHT = 10


def terminal_width() -> int:
    """The terminal's columns (COLUMNS wins), capped so charts stay readable."""
    return min(MAX_WIDTH, max(40, shutil.get_terminal_size((80, 24)).columns))


def charts_wanted() -> bool:
    return sys.stdout.isatty()


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], width: int) -> str:
    """One bar chart, `width` columns wide at most; colourless under NO_COLOR."""
    import plotext

    figure = plotext.figure
    figure.clear()
    figure.plot_size(width, HEIGHT)
    figure.theme("clear")
    figure.draw(figure.bar(list(labels), list(values)))
    figure.title(title)
    drawn = str(figure.build())
    if os.environ.get("NO_COLOR"):
        drawn = plotext.uncolorize(drawn)
    return "\n".join(line.rstrip() for line in drawn.splitlines()).rstrip("\n")


def daily_charts(daily: dict[str, list[dict[str, Any]]], width: int | None = None) -> list[str]:
    """A chart per metric of the `daily` series of a report (days without data are
    drawn as 0, their label kept)."""
    width = width or terminal_width()
    drawn = []
    for metric, series in daily.items():
        labels = [point["day"][5:] for point in series]
        values = [point["value"] or 0 for point in series]
        what = "followers" if metric == "followers" else f"{metric.replace('_', ' ')} per day"
        drawn.append(bar_chart(what, labels, values, width))
    return drawn


def heatmap_text(
    weekdays: Sequence[str], heatmap: Sequence[Sequence[float | None]], colour: bool
) -> list[str]:
    """Weekday × hour, each cell a shade of its engagement per impression (the darkest
    the best hour); plain characters, so it reads the same in a pipe."""
    shades = " ░▒▓█"
    known = [v for row in heatmap for v in row if v is not None]
    top = max(known) if known else 0.0
    lines = ["     " + "".join(f"{h:<3d}" for h in range(0, 24, 3)).rstrip()]
    for name, row in zip(weekdays, heatmap, strict=True):
        cells = []
        for value in row:
            if value is None:
                cells.append("·")
            else:
                level = 1 + int((len(shades) - 2) * value / top) if top else 1
                cells.append(shades[min(level, len(shades) - 1)])
        lines.append(f"{name:<5}" + "".join(cells))
    return lines
