"""`autopostr config`: where settings come from."""

from __future__ import annotations

import typer

from autopostr.cli.common import JSON_OPTION, settings

app = typer.Typer(help="Show settings and where each comes from.", no_args_is_help=True)


@app.command("show")
def show(as_json: bool = JSON_OPTION) -> None:
    """Show every setting with its source (env, file or default); secrets are masked.

    \b
    Example:
      autopostr config show --json
    """
    from dataclasses import asdict

    from autopostr.cli import output
    from autopostr.config import listing

    s = settings()
    rows = [asdict(item) for item in listing(s)]
    if as_json:
        output.print_json(rows)
    else:
        output.print_table(
            rows,
            [
                ("name", "Setting"),
                ("value", "Value"),
                ("source", "Source"),
                ("description", "About"),
            ],
        )
        output.info(f"Config file: {s.config_path} ({s.config_source})")


@app.command("path")
def path(as_json: bool = JSON_OPTION) -> None:
    """Print the config file's path (it need not exist).

    \b
    Example:
      $EDITOR "$(autopostr config path)"
    """
    from autopostr.cli import output

    s = settings()
    if as_json:
        output.print_json(
            {"config": str(s.config_path), "exists": s.config_path.exists(), "home": str(s.home)}
        )
    else:
        output.print_line(str(s.config_path))
