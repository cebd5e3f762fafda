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
    from autopostr.cli import output
    from autopostr.views import settings_json

    s = settings()

    def render(rows: list[dict[str, str]]) -> None:
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

    output.emit(settings_json(s), as_json, render)


@app.command("path")
def path(as_json: bool = JSON_OPTION) -> None:
    """Print the config file's path (it need not exist).

    \b
    Example:
      $EDITOR "$(autopostr config path)"
    """
    from autopostr.cli import output
    from autopostr.views import config_path_json

    output.emit(config_path_json(settings()), as_json, lambda d: output.print_line(d["config"]))
