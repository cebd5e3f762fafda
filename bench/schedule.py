"""Queues and the simulator: fill 10,000 queued posts into slots, and simulate a year of
50 accounts with 5 slots a day, on SQLite and PostgreSQL.

Run: .venv/bin/python bench/schedule.py [--posts 10000] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
Each engine gets a fresh home and database (on PostgreSQL a database of its own,
dropped afterwards). Targets: the fill under 5 s, the year under 2 s.
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
from datetime import timedelta
from pathlib import Path
from typing import Any

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
EVERY_HALF_HOUR = ",".join(f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 30))


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "autopostr", *args],
        env=env,
        capture_output=True,
        text=True,
        input=stdin,
    )
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"autopostr {' '.join(args)} failed: {proc.stderr}")
    return took, proc.stdout


@contextmanager
def home(database_url: str | None) -> Iterator[dict[str, str]]:
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "AUTOPOSTR_HOME": folder, "AUTOPOSTR_KEYRING": "off", "NO_COLOR": "1"}
        env.pop("AUTOPOSTR_TOKEN", None)
        if database_url:
            env["AUTOPOSTR_DATABASE_URL"] = database_url
        cli(env, "init")
        yield env


def in_process(env: dict[str, str]) -> None:
    """Point this process at the bench's home, as the CLI children are."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("AUTOPOSTR_")})
    from autopostr.db import dispose_engines

    dispose_engines()


def bench_fill(name: str, env: dict[str, str], posts: int, folder: Path) -> None:
    cli(env, "accounts", "add", "sandbox", "--handle", "alpha")
    cli(
        env,
        "queue",
        "slots",
        "set",
        "sandbox:alpha",
        f"daily {EVERY_HALF_HOUR}",
        "--tz",
        "Europe/Berlin",
    )
    path = folder / f"{name}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "accounts", "at"])
        for i in range(posts):
            writer.writerow([f"Queued post {i} https://example.com/{i}", "sandbox:alpha", "queue"])
    in_process(env)
    from autopostr.cli.common import settings, signed_in
    from autopostr.csvio import import_rows, read_rows
    from autopostr.schedule import queueing

    timed: dict[str, float] = {}
    original = queueing.fill_many

    def fill_many(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            timed["fill"] = time.perf_counter() - start

    queueing.fill_many = fill_many  # type: ignore[assignment]
    start, start_cpu = time.perf_counter(), time.process_time()
    with signed_in() as (session, actor):
        rows = read_rows(path.read_bytes(), str(path))
        result = import_rows(session, actor, settings(), rows, source=str(path), default_tz="UTC")
    total, total_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    queueing.fill_many = original  # type: ignore[assignment]
    assert result.created == posts
    print(
        f"{name:<11} {posts} posts at=queue: slots filled in {timed['fill']:.2f} s "
        f"(the whole import {total:.2f} s wall, {total_cpu:.2f} s CPU in this process)"
    )
    singles = 20
    start = time.perf_counter()
    for i in range(singles):
        with signed_in() as (session, actor):
            queueing.create_queued(
                session, actor, settings(), text=f"one {i}", to=["sandbox:alpha"]
            )
    each = (time.perf_counter() - start) / singles
    print(
        f"{name:<11} posts create --queue behind {posts} queued: {each * 1000:.1f} ms each (in process)"
    )


def bench_year(name: str, env: dict[str, str]) -> None:
    in_process(env)
    from autopostr import accounts
    from autopostr.cli.common import settings, signed_in
    from autopostr.models import utcnow
    from autopostr.schedule import pool, queueing
    from autopostr.schedule.simulate import simulate

    with signed_in() as (session, actor):
        for i in range(50):
            accounts.add(session, actor, settings(), "sandbox", f"acct{i}")
        session.flush()
        for i in range(50):
            queueing.set_slots(
                session,
                actor,
                f"sandbox:acct{i}",
                "daily 08:00,11:00,14:00,17:00,20:00",
                ZONES[i % len(ZONES)],
            )
    # An evergreen pool for every account (three posts each), so every slot of the year
    # gets a post.
    from autopostr import posts

    with signed_in() as (session, actor):
        for i in range(50):
            for k in range(3):
                post = posts.create(
                    session,
                    actor,
                    settings(),
                    text=f"Evergreen {k} of {i}",
                    to=[f"sandbox:acct{i}"],
                    draft=True,
                )
                assert post.id is not None
                pool.add(session, actor, post.id, min_interval=timedelta(hours=1))
    start_at = utcnow()
    timings, cpu = [], []
    for _ in range(3):
        start, start_cpu = time.perf_counter(), time.process_time()
        with signed_in() as (session, actor):
            plan = simulate(session, actor, start_at, start_at + timedelta(days=365))
            session.rollback()
        timings.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(
        f"{name:<11} simulate a year, 50 accounts × 5 slots/day: {len(plan)} instants, "
        f"best {min(timings):.2f} s wall, {min(cpu):.2f} s CPU (in process)"
    )
    day = start_at.date()
    took, out = cli(
        env,
        "schedule",
        "simulate",
        "--from",
        day.isoformat(),
        "--until",
        (day + timedelta(days=364)).isoformat(),
        "--json",
    )
    rows = out.count('"source"')
    print(f"{name:<11} autopostr schedule simulate --json (a year): {took:.2f} s, {rows} rows")


def private_pg(url: str) -> tuple[str, str]:
    import psycopg

    name = f"bench_schedule_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name, name


def drop_pg(url: str, name: str) -> None:
    import psycopg

    from autopostr.db import dispose_engines

    dispose_engines()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--part", choices=["fill", "year", "both"], default="both")
    args = parser.parse_args()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    with tempfile.TemporaryDirectory() as tmp:
        for engine in engines:
            for part in ["fill", "year"] if args.part == "both" else [args.part]:
                url, dbname = private_pg(args.pg) if engine == "postgresql" else (None, "")
                try:
                    with home(url) as env:
                        if part == "fill":
                            bench_fill(engine, env, args.posts, Path(tmp))
                        else:
                            bench_year(engine, env)
                finally:
                    if url:
                        drop_pg(args.pg, dbname)


if __name__ == "__main__":
    main()
