"""`posts export` of many posts: wall time and peak memory (RSS) of the real CLI.

Run: .venv/bin/python bench/export.py [--posts 120000 1000000] [--source /path/to/checkout]

A SQLite home gets 1,000 posts through `posts import` (two accounts, a third of the
posts to both, every tenth a draft), which are then copied in SQL until there are
--posts of them. Each export runs as a child process (`python -m autopostr posts
export -o FILE`, CSV and JSON); its peak RSS is the child's ru_maxrss. --source runs
another checkout's code against the same database, to compare.
"""

from __future__ import annotations

import argparse
import csv
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEED = 1000


def make_seed_csv(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "accounts", "at", "timezone", "status", "external_id"])
        for i in range(SEED):
            writer.writerow(
                [
                    f"Post number {i}: a typical update ☕ — with a link https://example.com/{i}",
                    "sandbox:alpha" if i % 3 else "sandbox:alpha;sandbox:beta",
                    f"2031-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}",
                    "Europe/Berlin",
                    "scheduled" if i % 10 else "draft",
                    "",
                ]
            )


def cli(env: dict[str, str], *args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "autopostr", *args], env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"autopostr {' '.join(args)} failed: {proc.stderr}")


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def grow(database: Path, posts: int) -> int:
    """Copy the seed posts (and their destinations), a block at a time, until there are
    `posts` of them. Ids stay contiguous, so a copy's ids are the seed's plus an offset."""
    db = sqlite3.connect(database)
    post_cols = [c for c in _columns(db, "posts") if c != "id"]
    dest_cols = [c for c in _columns(db, "post_destinations") if c != "id"]
    first_id = db.execute("SELECT min(id) FROM posts").fetchone()[0]
    total = db.execute("SELECT count(*) FROM posts").fetchone()[0]
    chosen = ["import_key || '-' || :offset" if c == "import_key" else c for c in post_cols]
    dest_chosen = [
        "post_id + :offset"
        if c == "post_id"
        else "idempotency_key || '-' || :offset"
        if c == "idempotency_key"
        else c
        for c in dest_cols
    ]
    while total < posts:
        block = min(SEED, posts - total)
        values = {"offset": total, "limit": first_id + block}
        db.execute(
            f"INSERT INTO posts (id, {', '.join(post_cols)}) "
            f"SELECT id + :offset, {', '.join(chosen)} FROM posts WHERE id < :limit",
            values,
        )
        db.execute(
            f"INSERT INTO post_destinations ({', '.join(dest_cols)}) "
            f"SELECT {', '.join(dest_chosen)} FROM post_destinations WHERE post_id < :limit",
            values,
        )
        total += block
    db.commit()
    total = int(db.execute("SELECT count(*) FROM posts").fetchone()[0])
    db.close()
    return total


def measure(env: dict[str, str], out: Path, fmt: str) -> tuple[float, float, int]:
    """Seconds, peak RSS in MB and bytes written of one export in a child process."""
    code = (
        "import resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "proc = subprocess.run(sys.argv[1:])\n"
        "elapsed = time.perf_counter() - start\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(elapsed, peak, proc.returncode)\n"
    )
    args = [sys.executable, "-m", "autopostr", "posts", "export", "--format", fmt, "-o", str(out)]
    # From the home, not the checkout: `python -m` puts the working folder first on the
    # path, which would shadow --source.
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=out.parent,
    )
    elapsed, peak_kb, status = proc.stdout.split()
    if status != "0":
        raise SystemExit(f"export failed: {proc.stderr}")
    return float(elapsed), int(peak_kb) / 1024, out.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, nargs="+", default=[120_000, 1_000_000])
    parser.add_argument("--source", help="run this checkout's autopostr instead")
    parser.add_argument("--formats", nargs="+", default=["csv", "json"])
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "AUTOPOSTR_HOME": home, "AUTOPOSTR_KEYRING": "off", "NO_COLOR": "1"}
        for key in ("AUTOPOSTR_TOKEN", "AUTOPOSTR_DATABASE_URL"):
            env.pop(key, None)
        cli(env, "init")
        cli(env, "accounts", "add", "sandbox", "--handle", "alpha")
        cli(env, "accounts", "add", "sandbox", "--handle", "beta")
        seed = Path(home) / "seed.csv"
        make_seed_csv(seed)
        cli(env, "posts", "import", str(seed))
        run_env = dict(env)
        if opts.source:
            run_env["PYTHONPATH"] = opts.source
        for target in sorted(opts.posts):
            started = time.perf_counter()
            total = grow(Path(home) / "autopostr.db", target)
            print(
                f"{total:,} posts in the database ({time.perf_counter() - started:.1f} s to make)"
            )
            for fmt in opts.formats:
                out = Path(home) / f"export.{fmt}"
                seconds, peak, size = measure(run_env, out, fmt)
                print(
                    f"  posts export --format {fmt}: {seconds:.1f} s, peak RSS {peak:.0f} MB, "
                    f"{size / 1e6:.0f} MB written"
                )
                out.unlink()


if __name__ == "__main__":
    main()
