"""What row-level security costs the claim loop: destinations published per second by the
daemon's own loop (`publishing.publish_due`: claim, publish to the sandbox, finish), on a
database without roles (today: one role, no RLS) and on one set up with `db setup-roles`
where the loop connects as a daemon's login role (RLS forced, policies, triggers).

Run: .venv/bin/python bench/rls.py [--rounds 5] [--posts 300] [--concurrency 8]
         [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Two fresh databases (dropped at the end), one role prefix of its own (dropped too). The
rounds alternate between the two databases so that what else runs on the machine weighs
on both alike; the sandbox answers at once (latency 0), so the figures are the queue's.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any


def autopostr(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "autopostr", *args], env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"autopostr {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


class Site:
    def __init__(self, admin: str, name: str, home: Path) -> None:
        import psycopg

        self.name = name
        base = admin.rpartition("/")[0]
        self.dbname = f"autopostr_bench_rls_{os.getpid()}_{name}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.dbname}"')
        self.admin_url = f"{base}/{self.dbname}"
        self.url = self.admin_url  # the loop's URL: a daemon's role once roles are set up
        home.mkdir(parents=True)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AUTOPOSTR_")},
            "AUTOPOSTR_HOME": str(home),
            "AUTOPOSTR_KEYRING": "off",
            "AUTOPOSTR_DATABASE_URL": self.admin_url,
            "AUTOPOSTR_SANDBOX_LATENCY_MS": "0",
            "NO_COLOR": "1",
        }
        autopostr(self.env, "init")
        autopostr(self.env, "accounts", "add", "sandbox", "--handle", "bench")

    def set_up_roles(self, prefix: str) -> None:
        env = {**self.env, "AUTOPOSTR_DB_ROLE_PREFIX": prefix}
        autopostr(env, "db", "setup-roles")
        import json

        login = json.loads(autopostr(env, "db", "grant", "--daemon", "bench", "--json"))
        self.url = login["connection_url"]

    def schedule(self, count: int) -> None:
        """`count` posts due now, created as the owner (not timed)."""
        from autopostr import posts
        from autopostr.config import load_settings
        from autopostr.db import Database
        from autopostr.local_session import current_actor
        from autopostr.models import utcnow

        settings = load_settings(self.env)
        db = Database(settings)
        with db.session() as session:
            actor = current_actor(settings, db, session)
            for i in range(count):
                posts.create(
                    session,
                    actor,
                    settings,
                    text=f"bench {secrets.token_hex(4)} {i}",
                    to=["sandbox:bench"],
                    at=utcnow() + timedelta(seconds=1),
                )
        time.sleep(1.1)

    def run_loop(self, concurrency: int) -> tuple[int, float]:
        from autopostr.config import load_settings
        from autopostr.db import Database
        from autopostr.publishing import publish_due

        settings = load_settings({**self.env, "AUTOPOSTR_DATABASE_URL": self.url})
        db = Database(settings)
        start = time.perf_counter()
        done = publish_due(db, settings, concurrency=concurrency)
        return len(done), time.perf_counter() - start

    def drop(self, admin: str) -> None:
        import psycopg

        from autopostr.db import dispose_engines

        dispose_engines()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')


def drop_roles(admin: str, prefix: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (prefix + "\\_%",)
            )
        ]
        for name in sorted(names, reverse=True):  # logins before their groups
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--posts", type=int, default=300, help="destinations per round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    prefix = f"apbench{os.getpid()}"
    sites: list[Site] = []
    rates: dict[str, list[float]] = {"off": [], "on": []}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            off = Site(args.pg, "off", Path(tmp) / "off")
            sites.append(off)
            on = Site(args.pg, "on", Path(tmp) / "on")
            sites.append(on)
            on.set_up_roles(prefix)
            for round_ in range(args.rounds):
                order = (off, on) if round_ % 2 == 0 else (on, off)
                for site in order:
                    site.schedule(args.posts)
                    count, seconds = site.run_loop(args.concurrency)
                    if count != args.posts:
                        raise SystemExit(f"{site.name}: published {count} of {args.posts}")
                    rates[site.name].append(count / seconds)
                    print(f"round {round_ + 1} RLS {site.name:3}: {count / seconds:7.1f} dest/s")
        finally:
            for site in sites:
                site.drop(args.pg)
            drop_roles(args.pg, prefix)
    summary: dict[str, Any] = {k: statistics.median(v) for k, v in rates.items()}
    slower = (summary["off"] - summary["on"]) / summary["off"] * 100
    # Each round's pair ran back to back: their ratio shrugs off what the machine did between.
    paired = statistics.median(
        (off_rate - on_rate) / off_rate * 100
        for off_rate, on_rate in zip(rates["off"], rates["on"], strict=True)
    )
    print(
        f"median over {args.rounds} rounds of {args.posts} destinations, concurrency "
        f"{args.concurrency}: RLS off {summary['off']:.1f} dest/s, RLS on (daemon role) "
        f"{summary['on']:.1f} dest/s: {slower:+.1f} % slower (median of the rounds' own "
        f"comparisons: {paired:+.1f} %)"
    )


if __name__ == "__main__":
    main()
