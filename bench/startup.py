"""Median wall time of `autopostr --version`, `autopostr --help` and `python -c pass`.

Run: .venv/bin/python bench/startup.py [--runs 30]
Each command runs in a fresh process, as a shell or a completion keystroke runs it.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def median_ms(argv: list[str], runs: int) -> tuple[float, float]:
    subprocess.run(argv, capture_output=True, check=False)  # warm the page cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    script = Path(sys.executable).with_name("autopostr")
    autopostr = str(script) if script.exists() else (shutil.which("autopostr") or "autopostr")
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "autopostr --version": [autopostr, "--version"],
        "autopostr --help": [autopostr, "--help"],
        "autopostr auth --help": [autopostr, "auth", "--help"],
    }
    print(
        f"{'command':<24} {'median ms':>10} {'min ms':>8}   ({args.runs} runs, {sys.version.split()[0]})"
    )
    for name, argv in cases.items():
        median, fastest = median_ms(argv, args.runs)
        print(f"{name:<24} {median:>10.1f} {fastest:>8.1f}")


if __name__ == "__main__":
    main()
