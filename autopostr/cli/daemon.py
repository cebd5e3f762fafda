"""`autopostr daemon`: publish what is due."""

from __future__ import annotations

import typer

from autopostr.cli.common import JSON_OPTION, settings

app = typer.Typer(help="The publishing daemon.", no_args_is_help=True)


@app.command("run")
def run(
    once: bool = typer.Option(
        False, "--once", help="Publish everything due now, then exit (for cron)."
    ),
    concurrency: int = typer.Option(
        4, "--concurrency", min=1, max=64, help="Publish calls in parallel."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Publish due posts. With --once: everything due now, then exit.

    Exits 6 when any destination failed for good in this run.

    \b
    Example (crontab, every minute):
      * * * * * autopostr daemon run --once >> ~/autopostr.log 2>&1
    """
    from autopostr.cli import output
    from autopostr.cli.common import database
    from autopostr.errors import UsageError
    from autopostr.publishing import Outcome, outcome_json, publish_due

    if not once:
        raise UsageError("only `autopostr daemon run --once` is available in this version")

    def report(outcome: Outcome) -> None:
        if as_json:
            return
        if outcome.status == "published":
            output.info(
                f"post {outcome.post_id} → {outcome.account}: published {outcome.url or ''}"
            )
        else:
            output.warn(
                f"post {outcome.post_id} → {outcome.account}: {outcome.status}: {outcome.error}"
            )

    s = settings()
    outcomes = publish_due(database(s), s, concurrency=concurrency, on_outcome=report)
    if as_json:
        output.print_json([outcome_json(o) for o in outcomes])
    else:
        published = sum(1 for o in outcomes if o.status == "published")
        output.info(f"{published} published, {len(outcomes) - published} not published")
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(6)
