"""The `autopostr` command line. `main()` answers `--version` before loading Typer
so that scripts probing the version pay only for the interpreter's start-up.

Start-up makes a few hundred thousand objects that live as long as the process
(modules, classes, SQLAlchemy's tables and mappers). The cycle collector would walk
them again and again while they are made, and once more at exit, finding nothing to
free: a quarter of a short command's CPU. So it stays off until the command opens the
database (`cli.common.database`: start-up is over, what it made is frozen out of the
collector's sight and collection resumes), and at exit everything is frozen.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        from autopostr import __version__

        sys.stdout.write(f"autopostr {__version__}\n")
        return
    import gc
    import os

    # Pydantic (under SQLModel and Typer's typed options) looks for plugins among every
    # installed distribution's entry points on first use: ~60 ms of each command for
    # plugins (tracing, linting) a command line does not use. A user who wants one sets
    # PYDANTIC_DISABLE_PLUGINS themselves (to a name list, or empty) and keeps it.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    gc.disable()
    try:
        from autopostr.cli.app import build, named_part

        build(named_part(sys.argv[1:]))(prog_name="autopostr")
    finally:
        gc.freeze()
