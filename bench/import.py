"""CSV import throughput on SQLite and PostgreSQL, and `posts list --json` with 10k posts.

Run: .venv/bin/python bench/import.py [--rows 100000] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
Each engine gets a fresh home/database; the real CLI is timed as a user runs it.

`--billing on` imports with billing on (a Stripe key set, a plan whose monthly limit
the file fits under, Stripe pointed at a closed port so that any call would fail): the
limit checks' cost. `--billing both` runs each engine off and on, alternating,
`--repeat` times, and prints the best of each and how much slower on is, then times
the limit check alone in-process (`--billing check` does only that).
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
from collections.abc import Iterator
from contextlib import contextmanager
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


LAST_CPU = [0.0]  # CPU seconds (user + system) of the last command


def cli(env: dict[str, str], *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "autopostr", *args], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    LAST_CPU[0] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"autopostr {' '.join(args)} failed: {proc.stderr}")
    return elapsed, proc


BILLING_ON = {
    "STRIPE_SECRET_KEY": "sk_test_bench",
    "AUTOPOSTR_STRIPE_API_URL": "http://127.0.0.1:9",  # closed: a Stripe call would fail
    "AUTOPOSTR_PLANS_FREE_ACCOUNTS": "10",
    "AUTOPOSTR_PLANS_FREE_POSTS_PER_MONTH": "1000000",
}


def run_engine(
    name: str,
    database_url: str | None,
    csv_path: Path,
    rows: int,
    list_rows: int,
    billing: bool = False,
    full: bool = True,
) -> tuple[float, float]:
    """The import's wall and CPU time (and, with `full`, the re-import's and `posts list`'s)."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "AUTOPOSTR_HOME": home, "AUTOPOSTR_KEYRING": "off", "NO_COLOR": "1"}
        for key in ("AUTOPOSTR_TOKEN", "STRIPE_SECRET_KEY", "AUTOPOSTR_STRIPE_SECRET_KEY"):
            env.pop(key, None)
        if billing:
            env.update(BILLING_ON)
            name = f"{name}+billing"
        if database_url:
            env["AUTOPOSTR_DATABASE_URL"] = database_url
        cli(env, "init")
        cli(env, "accounts", "add", "sandbox", "--handle", "alpha")
        cli(env, "accounts", "add", "sandbox", "--handle", "beta")
        elapsed, _ = cli(env, "posts", "import", str(csv_path))
        cpu = LAST_CPU[0]
        print(
            f"{name:<19} import {rows:>7} rows: {elapsed:6.2f} s  {rows / elapsed:>9,.0f} rows/s"
            f"  (CPU of the command: {cpu:.2f} s)"
        )
        if not full:
            return elapsed, cpu
        again, proc = cli(env, "posts", "import", str(csv_path), "--json")
        print(f"{name:<19} re-import (all skipped): {again:6.2f} s  {rows / again:>9,.0f} rows/s")
        timings = []
        for _ in range(3):
            took, proc = cli(env, "posts", "list", "--json", "--limit", str(list_rows))
            timings.append(took)
        count = proc.stdout.count('"destinations"')
        print(f"{name:<19} posts list --json ({count} posts): best {min(timings):.2f} s")
        return elapsed, cpu


@contextmanager
def fresh_database(name: str, pg: str) -> Iterator[str | None]:
    """No URL for SQLite (a fresh home each run); a new PostgreSQL database, dropped after."""
    if name == "sqlite":
        yield None
        return
    import psycopg

    dbname = f"autopostr_bench_{secrets.token_hex(3)}"
    with psycopg.connect(pg, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    try:
        yield f"{pg.rsplit('/', 1)[0]}/{dbname}"
    finally:
        with psycopg.connect(pg, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def compare(name: str, pg: str, csv_path: Path, rows: int, repeat: int) -> None:
    """Billing off and on, alternating, `repeat` times each: the best of each."""
    wall = {False: float("inf"), True: float("inf")}
    cpu = dict(wall)
    for _ in range(repeat):
        for billing in (False, True):
            with fresh_database(name, pg) as url:
                took, used = run_engine(name, url, csv_path, rows, 0, billing, full=False)
            wall[billing], cpu[billing] = min(wall[billing], took), min(cpu[billing], used)
    print(
        f"{name:<19} best of {repeat}: wall off {wall[False]:.2f} s, on {wall[True]:.2f} s "
        f"({wall[True] / wall[False] - 1:+.1%}); CPU off {cpu[False]:.2f} s, "
        f"on {cpu[True]:.2f} s ({cpu[True] / cpu[False] - 1:+.1%})"
    )


# The limit check alone, in-process, after the import: the check an import of the same
# posts again would make (every scheduled time counted per billing month, under the lock).
CHECK_ALONE = """
import time
from sqlmodel import select
from autopostr.billing.limits import check_posts
from autopostr.config import load_settings
from autopostr.db import open_database
from autopostr.local_session import current_actor
from autopostr.models import Post
settings = load_settings()
db = open_database(settings)
with db.session() as session:
    actor = current_actor(settings, db, session)
    times = [t for t in session.exec(select(Post.scheduled_at).where(Post.status == "scheduled"))]
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        check_posts(session, settings, actor.team_id, times, importing=True)
        best = min(best, time.perf_counter() - start)
        session.rollback()
print(f"{len(times)} {best * 1000:.0f}")
"""


def check_alone(name: str, pg: str, csv_path: Path, rows: int) -> None:
    with fresh_database(name, pg) as url, tempfile.TemporaryDirectory() as home:
        env = {**os.environ, **BILLING_ON, "AUTOPOSTR_HOME": home, "AUTOPOSTR_KEYRING": "off"}
        env["AUTOPOSTR_PLANS_FREE_POSTS_PER_MONTH"] = "10000000"
        if url:
            env["AUTOPOSTR_DATABASE_URL"] = url
        cli(env, "init")
        cli(env, "accounts", "add", "sandbox", "--handle", "alpha")
        cli(env, "accounts", "add", "sandbox", "--handle", "beta")
        cli(env, "posts", "import", str(csv_path))
        proc = subprocess.run(
            [sys.executable, "-c", CHECK_ALONE], env=env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        count, ms = proc.stdout.split()
        print(
            f"{name:<19} the posts_per_month check alone, {count} times over {rows} posts: {ms} ms"
        )


def run(name: str, csv_path: Path, args: argparse.Namespace) -> None:
    if args.billing in ("both", "check"):
        if args.billing == "both":
            compare(name, args.pg, csv_path, args.rows, args.repeat)
        check_alone(name, args.pg, csv_path, args.rows)
        return
    with fresh_database(name, args.pg) as url:
        run_engine(name, url, csv_path, args.rows, args.list_rows, args.billing == "on")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--list-rows", type=int, default=10_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--billing", choices=("off", "on", "both", "check"), default="off")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each with --billing both")
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    engines = args.engines.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "bench.csv"
        make_csv(csv_path, args.rows)
        print(f"{args.rows} rows, {csv_path.stat().st_size / 1e6:.1f} MB CSV")
        for name in ("sqlite", "postgresql"):
            if name in engines:
                run(name, csv_path, args)


if __name__ == "__main__":
    main()
