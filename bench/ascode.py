"""Content as code: `plan` and `apply` of a folder of 5,000 Markdown posts (targets: plan
under 3 s, apply under 10 s), on SQLite and PostgreSQL.

Run: .venv/bin/python bench/ascode.py [--posts 5000] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
Each engine gets a fresh home and database; the real CLI is timed as a user (or CI) runs
it, interpreter start-up included. Measured: plan of a new folder (all creates), apply
of it, plan and apply again (all unchanged), then 10 % of the files edited: plan and
apply of those changes.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_folder(root: Path, posts: int, edited: int = 0) -> None:
    for i in range(posts):
        month, day, hour = 1 + i % 12, 1 + i % 28, i % 24
        accounts = "[sandbox:alpha]" if i % 3 else "[sandbox:alpha, sandbox:beta]"
        status = "scheduled" if i % 10 else "draft"
        text = f"Post number {i}: a typical update with a link https://example.com/{i} #news"
        if i < edited:
            text += " (edited)"
        path = root / f"{2031 + i % 3}" / f"{month:02d}" / f"post-{i:05d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"---\nto: {accounts}\nat: 2031-{month:02d}-{day:02d} {hour:02d}:{i % 60:02d}\n"
            f"timezone: Europe/Berlin\nstatus: {status}\nlabels: [bench, batch-{i % 7}]\n"
            f"---\n{text}\n",
            encoding="utf-8",
        )


def cli(env: dict[str, str], *args: str, ok: tuple[int, ...] = (0,)) -> str:
    """Runs the command; its wall-clock time, and the CPU time it used (user + system:
    what it needs of a machine that is not shared with other work)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "autopostr", *args], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in ok:
        raise SystemExit(f"autopostr {' '.join(args)} failed: {proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return f"{elapsed:6.2f} s wall, {cpu:5.2f} s CPU"


def run_engine(name: str, database_url: str | None, posts: int) -> None:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "AUTOPOSTR_HOME": home, "AUTOPOSTR_KEYRING": "off", "NO_COLOR": "1"}
        env.pop("AUTOPOSTR_TOKEN", None)
        if database_url:
            env["AUTOPOSTR_DATABASE_URL"] = database_url
        cli(env, "init")
        cli(env, "accounts", "add", "sandbox", "--handle", "alpha")
        cli(env, "accounts", "add", "sandbox", "--handle", "beta")
        root = Path(home) / "content"
        write_folder(root, posts)
        edited = posts // 10
        steps = [
            ("plan (all new)", ("plan", str(root), "--exit-code"), (1,)),
            ("apply (all new)", ("apply", str(root), "--yes", "-q"), (0,)),
            ("plan (unchanged)", ("plan", str(root), "--exit-code"), (0,)),
            ("apply (unchanged)", ("apply", str(root), "--yes", "-q"), (0,)),
        ]
        for label, args, ok in steps:
            took = cli(env, *args, ok=ok)
            print(f"{name:<11} {label:<24} {posts:>6} files: {took}")
        write_folder(root, posts, edited)
        took = cli(env, "plan", str(root), "--exit-code", ok=(1,))
        print(f"{name:<11} {'plan (10 % edited)':<24} {posts:>6} files: {took}")
        took = cli(env, "apply", str(root), "--yes", "-q")
        print(f"{name:<11} {'apply (10 % edited)':<24} {posts:>6} files: {took}")
        took = cli(env, "plan", str(root), "--exit-code")
        print(f"{name:<11} {'plan after it':<24} {posts:>6} files: {took} (no changes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=5_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    run_engine("sqlite", None, args.posts)
    if args.sqlite_only:
        return
    import psycopg

    dbname = f"autopostr_bench_{secrets.token_hex(3)}"
    with psycopg.connect(args.pg, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    try:
        base = args.pg.rsplit("/", 1)[0]
        run_engine("postgresql", f"{base}/{dbname}", args.posts)
    finally:
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


if __name__ == "__main__":
    main()
