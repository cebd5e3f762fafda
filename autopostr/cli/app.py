"""The `autopostr` Typer app: mounts one Typer app per command group.

Only Typer loads at start-up; every command imports what it needs (SQLAlchemy,
clients) inside its body so `--help`, `--version` and completion stay fast. A command
line that names its group (`autopostr posts list`) builds only that group: Typer turns
every function of every group into a Click command on each run (~40 ms for all of them).
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from autopostr import __version__


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


def _version_callback(value: bool) -> None:
    if value:
        sys.stdout.write(f"autopostr {__version__}\n")
        raise typer.Exit()


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


# The root's own commands by module (each module's `register` adds them), then the
# groups, in the order `autopostr --help` lists them.
ROOT_COMMANDS = {
    "setup_cmd": ("init", "doctor", "version"),
    "ascode": ("plan", "apply", "export-dir"),
    "dashboard": ("dashboard",),
    "logs": ("logs",),
}
GROUPS = {
    "auth": "auth",
    "config": "config_cmd",
    "db": "db_cmd",
    "keys": "keys_cmd",
    "accounts": "accounts",
    "posts": "posts",
    "team": "team",
    "media": "media",
    "ai": "ai",
    "calendar": "calendar",
    "queue": "queue",
    "feeds": "feeds",
    "schedule": "schedule",
    "analytics": "analytics",
    "billing": "billing",
    "daemon": "daemon",
}
ROOT_FLAGS = frozenset({"--debug", "-q", "--quiet"})


def named_part(argv: Sequence[str]) -> str | None:
    """The command or group an argument list runs, when it names a known one before any
    other option: only then may the rest of the app stay unbuilt (a help screen, a
    completion request or a mistyped name needs all of it)."""
    for arg in argv:
        if arg in ROOT_FLAGS:
            continue
        if arg in GROUPS or any(arg in names for names in ROOT_COMMANDS.values()):
            return arg
        return None
    return None


def build(only: str | None = None) -> typer.Typer:
    """The app with every command, or with only the command or group named `only`."""
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
    app.callback()(root)
    for module, names in ROOT_COMMANDS.items():
        if only is None or only in names:
            _part(module).register(app)
    for name, module in GROUPS.items():
        if only is None or only == name:
            app.add_typer(_part(module).app, name=name)
    return app


def _part(module: str) -> Any:
    return importlib.import_module(f"autopostr.cli.{module}")


@functools.cache
def _whole() -> typer.Typer:
    return build()


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole app, for tests and documentation
        return _whole()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
