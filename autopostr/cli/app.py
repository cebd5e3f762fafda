"""The `autopostr` Typer app: mounts one Typer app per command group.

Only Typer loads at start-up; every command imports what it needs (SQLAlchemy,
clients) inside its body so `--help`, `--version` and completion stay fast.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from autopostr import __version__
from autopostr.cli import (
    accounts,
    ai,
    analytics,
    ascode,
    auth,
    billing,
    calendar,
    config_cmd,
    daemon,
    dashboard,
    db_cmd,
    feeds,
    keys_cmd,
    logs,
    media,
    posts,
    queue,
    schedule,
    setup_cmd,
    team,
)


class AutopostrGroup(TyperGroup):
    """Turns every error into one `Error:` line and its exit code (PRODUCT §2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from autopostr.cli.options import conventions

        conventions(self)  # metavars and value completion, the same in every group

    def invoke(self, ctx: Any) -> Any:
        from autopostr.errors import AutopostrError, ExitCode, Reported

        try:
            return super().invoke(ctx)
        except Reported as exc:
            ctx.exit(int(exc.exit_code))  # what went wrong is on the screen already
        except AutopostrError as exc:
            if _debug(ctx):
                raise
            from autopostr.cli import output

            output.error(exc.message)
            ctx.exit(int(exc.exit_code))
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            # Typer's own usage errors (exit 2) are its to print.
            if _debug(ctx) or isinstance(exc, typer.TyperException):
                raise
            from autopostr.cli import output

            if _is_database_error(exc, "OperationalError"):
                output.error(f"the database failed: {_first_line(exc)}")
                ctx.exit(int(ExitCode.EXTERNAL))
            if _is_database_error(exc, "IntegrityError"):
                # Two commands raced for the same unique value; the loser changed nothing.
                output.error(
                    f"conflict with a concurrent change, nothing was saved: {_first_line(exc)}"
                )
                ctx.exit(int(ExitCode.INVALID))
            from autopostr import reporting

            reporting.report(exc, "cli")  # with SENTRY_DSN and the sentry extra
            reporting.flush()
            output.error(
                f"unexpected {type(exc).__name__}: {_first_line(exc)}. "
                "Run again with --debug for the traceback"
            )
            ctx.exit(int(ExitCode.UNEXPECTED))


def _debug(ctx: Any) -> bool:
    flag = os.environ.get("AUTOPOSTR_DEBUG", "").lower() in {"1", "true", "yes", "on"}
    return flag or bool(ctx.obj and ctx.obj.get("debug"))


def _is_database_error(exc: Exception, name: str) -> bool:
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    return sqlalchemy_exc is not None and isinstance(exc, getattr(sqlalchemy_exc, name))


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


app = typer.Typer(
    name="autopostr",
    cls=AutopostrGroup,
    help="Schedule and publish social-media posts from your terminal.\n\n"
    "\b\nExample:\n"
    "  autopostr init\n"
    "  autopostr accounts add sandbox --handle demo\n"
    '  autopostr posts create --to sandbox:demo --text "Hello" --at +1h\n'
    "  autopostr daemon run",
    epilog="Start with `autopostr init`, then `autopostr doctor`. Docs: README.md.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        sys.stdout.write(f"autopostr {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    quiet: bool = typer.Option(
        False, "-q", "--quiet", help="Print only errors, whatever the command (for cron)."
    ),
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_version_callback,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Schedule and publish social-media posts from your terminal.

    Example: autopostr init && autopostr doctor
    """
    from autopostr.cli import output

    output.reset_consoles()
    output.set_quiet(quiet)
    output.route_warnings()
    ctx.obj = {"debug": debug}


setup_cmd.register(app)
ascode.register(app)
app.add_typer(auth.app, name="auth")
app.add_typer(config_cmd.app, name="config")
app.add_typer(db_cmd.app, name="db")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(accounts.app, name="accounts")
app.add_typer(posts.app, name="posts")
app.add_typer(team.app, name="team")
app.add_typer(media.app, name="media")
app.add_typer(ai.app, name="ai")
app.add_typer(calendar.app, name="calendar")
app.add_typer(queue.app, name="queue")
app.add_typer(feeds.app, name="feeds")
app.add_typer(schedule.app, name="schedule")
dashboard.register(app)
app.add_typer(analytics.app, name="analytics")
app.add_typer(billing.app, name="billing")
app.add_typer(daemon.app, name="daemon")
logs.register(app)
