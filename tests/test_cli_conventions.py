"""PRODUCT §2 conventions: streams, one-line errors, exit codes, --debug, colour, start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autopostr import __version__
from tests.helpers import Cli, run_autopostr

HEAVY_MODULES = (
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "openai",
    "stripe",
    "authlib",
    "httpx",
    "httpx2",
    "psycopg",
    "regex",
    "twitter_text",
)


def test_version_from_the_real_entry_point() -> None:
    for args in (["--version"], ["-V"], ["version"], ["--debug", "--version"]):
        proc = run_autopostr(*args)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == f"autopostr {__version__}\n"
        assert proc.stderr == ""


def test_version_json(cli: Cli) -> None:
    assert cli.ok("version", "--json").json() == {"version": __version__}


def _imported_modules_for(argv: list[str], extra_env: dict[str, str] | None = None) -> set[str]:
    code = (
        "import sys, json\n"
        f"sys.argv = {['autopostr', *argv]!r}\n"
        "from autopostr.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write('\\nMODULES=' + json.dumps(sorted(sys.modules)))\n"
    )
    env = {**os.environ, **(extra_env or {})}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    marker = proc.stderr.rsplit("MODULES=", 1)
    assert len(marker) == 2, proc.stderr
    return set(json.loads(marker[1]))


@pytest.mark.parametrize(
    "argv", [["--version"], ["--help"], ["auth", "--help"], ["keys", "rotate", "--help"]]
)
def test_fast_paths_import_no_heavy_library(argv: list[str]) -> None:
    modules = _imported_modules_for(argv)
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY_MODULES)
    assert heavy == []


def test_shell_completion_imports_no_heavy_library() -> None:
    modules = _imported_modules_for(
        [],
        {"_AUTOPOSTR_COMPLETE": "complete_bash", "COMP_WORDS": "autopostr au", "COMP_CWORD": "1"},
    )
    assert not [m for m in modules if m.split(".")[0] in HEAVY_MODULES]


def test_completion_answers_from_the_real_program() -> None:
    env = {
        **os.environ,
        "_AUTOPOSTR_COMPLETE": "complete_bash",
        "COMP_WORDS": "autopostr au",
        "COMP_CWORD": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "autopostr"], capture_output=True, text=True, env=env, timeout=60
    )
    assert "auth" in proc.stdout.split()


def test_errors_are_one_line_without_traceback(cli: Cli) -> None:
    run = cli("auth", "whoami")
    assert run.exit_code == 5
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")


def test_debug_flag_and_env_show_the_traceback() -> None:
    plain = run_autopostr("auth", "whoami")
    assert plain.returncode == 5 and "Traceback" not in plain.stderr
    flagged = run_autopostr("--debug", "auth", "whoami")
    assert flagged.returncode != 0 and "Traceback" in flagged.stderr
    env = run_autopostr("auth", "whoami", env={"AUTOPOSTR_DEBUG": "1"})
    assert env.returncode != 0 and "SchemaMissing" in env.stderr


def test_usage_errors_exit_2(cli: Cli) -> None:
    assert cli("no-such-command").exit_code == 2
    assert cli("auth", "login", "--email", "a@b.c", "--password", "x").exit_code == 2
    assert cli("auth", "revoke", "not-a-number").exit_code == 2


def test_json_output_is_one_document_on_stdout(cli: Cli) -> None:
    run = cli.ok("init", "--json")
    assert isinstance(json.loads(run.stdout), dict)
    doctor = cli.ok("doctor", "--json")
    assert isinstance(json.loads(doctor.stdout), list)


def test_no_color_and_pipes_have_no_escape_codes() -> None:
    proc = run_autopostr("doctor", env={"NO_COLOR": "1"})
    assert "\x1b[" not in proc.stdout + proc.stderr
    piped = run_autopostr("doctor", env={"NO_COLOR": ""})
    assert "\x1b[" not in piped.stdout + piped.stderr


def test_not_writable_home_is_exit_4_and_creates_nothing(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    run = cli("init", env={"AUTOPOSTR_HOME": str(blocker / "home")})
    assert run.exit_code == 4
    assert run.stderr.startswith("Error: ") and "AUTOPOSTR_HOME" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert blocker.read_text() == "not a folder"


def test_config_path_that_is_a_folder_is_a_config_error(cli: Cli, tmp_path: Path) -> None:
    # A config path that is a directory is a config error (5), not a crash.
    folder = tmp_path / "cfgdir"
    folder.mkdir()
    run = cli("config", "show", env={"AUTOPOSTR_CONFIG": str(folder)})
    assert run.exit_code == 5 and "is a directory" in run.stderr


def test_python_dash_m_runs_the_cli() -> None:
    proc = run_autopostr("--help")
    assert proc.returncode == 0
    assert "Usage: autopostr" in proc.stdout
    for group in ("init", "doctor", "auth", "config", "db", "keys"):
        assert group in proc.stdout
