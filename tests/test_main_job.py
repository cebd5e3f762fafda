"""scripts/main-job.sh: installs only when the project's metadata changed, and removes its
throw-away home (which holds a key) unless KEEP_HOME=1."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _checkout(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the script in a folder shaped like a clone, whose .venv runs this
    Python and only records pip installs (nothing is installed for real)."""
    repo = tmp_path / "clone"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "main-job.sh", repo / "scripts" / "main-job.sh")
    shutil.copy(ROOT / "pyproject.toml", repo / "pyproject.toml")
    bin_dir = repo / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    installs = tmp_path / "pip.log"
    python = bin_dir / "python"
    python.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo "$@" >> "{installs}"; exit 0; fi\n'
        f'exec "{sys.executable}" "$@"\n'
    )
    autopostr = bin_dir / "autopostr"
    autopostr.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m autopostr "$@"\n')
    python.chmod(0o755)
    autopostr.chmod(0o755)
    return repo, installs


def _run(repo: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "AUTOPOSTR_HOME"}
    full.update(env)
    return subprocess.run(
        ["bash", str(repo / "scripts" / "main-job.sh")],
        capture_output=True,
        text=True,
        env=full,
        timeout=300,
    )


@pytest.mark.slow
def test_main_job_reuses_the_venv_and_removes_its_home(tmp_path: Path) -> None:
    repo, installs = _checkout(tmp_path)
    first = _run(repo)
    assert first.returncode == 0, first.stderr
    home = Path(re.search(r"Published to (\S+)/sandbox/demo\.jsonl", first.stdout).group(1))  # type: ignore[union-attr]
    assert not home.exists()  # the throw-away home and its key are gone
    assert len(installs.read_text().splitlines()) == 1

    kept = _run(repo, KEEP_HOME="1")
    assert kept.returncode == 0, kept.stderr
    assert len(installs.read_text().splitlines()) == 1  # current: not installed again
    match = re.search(r"Kept the home \(with its key\) in (\S+)", kept.stdout + kept.stderr)
    assert match and Path(match.group(1)).is_dir()
    shutil.rmtree(match.group(1))

    (repo / "pyproject.toml").write_text(
        (repo / "pyproject.toml").read_text() + "\n# changed\n", encoding="utf-8"
    )
    assert _run(repo).returncode == 0
    assert len(installs.read_text().splitlines()) == 2  # metadata changed: installed again
