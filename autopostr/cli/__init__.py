"""The `autopostr` command line. `main()` answers `--version` before loading Typer
so that scripts probing the version pay only for the interpreter's start-up.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        from autopostr import __version__

        sys.stdout.write(f"autopostr {__version__}\n")
        return
    import os

    # Pydantic (under SQLModel and Typer's typed options) looks for plugins among every
    # installed distribution's entry points on first use: ~60 ms of each command for
    # plugins (tracing, linting) a command line does not use. A user who wants one sets
    # PYDANTIC_DISABLE_PLUGINS themselves (to a name list, or empty) and keeps it.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from autopostr.cli.app import app

    app(prog_name="autopostr")
