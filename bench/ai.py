"""How long `autopostr ai caption` takes from its process's start to its request reaching
the AI server: the CLI's own overhead (start-up, imports, sign-in, the rate-limit
record), measured against a local fake OpenAI-compatible server.

Run: .venv/bin/python bench/ai.py [--runs 10] [--pg URL]
Each run is a fresh process in a throw-away home on SQLite (or the PostgreSQL at --pg).

The autopostr measured is the one beside the Python that runs this script. The
development environment holds aiohttp (localstripe, a test dependency, needs it), and
the openai client imports its aiohttp transport whenever aiohttp is installed: ~160 ms
more than a user's `pip install autopostr` pays. For the user's figure, run it with the
Python of a venv holding only autopostr:

    python3 -m venv /tmp/user && /tmp/user/bin/pip install . && /tmp/user/bin/python bench/ai.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.openai_server import FakeOpenAI  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--pg", default="", help="a PostgreSQL database URL to use instead")
    args = parser.parse_args()
    script = Path(sys.executable).with_name("autopostr")
    autopostr = str(script) if script.exists() else (shutil.which("autopostr") or "autopostr")
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI(key=None) as fake:
        env = {
            **os.environ,
            "AUTOPOSTR_HOME": f"{tmp}/home",
            "AUTOPOSTR_CONFIG": f"{tmp}/config.toml",
            "AUTOPOSTR_KEYRING": "off",
            "AUTOPOSTR_AI_BASE_URL": fake.url,
            "AUTOPOSTR_AI_REQUESTS_PER_MINUTE": "100000",
        }
        if args.pg:
            env["AUTOPOSTR_DATABASE_URL"] = args.pg
        subprocess.run([autopostr, "init"], env=env, capture_output=True, check=True)
        argv = [autopostr, "ai", "caption", "--topic", "espresso"]
        subprocess.run(argv, env=env, capture_output=True, check=True)  # warm the page cache
        reach, whole = [], []
        for _ in range(args.runs):
            seen = len(fake.completions())
            start = time.time()
            subprocess.run(argv, env=env, capture_output=True, check=True)
            whole.append(time.time() - start)
            reach.append(fake.completions()[seen].at - start)
    import importlib.util

    aiohttp = importlib.util.find_spec("aiohttp") is not None
    print(
        f"autopostr ai caption, {args.runs} runs, {'PostgreSQL' if args.pg else 'SQLite'}, "
        f"aiohttp {'installed (a development environment)' if aiohttp else 'not installed'}"
    )
    print(f"{'':28} {'min ms':>8} {'median ms':>10}")
    for name, samples in (("start to request", reach), ("whole command", whole)):
        print(f"{name:28} {min(samples) * 1000:>8.0f} {statistics.median(samples) * 1000:>10.0f}")


if __name__ == "__main__":
    main()
