"""`autopostr daemon`: publish what is due, and see who is publishing."""

from __future__ import annotations

from typing import Any

import typer

from autopostr.cli import options
from autopostr.cli.common import JSON_OPTION, settings

app = typer.Typer(help="The publishing daemon: run it, see it, install it.", no_args_is_help=True)


@app.command("run")
def run(
    once: bool = typer.Option(
        False, "--once", help="Publish everything due now, then exit (for cron)."
    ),
    concurrency: int | None = typer.Option(
        None,
        "--concurrency",
        min=1,
        max=4096,
        help="Publish calls in flight at once (default: publish_concurrency, 256; --once: 8).",
    ),
    quiet: bool = options.quiet_option(),
    log_format: str = typer.Option(
        "",
        "--log-format",
        help="text or json (one object per line); default AUTOPOSTR_LOG_FORMAT, else text.",
        show_default=False,
    ),
    metrics: str = typer.Option(
        "",
        "--metrics",
        metavar="HOST:PORT",
        help="Serve /metrics, /healthz and /readyz there (default AUTOPOSTR_METRICS, else off).",
        show_default=False,
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Publish due posts: in the foreground until SIGTERM, or --once for cron.

    Any number of daemons may share one PostgreSQL; nothing is published twice.
    On SIGTERM/SIGINT it stops claiming, lets in-flight calls finish and exits 0.
    With --once it first runs the schedule job once (series, evergreen, feeds), and
    exits 6 when any destination failed for good. It exits 5 at
    once when this machine's keys cannot open the database's secrets.

    \b
    Examples:
      autopostr daemon run --log-format json --metrics 127.0.0.1:9464
      * * * * * autopostr daemon run --once --quiet
    """
    import logging

    from autopostr import logsetup
    from autopostr.cli import output
    from autopostr.cli.common import database
    from autopostr.keys import load_keyset, require_database_key
    from autopostr.platforms.base import raise_for_results
    from autopostr.publishing import publish_due
    from autopostr.states import DestinationState
    from autopostr.views import outcome_json

    s = settings()
    # Forever: the log is the daemon's voice, warnings included. --once: outcomes are
    # reported below and warnings are the CLI's `Warning:` lines (silenced by --quiet),
    # so the log's stderr only gets errors; the log file (if any) gets everything.
    if not once:
        output.unroute_warnings()
    logsetup.configure(
        s,
        fmt=log_format or None,
        level=logging.DEBUG if s.debug else logging.INFO,
        stream_level=None if not once else logging.ERROR,
    )
    db = database(s)
    # A key that cannot open the database's secrets would make every destination wait:
    # say so now, with the fix, rather than start.
    require_database_key(db, load_keyset(s))
    if not once:
        import os
        import sys

        from autopostr.daemon.runner import run_forever

        left = run_forever(s, db, concurrency, metrics=metrics or s.get("metrics") or None)
        if left:
            # Calls still running past the grace period are recovered by other daemons.
            sys.stderr.flush()
            os._exit(0)
        return

    from autopostr.daemon.runner import refuse_damaged

    refuse_damaged(db)

    from autopostr.daemons import record_cron_run
    from autopostr.models import utcnow
    from autopostr.queue.claims import new_worker_id

    started, worker = utcnow(), new_worker_id()
    _schedule_once(db, s)
    # People see each outcome as it comes; a script reads them all in the one document.
    outcomes = publish_due(
        db,
        s,
        worker=worker,
        concurrency=concurrency or 8,
        on_outcome=None if as_json else lambda o: _report(outcome_json(o)),
    )
    record_cron_run(db, worker, started)
    output.emit([outcome_json(o) for o in outcomes], as_json, _summary)
    raise_for_results(failed=any(o.status == DestinationState.FAILED for o in outcomes))


def _schedule_once(db: Any, s: Any) -> None:
    """What the running daemon's schedule job does, once, before publishing: series'
    posts within the horizon, evergreen picks within the lead time, due feeds."""
    from autopostr.cli import output
    from autopostr.schedule.tick import run_job

    try:
        run_job(db, s)
    except Exception as exc:  # publishing what is due matters more
        output.warn(f"the schedule job failed: {exc}")


def _report(outcome: dict[str, Any]) -> None:
    from autopostr.cli import output
    from autopostr.states import DestinationState

    where = f"post {outcome['post']} → {outcome['account']}"
    if outcome["status"] == DestinationState.PUBLISHED:
        output.info(f"{where}: published {outcome['url'] or ''}")
    else:
        final = outcome["status"] != DestinationState.RETRYING
        output.warn(f"{where}: {outcome['status']}: {outcome['error']}", even_quiet=final)


def _summary(outcomes: list[dict[str, Any]]) -> None:
    from autopostr.cli import output
    from autopostr.states import DestinationState

    published = sum(1 for o in outcomes if o["status"] == DestinationState.PUBLISHED)
    output.info(f"{published} published, {len(outcomes) - published} not published")


@app.command("status")
def status(
    show_all: bool = typer.Option(False, "--all", help="Also daemons that stopped or went silent."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List live daemons from their heartbeats (host, pid, started, last beat, in flight).

    \b
    Example:
      autopostr daemon status --json
    """
    from autopostr.cli import output
    from autopostr.cli.common import database
    from autopostr.daemons import list_daemons
    from autopostr.views import daemon_json

    s = settings()
    rows = [daemon_json(d.row, d.state) for d in list_daemons(database(s), s, show_all)]
    output.emit(rows, as_json, _show_daemons)


def _show_daemons(rows: list[dict[str, Any]]) -> None:
    from autopostr.cli import output

    output.print_table(
        rows,
        [
            ("id", "Daemon"),
            ("host", "Host"),
            ("pid", "PID"),
            ("state", "State"),
            ("started_at", "Started"),
            ("heartbeat_at", "Last heartbeat"),
            ("in_flight", "In flight"),
        ],
        empty="No daemon is running. Start one with `autopostr daemon run`.",
    )


@app.command("systemd-unit")
def systemd_unit(
    user: bool = typer.Option(
        False, "--user", help="A user unit (~/.config/systemd/user) instead of a system one."
    ),
    env_file: str = typer.Option(
        "", "--env-file", help="An EnvironmentFile= with AUTOPOSTR_* settings."
    ),
) -> None:
    """Print a systemd unit (Type=notify, watchdog, restart on failure) for the daemon.

    \b
    Examples:
      autopostr daemon systemd-unit --user > ~/.config/systemd/user/autopostr.service
      autopostr daemon systemd-unit | sudo tee /etc/systemd/system/autopostr.service
    """
    import shutil
    import sys

    from autopostr.cli import output
    from autopostr.daemon.systemd import unit_file

    executable = shutil.which("autopostr") or f"{sys.executable} -m autopostr"
    output.print_line(
        unit_file(executable, user=user, environment_file=env_file or None).rstrip("\n")
    )
