"""Start-up cost of everyday commands beside `python -c "import sqlmodel"`.

Run: .venv/bin/python bench/startup.py [--runs 15]

Each command runs in a fresh process, as a shell or a completion keystroke runs it:
`autopostr --version`, `--help`, group `--help` screens, and `posts list --json` against
a small SQLite database (a fresh home with one account and ten posts). For each: the
median wall time, and the median CPU time (user + system of the child), which a busy
machine disturbs far less than wall time. The last column is the CPU time against
`import sqlmodel` (targets: `posts list --json` at most 1.3x; group --help under 0.3 s).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(argv: list[str], runs: int, env: dict[str, str]) -> tuple[float, float]:
    """Median wall and CPU milliseconds."""
    subprocess.run(argv, capture_output=True, check=False, env=env)  # warm the page cache
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False, env=env)
        walls.append((time.perf_counter() - start) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    script = Path(sys.executable).with_name("autopostr")
    autopostr = str(script) if script.exists() else (shutil.which("autopostr") or "autopostr")
    with tempfile.TemporaryDirectory(prefix="autopostr-startup-") as home:
        env = {**os.environ, "AUTOPOSTR_HOME": home, "AUTOPOSTR_KEYRING": "off", "NO_COLOR": "1"}
        for name in ("AUTOPOSTR_DATABASE_URL", "AUTOPOSTR_TOKEN", "AUTOPOSTR_CONFIG"):
            env.pop(name, None)
        for setup in (["init"], ["accounts", "add", "sandbox", "--handle", "demo"]):
            subprocess.run([autopostr, *setup], capture_output=True, check=True, env=env)
        for n in range(10):
            subprocess.run(
                [autopostr, "posts", "create", "--to", "sandbox:demo", "--text", f"post {n}"],
                capture_output=True,
                check=True,
                env=env,
            )
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            'python -c "import sqlmodel"': [sys.executable, "-c", "import sqlmodel"],
            "autopostr --version": [autopostr, "--version"],
            "autopostr --help": [autopostr, "--help"],
            "autopostr posts --help": [autopostr, "posts", "--help"],
            "autopostr ai --help": [autopostr, "ai", "--help"],
            "autopostr daemon --help": [autopostr, "daemon", "--help"],
            "autopostr posts list --json": [autopostr, "posts", "list", "--json"],
        }
        results = {name: measure(argv, args.runs, env) for name, argv in cases.items()}
    base = results['python -c "import sqlmodel"'][1]
    print(
        f"{'command':<30} {'wall ms':>8} {'CPU ms':>8} {'CPU x sqlmodel':>15}   "
        f"({args.runs} runs, Python {sys.version.split()[0]}, "
        f"load average {os.getloadavg()[0]:.1f})"
    )
    for name, (wall, cpu) in results.items():
        print(f"{name:<30} {wall:>8.0f} {cpu:>8.0f} {cpu / base:>15.2f}")


if __name__ == "__main__":
    main()
