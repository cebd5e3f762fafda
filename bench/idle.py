"""What an idle `autopostr daemon run` costs with many scheduled posts, and how soon it
still picks up a new one.

Run: .venv/bin/python bench/idle.py [--posts 100000] [--seconds 30] [--engines sqlite,postgresql]
         [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Each engine gets a fresh AUTOPOSTR_HOME (and a fresh PostgreSQL database, dropped at the
end) with `--posts` posts scheduled over the next 30 days, the first a day away (rows
copied in bulk from one post made with the domain API). One real daemon is started
with the default settings, left alone for a few seconds, then its CPU time (user +
system, from /proc) is read over `--seconds` seconds of idleness: the figure is that
time as a share of one core (target < 1 %). Then five posts are created one at a time,
each due 2 s after its creation, and the delay from due time to the sandbox's publish
call is printed (target < 1 s).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def autopostr_argv() -> list[str]:
    script = Path(sys.executable).with_name("autopostr")
    return [str(script)] if script.exists() else [sys.executable, "-m", "autopostr"]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def setup(home: Path, url: str | None, count: int) -> tuple[dict[str, str], Any, Any, Any]:
    from sqlalchemy import func, insert, select

    from autopostr import accounts, posts
    from autopostr.config import load_settings
    from autopostr.db import Database
    from autopostr.local_session import current_actor
    from autopostr.models import Post, PostDestination

    env = {**os.environ, "AUTOPOSTR_HOME": str(home), "AUTOPOSTR_KEYRING": "off", "NO_COLOR": "1"}
    for name in (
        "AUTOPOSTR_TOKEN",
        "AUTOPOSTR_CONFIG",
        "AUTOPOSTR_ON_EVENT",
        "AUTOPOSTR_DATABASE_URL",
    ):
        env.pop(name, None)
    for name in [n for n in env if n.startswith("AUTOPOSTR_") and n.endswith("_SECONDS")]:
        env.pop(name)
    if url:
        env["AUTOPOSTR_DATABASE_URL"] = url
    proc = subprocess.run([*autopostr_argv(), "init"], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"autopostr init failed: {proc.stderr}")
    settings = load_settings(env)
    db = Database(settings)
    now = datetime.now(UTC)
    with db.session() as session:
        actor = current_actor(settings, db, session)
        accounts.add(session, actor, settings, "sandbox", "idle")
        first = posts.create(
            session,
            actor,
            settings,
            text="far away",
            to=["sandbox:idle"],
            at=now + timedelta(days=1),
        )
    started = time.monotonic()
    with db.session() as session:
        post = session.get(Post, first.id)
        dest = session.exec(
            select(PostDestination).where(PostDestination.post_id == first.id)
        ).one()  # type: ignore[call-overload]
        base_post = {k: v for k, v in post.model_dump().items() if k != "id"}  # type: ignore[union-attr]
        base_dest = {k: v for k, v in dest[0].model_dump().items() if k not in ("id", "post_id")}
        next_id = int(session.execute(select(func.max(Post.id))).scalar_one()) + 1
        step = timedelta(days=30) / count
        for start in range(0, count - 1, 10_000):
            ids = range(next_id + start, next_id + min(count - 1, start + 10_000))
            at = [now + timedelta(days=1) + step * (i - next_id + 1) for i in ids]
            session.execute(
                insert(Post),
                [{**base_post, "id": i, "scheduled_at": a} for i, a in zip(ids, at, strict=True)],
            )
            session.execute(
                insert(PostDestination),
                [
                    {
                        **base_dest,
                        "post_id": i,
                        "due_at": a,
                        "idempotency_key": secrets.token_hex(16),
                    }
                    for i, a in zip(ids, at, strict=True)
                ],
            )
    if url:
        with db.engine.connect() as conn:
            # Rows given their ids do not move the sequence: move it past them.
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('posts', 'id'), (SELECT max(id) FROM posts))"
            )
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    print(f"  {count} scheduled posts made in {time.monotonic() - started:.1f} s")
    return env, settings, db, actor


def bench(engine: str, args: argparse.Namespace) -> None:
    from autopostr import posts
    from autopostr.db import dispose_engines

    with tempfile.TemporaryDirectory(prefix="autopostr-idle-") as tmp:
        home = Path(tmp)
        dbname = None
        url = None
        if engine == "postgresql":
            import psycopg

            dbname = f"autopostr_idle_{secrets.token_hex(3)}"
            with psycopg.connect(args.pg, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{dbname}"')
            url = f"{args.pg.rsplit('/', 1)[0]}/{dbname}"
        proc = None
        try:
            print(f"\n== {engine}")
            env, settings, db, actor = setup(home, url, args.posts)
            log = home / "daemon.log"
            with log.open("wb") as handle:
                proc = subprocess.Popen(
                    [*autopostr_argv(), "daemon", "run"],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=handle,
                )
            deadline = time.monotonic() + 60
            while " started " not in log.read_text():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the daemon did not start:\n{log.read_text()}")
                time.sleep(0.1)
            time.sleep(args.settle)  # its first look, and the periodic jobs' first runs
            before, begin = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(args.seconds)
            spent, wall = cpu_seconds(proc.pid) - before, time.monotonic() - begin
            share = spent / wall * 100
            print(
                f"  idle: {spent:.2f} s CPU in {wall:.0f} s = {share:.2f} % of a core   "
                f"(target < 1 %: {'ok' if share < 1 else 'MISSED'})"
            )
            delays = []
            sandbox = home / "sandbox" / "idle.jsonl"
            for n in range(args.picks):
                due = datetime.now(UTC) + timedelta(seconds=2)
                with db.session() as session:
                    post = posts.create(
                        session, actor, settings, text=f"new {n}", to=["sandbox:idle"], at=due
                    )
                wait = time.monotonic() + 15
                found = None
                while found is None and time.monotonic() < wait:
                    time.sleep(0.05)
                    if sandbox.exists():
                        for line in sandbox.read_text().splitlines():
                            record = json.loads(line)
                            if record.get("post_id") == post.id and "remote_id" in record:
                                found = datetime.fromisoformat(record["at"])
                delays.append((found - due).total_seconds() if found else float("inf"))
                if found is None:
                    print(f"  !! post {post.id} not published; the daemon said:")
                    print("\n".join(log.read_text().splitlines()[-10:]))
            worst = max(delays)
            print(
                "  new post due -> publish call: "
                + ", ".join(f"{d * 1000:.0f} ms" for d in delays)
                + f"   (target < 1 s: {'ok' if worst < 1 else 'MISSED'})"
            )
        finally:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            dispose_engines()
            if dbname is not None:
                import psycopg

                with psycopg.connect(args.pg, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=30.0, help="idle time measured")
    parser.add_argument("--settle", type=float, default=8.0, help="seconds before measuring")
    parser.add_argument("--picks", type=int, default=5, help="new posts timed")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.1f}"
    )
    for engine in (e.strip() for e in args.engines.split(",")):
        if engine:
            bench(engine, args)


if __name__ == "__main__":
    main()
