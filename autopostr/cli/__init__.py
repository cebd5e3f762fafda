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
    from autopostr.cli.app import app

    app(prog_name="autopostr")
