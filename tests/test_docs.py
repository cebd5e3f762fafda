"""Help is documentation: every command has help, the README lists it, completions are fresh."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> Iterator[tuple[str, object]]:
    import typer.main

    from autopostr.cli.app import app

    def walk(command: object, path: str) -> Iterator[tuple[str, object]]:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                yield from walk(sub, f"{path} {name}".strip())
        else:
            yield path, command

    yield from walk(typer.main.get_command(app), "")


COMMANDS = sorted(path for path, _ in _commands())


def test_there_are_commands_to_check() -> None:
    assert {"init", "doctor", "auth login", "auth token create", "keys rotate"} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS)
def test_every_command_has_help(path: str) -> None:
    command = dict(_commands())[path]
    help_text = getattr(command, "help", None) or ""
    assert help_text.strip(), f"`autopostr {path}` has no help text"
    assert "Example" in help_text, f"`autopostr {path}` --help shows no example"


@pytest.mark.parametrize("path", COMMANDS)
def test_readme_documents_every_command(path: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"`autopostr {path}`" in readme, f"README.md lacks `autopostr {path}`"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_are_fresh(shell: str) -> None:
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "autopostr", "--show-completion", shell],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    stored = (ROOT / "completions" / f"autopostr.{shell}").read_text(encoding="utf-8")
    assert proc.stdout == stored, "completions/ is stale: run scripts/update-completions.sh"


def _configuration_table() -> set[str]:
    """The variables the first column of the README's configuration table names."""
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for cell in cells for name in re.findall(r"`(AUTOPOSTR_[A-Z0-9_<>]+)`", cell)}


def _declared_variables() -> list[str]:
    from autopostr.config import KNOWN_SETTINGS, SETTING_FAMILIES

    return sorted(f"AUTOPOSTR_{name.upper()}" for name in [*KNOWN_SETTINGS, *SETTING_FAMILIES])


@pytest.mark.parametrize("variable", _declared_variables())
def test_readme_configuration_table_lists_every_setting(variable: str) -> None:
    assert variable in _configuration_table(), f"README.md's configuration table lacks {variable}"


def test_readme_configuration_table_lists_no_setting_that_is_gone() -> None:
    stale = _configuration_table() - set(_declared_variables()) - {"AUTOPOSTR_CONFIG"}
    assert not stale, (
        f"README.md's configuration table names settings autopostr never reads: {stale}"
    )
