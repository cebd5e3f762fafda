"""CSV import throughput on SQLite and PostgreSQL, and `posts list --json` with 10k posts.

Run: .venv/bin/python bench/import.py [--rows 100000] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
Each engine gets a fresh home/database; the real CLI is timed as a user runs it.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "accounts", "at", "timezone", "status", "external_id"])
        for i in range(rows):
            day = 1 + i % 28
            hour = i % 24
            accounts = "sandbox:alpha" if i % 3 else "sandbox:alpha;sandbox:beta"
            writer.writerow(
                [
                    f"Post number {i}: a typical update with a link https://example.com/{i} #news",
                    accounts,
                    f"2031-{1 + i % 12:02d}-{day:02d} {hour:02d}:{i % 60:02d}",
                    "Europe/Berlin",
                    "scheduled" if i % 10 else "draft",
                    f"bench-{i}",
                ]
            )


def cli(env: dict[str, str], *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "autopostr", *args], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"autopostr {' '.join(args)} failed: {proc.stderr}")
    return elapsed, proc


def run_engine(
    name: str, database_url: str | None, csv_path: Path, rows: int, list_rows: int
) -> None:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "AUTOPOSTR_HOME": home, "AUTOPOSTR_KEYRING": "off", "NO_COLOR": "1"}
        env.pop("AUTOPOSTR_TOKEN", None)
        if database_url:
            env["AUTOPOSTR_DATABASE_URL"] = database_url
        cli(env, "init")
        cli(env, "accounts", "add", "sandbox", "--handle", "alpha")
        cli(env, "accounts", "add", "sandbox", "--handle", "beta")
        elapsed, _ = cli(env, "posts", "import", str(csv_path))
        print(f"{name:<11} import {rows:>7} rows: {elapsed:6.2f} s  {rows / elapsed:>9,.0f} rows/s")
        again, proc = cli(env, "posts", "import", str(csv_path), "--json")
        print(f"{name:<11} re-import (all skipped): {again:6.2f} s  {rows / again:>9,.0f} rows/s")
        timings = []
        for _ in range(3):
            took, proc = cli(env, "posts", "list", "--json", "--limit", str(list_rows))
            timings.append(took)
        count = proc.stdout.count('"destinations"')
        print(f"{name:<11} posts list --json ({count} posts): best {min(timings):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--list-rows", type=int, default=10_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "bench.csv"
        make_csv(csv_path, args.rows)
        print(f"{args.rows} rows, {csv_path.stat().st_size / 1e6:.1f} MB CSV")
        run_engine("sqlite", None, csv_path, args.rows, args.list_rows)
        import psycopg

        dbname = f"autopostr_bench_{secrets.token_hex(3)}"
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{dbname}"')
        try:
            base = args.pg.rsplit("/", 1)[0]
            run_engine("postgresql", f"{base}/{dbname}", csv_path, args.rows, args.list_rows)
        finally:
            with psycopg.connect(args.pg, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


if __name__ == "__main__":
    main()
