"""Analytics at scale: the sync of 10,000 published sandbox posts, and `analytics overview`
over 10,000 posts × 365 daily snapshots.

Run: .venv/bin/python bench/analytics.py [--posts 10000] [--days 365]
         [--engines sqlite,postgresql] [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Each engine gets a fresh AUTOPOSTR_HOME (and a fresh PostgreSQL database, dropped at the
end), initialised with the real `autopostr init`. The published posts are written
straight into the tables (publishing them first would measure the publisher), spread
over four sandbox accounts and the last 20 days.

1. sync: one daemon-style run (`analytics.sync.sync`) over the 10,000 posts and 4
   accounts: enrol, claim in batches, ask the sandbox, write the snapshots (target: 30 s).
2. overview: the posts get 365 days of snapshots each (3.65 M rows, written with
   executemany on SQLite and COPY on PostgreSQL, day after day as the sync writes
   them; the accounts' daily sums the sync keeps as it goes are built at once), then
   `analytics overview --days 30`
   is timed in-process (the report itself) and as the real CLI (start-up included);
   median of 5 (target: under 1.5 s).
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HANDLES = ("alpha", "beta", "gamma", "delta")
METRICS = ("impressions", "likes", "comments", "shares", "clicks", "saves")


def autopostr_argv() -> list[str]:
    script = Path(sys.executable).with_name("autopostr")
    return [str(script)] if script.exists() else [sys.executable, "-m", "autopostr"]


class Site:
    def __init__(self, name: str, home: Path, database_url: str | None) -> None:
        self.name = name
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPOSTR_")}
        self.env.update(AUTOPOSTR_HOME=str(home), AUTOPOSTR_KEYRING="off", NO_COLOR="1")
        self.env["AUTOPOSTR_CONFIG"] = str(home / "config.toml")
        if database_url:
            self.env["AUTOPOSTR_DATABASE_URL"] = database_url
        proc = subprocess.run(
            [*autopostr_argv(), "init"], env=self.env, capture_output=True, text=True
        )
        if proc.returncode:
            raise SystemExit(f"autopostr init failed: {proc.stderr}")
        from autopostr import accounts
        from autopostr.config import load_settings
        from autopostr.db import Database
        from autopostr.local_session import current_actor

        self.settings = load_settings(self.env)
        self.db = Database(self.settings)
        with self.db.session() as session:
            self.actor = current_actor(self.settings, self.db, session)
            self.account_ids = [
                accounts.add(session, self.actor, self.settings, "sandbox", h).id for h in HANDLES
            ]

    def published_posts(self, count: int) -> list[int]:
        """`count` posts already out, one destination each: their destination ids."""
        from sqlalchemy import insert, select
        from sqlmodel import col

        from autopostr.models import Post, PostDestination

        now = datetime.now(UTC)
        rng = random.Random(7)
        with self.db.session() as session:
            start = session.execute(select(col(Post.id)).order_by(col(Post.id).desc())).first()
            first_id = (start[0] if start else 0) + 1
            posts = [
                {
                    "id": first_id + n,
                    "team_id": self.actor.team_id,
                    "author_id": self.actor.user_id,
                    "status": "published",
                    "text": f"bench {n}",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(count)
            ]
            session.execute(insert(Post), posts)
            destinations = []
            for n in range(count):
                remote = "sbx_" + secrets.token_hex(8)
                published = now - timedelta(minutes=rng.randrange(1, 20 * 24 * 60))
                destinations.append(
                    {
                        "post_id": first_id + n,
                        "account_id": self.account_ids[n % len(self.account_ids)],
                        "status": "published",
                        "remote_id": remote,
                        "url": f"https://sandbox.autopostr.invalid/x/{remote}",
                        "attempts": 1,
                        "idempotency_key": secrets.token_hex(8),
                        "published_at": published,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            session.execute(insert(PostDestination), destinations)
            return [
                int(i)
                for i in session.execute(
                    select(col(PostDestination.id)).where(col(PostDestination.post_id) >= first_id)
                ).scalars()
            ]

    def history(self, destinations: list[tuple[int, int]], days: int) -> int:
        """`days` daily snapshots for each (destination, account), running totals that
        grow every day, with their gains, written day after day as the sync does; returns
        the rows written."""
        today = datetime.now(UTC).date()
        fetched = datetime.now(UTC)
        columns = [
            "account_id",
            "destination_id",
            "day",
            *METRICS,
            *(f"{m}_gain" for m in METRICS),
            "fetched_at",
        ]

        def rows() -> Any:
            # Day by day, every post each day, as the sync writes them.
            rng = random.Random(11)
            rates = [
                [rng.randrange(1, 200), *(rng.randrange(0, 12) for _ in METRICS[1:])]
                for _ in destinations
            ]
            totals = [[0] * len(METRICS) for _ in destinations]
            for back in range(days - 1, -1, -1):
                day = today - timedelta(days=back)
                for n, (dest, account) in enumerate(destinations):
                    gains = [rng.randrange(0, r + 1) for r in rates[n]]
                    totals[n] = [t + g for t, g in zip(totals[n], gains, strict=True)]
                    yield (account, dest, day, *totals[n], *gains, fetched)

        written = 0
        if self.db.url.dialect == "postgresql":
            raw = self.db.engine.raw_connection()
            try:
                cursor = raw.cursor()
                with cursor.copy(  # type: ignore[attr-defined]
                    f"COPY analytics_snapshots ({', '.join(columns)}) FROM STDIN"
                ) as copy:
                    for row in rows():
                        copy.write_row(row)
                        written += 1
                raw.commit()
            finally:
                raw.close()
            self.daily_sums()
            return written
        placeholders = ", ".join("?" for _ in columns)
        raw = self.db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("BEGIN")  # one transaction, not one per row
            batch: list[Any] = []
            for row in rows():
                batch.append((*row[:2], row[2].isoformat(), *row[3:-1], row[-1].isoformat(sep=" ")))
                if len(batch) == 50_000:
                    cursor.executemany(
                        f"INSERT INTO analytics_snapshots ({', '.join(columns)}) VALUES ({placeholders})",
                        batch,
                    )
                    written += len(batch)
                    batch.clear()
            if batch:
                cursor.executemany(
                    f"INSERT INTO analytics_snapshots ({', '.join(columns)}) VALUES ({placeholders})",
                    batch,
                )
                written += len(batch)
            raw.commit()
        finally:
            raw.close()
        self.daily_sums()
        return written

    def daily_sums(self) -> None:
        """The accounts' daily sums, which the sync keeps as it writes, built at once."""
        gains = [f"{m}_gain" for m in METRICS]
        with self.db.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM analytics_daily")
            conn.exec_driver_sql(
                f"INSERT INTO analytics_daily (account_id, day, posts, {', '.join(gains)}, "
                f"fetched_at) SELECT account_id, day, count(*), "
                f"{', '.join(f'sum({g})' for g in gains)}, max(fetched_at) "
                "FROM analytics_snapshots WHERE destination_id IS NOT NULL "
                "GROUP BY account_id, day"
            )
            conn.exec_driver_sql("ANALYZE")


def bench_sync(site: Site, posts: int) -> None:
    from autopostr.analytics.sync import sync

    site.published_posts(posts)
    started = time.perf_counter()
    report = sync(site.db, site.settings)
    elapsed = time.perf_counter() - started
    print(
        f"  sync: {report.posts} post and {report.accounts} account snapshots in "
        f"{elapsed:.1f} s ({report.posts / elapsed:,.0f} posts/s; target ≤ 30 s)"
    )
    started = time.perf_counter()
    again = sync(site.db, site.settings)
    print(
        f"  a second daemon's look in the same period: {again.posts} fetched in "
        f"{time.perf_counter() - started:.2f} s"
    )


def baseline(site: Site) -> float:
    """`posts list --json` on the same database: the start-up every command pays."""
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run(
            [*autopostr_argv(), "posts", "list", "--json", "--limit", "1"],
            env=site.env,
            capture_output=True,
        )
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def bench_overview(site: Site, days: int) -> None:
    from sqlalchemy import select
    from sqlmodel import col

    from autopostr.analytics import reports
    from autopostr.models import AnalyticsSnapshot, PostDestination

    with site.db.session() as session:
        session.execute(AnalyticsSnapshot.__table__.delete())  # type: ignore[attr-defined]
        pairs = [
            (int(d), int(a))
            for d, a in session.execute(
                select(col(PostDestination.id), col(PostDestination.account_id))
            ).all()
        ]
    started = time.perf_counter()
    written = site.history(pairs, days)
    print(
        f"  history: {written:,} snapshots ({len(pairs):,} posts × {days} days) written in "
        f"{time.perf_counter() - started:.0f} s"
    )
    scope = reports.Scope(site.actor.team_id)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        with site.db.session() as session:
            view = reports.overview(session, scope, days=30)
        timings.append(time.perf_counter() - started)
    print(
        f"  overview --days 30, the report: median {statistics.median(timings):.2f} s "
        f"(min {min(timings):.2f}); impressions {view.totals['impressions']:,}, "
        f"change {view.change['impressions']}"
    )
    cli = []
    for _ in range(5):
        started = time.perf_counter()
        proc = subprocess.run(
            [*autopostr_argv(), "analytics", "overview", "--json"],
            env=site.env,
            capture_output=True,
            text=True,
        )
        cli.append(time.perf_counter() - started)
        if proc.returncode:
            raise SystemExit(f"analytics overview failed: {proc.stderr}")
    print(
        f"  `autopostr analytics overview --json`, start-up included: median "
        f"{statistics.median(cli):.2f} s (min {min(cli):.2f}; target under 1.5 s); "
        f"`posts list --json --limit 1` for comparison: {baseline(site):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    for engine in args.engines.split(","):
        with tempfile.TemporaryDirectory(prefix="autopostr-bench-") as tmp:
            database_url = None
            dbname = None
            if engine == "postgresql":
                import psycopg

                dbname = f"autopostr_bench_{secrets.token_hex(4)}"
                with psycopg.connect(args.pg, autocommit=True) as admin:
                    admin.execute(f'CREATE DATABASE "{dbname}"')
                database_url = args.pg.rsplit("/", 1)[0] + f"/{dbname}"
            try:
                print(f"{engine}:")
                site = Site(engine, Path(tmp) / "home", database_url)
                bench_sync(site, args.posts)
                bench_overview(site, args.days)
            finally:
                from autopostr.db import dispose_engines

                dispose_engines()
                if dbname is not None:
                    import psycopg

                    with psycopg.connect(args.pg, autocommit=True) as admin:
                        admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


if __name__ == "__main__":
    main()
