"""`autopostr schedule simulate`: what the queues, series, evergreen pool and pauses
will produce, written nowhere."""

from __future__ import annotations

from typing import Any

import typer

from autopostr.cli.common import JSON_OPTION, signed_in

app = typer.Typer(help="See exactly when everything will go out.", no_args_is_help=True)


def _render(rows: list[dict[str, Any]]) -> None:
    from autopostr.cli import output

    output.print_table(
        [
            {
                **r,
                "local": r["local"][:16].replace("T", " ") + r["local"][19:],
                "post": r["post"] or "(to be made)",
                "text": (r["text"] or "")[:40],
            }
            for r in rows
        ],
        [
            ("at", "UTC"),
            ("local", "Local"),
            ("account", "Account"),
            ("source", "Source"),
            ("post", "Post"),
            ("text", "Text"),
        ],
        empty="Nothing goes out in this period.",
    )


@app.command("simulate")
def simulate(
    start: str = typer.Option(..., "--from", help="A date or WHEN: the start."),
    end: str = typer.Option(..., "--until", help="A date (to its end) or WHEN."),
    account: str = typer.Option("", "--account", help="Only this account."),
    tz: str = typer.Option("", "--tz", help="Zone for dates without an offset (default: yours)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Print the exact instants (UTC and the account's local time) that queues,
    recurring series, the evergreen pool, pauses and DST produce; changes nothing.

    \b
    Examples:
      autopostr schedule simulate --from 2026-03-23 --until 2026-04-05
      autopostr schedule simulate --from 2026-10-20 --until 2026-10-31 --account x:acme --json
    """
    from autopostr.cli import output
    from autopostr.cli.queue import when_or_date
    from autopostr.errors import InvalidInput
    from autopostr.schedule.simulate import simulate as run
    from autopostr.views import planned_json

    with signed_in() as (session, actor):
        starts = when_or_date(start, session, actor, tz, None, "--from", False)
        ends = when_or_date(end, session, actor, tz, None, "--until", True)
        if ends <= starts:
            raise InvalidInput("--until: the period must end after it starts")
        rows = [planned_json(p) for p in run(session, actor, starts, ends, account or None)]
        session.rollback()
    output.emit(rows, as_json, _render)
