"""How soon the claims of a daemon killed with SIGKILL mid-burst are resolved (PostgreSQL).

Run: .venv/bin/python bench/takeover.py [--burst 300] [--latency-ms 200]
         [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Three daemons with the default lease (60 s) and heartbeat (10 s) publish a burst of posts
to one sandbox account; one is killed with SIGKILL mid-burst. Figures: seconds from the
kill until every claim the dead daemon held is resolved (target < 15 s), when each was
taken over, and the latest call of the burst against its due time. The site, the daemons
and the sandbox readers are bench/publish.py's.
"""

from __future__ import annotations

import argparse
import secrets
import signal
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from publish import (
    HANDLES,
    Daemons,
    Site,
    drop_database,
    duplicates,
    read_calls,
    wait_for_calls,
)


def claims_of(site: Site, daemon_pid: int) -> set[int]:
    """The destinations a daemon (by pid) holds claimed now."""
    from sqlmodel import col, select

    from autopostr.models import Daemon, PostDestination

    with site.db.session() as session:
        ids = session.exec(
            select(PostDestination.id)
            .join(Daemon, col(Daemon.id) == col(PostDestination.claimed_by))
            .where(col(PostDestination.status) == "claimed", col(Daemon.pid) == daemon_pid)
        ).all()
    return {int(i) for i in ids if i is not None}


def unresolved(site: Site, ids: set[int]) -> int:
    from sqlmodel import col, func, select

    from autopostr.models import PostDestination

    with site.db.session() as session:
        return int(
            session.exec(
                select(func.count()).where(
                    col(PostDestination.id).in_(ids),
                    col(PostDestination.status).not_in(("published", "needs_review", "failed")),
                )
            ).one()
        )


def taken_over_at(site: Site, ids: set[int]) -> list[datetime]:
    """When each of these destinations was taken over (its `recovering` log events)."""
    from sqlmodel import col, select

    from autopostr.models import PublishLog

    with site.db.session() as session:
        return list(
            session.exec(
                select(PublishLog.created_at).where(
                    col(PublishLog.destination_id).in_(ids), col(PublishLog.event) == "recovering"
                )
            ).all()
        )


def bench_takeover(site: Site, burst: int, latency_ms: float) -> None:
    """Section 4: SIGKILL one of three daemons mid-burst, with the default lease and heartbeat."""
    from autopostr.models import utcnow

    sandbox = site.home / "sandbox-takeover"
    env = {"AUTOPOSTR_SANDBOX_DIR": str(sandbox), "AUTOPOSTR_SANDBOX_LATENCY_MS": f"{latency_ms:g}"}
    for name in ("AUTOPOSTR_LEASE_SECONDS", "AUTOPOSTR_HEARTBEAT_SECONDS"):
        site.env.pop(name, None)
    post_ids = site.create([f"sandbox:{HANDLES[0]}"], utcnow() + timedelta(hours=1), burst)
    daemons = Daemons(site, 3, 4, env, "takeover")
    try:
        daemons.wait_idle()
        # A daemon judges others once it has held its own lock for a heartbeat (10 s):
        # daemons that have run for a while, as in production.
        time.sleep(11.0)
        due = utcnow()
        site.reschedule(post_ids, due)
        victim = daemons.procs[0]
        deadline = time.monotonic() + 30
        while len(claims_of(site, victim.pid)) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed, killed_at = time.monotonic(), utcnow()
        held = claims_of(site, victim.pid)
        daemons.logs.pop(daemons.procs.index(victim))
        daemons.procs.remove(victim)
        while unresolved(site, held) and time.monotonic() - killed < 120:
            time.sleep(0.05)
        took = time.monotonic() - killed
        left = unresolved(site, held)
        wait_for_calls(sandbox, burst - len(held), daemons)
        calls = read_calls(sandbox, set(post_ids))
        late = max((c["at"] - due).total_seconds() for c in calls) if calls else float("nan")
        verdict = "ok" if took < 15 and not left else "MISSED"
        print(
            f"{site.name:<11} {len(held)} claim(s) of the killed daemon resolved {took:5.2f} s "
            f"after SIGKILL{f', {left} still open' if left else ''}   (target < 15 s: {verdict})"
        )
        print(
            f"{'':<11} {len(calls)}/{burst} posts of the burst published; the last call "
            f"{late:.1f} s after due (lease 60 s, heartbeat 10 s, sandbox {latency_ms:g} ms)"
        )
        taken = sorted((t - killed_at).total_seconds() for t in taken_over_at(site, held))
        if taken:
            print(
                f"{'':<11} taken over {taken[0]:.2f} s to {taken[-1]:.2f} s after SIGKILL "
                "(the rest: the survivors' queues, then asking the platform and publishing)"
            )
        duplicates(calls)
    finally:
        daemons.stop()
        site.reschedule(post_ids, utcnow() + timedelta(days=365))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--burst", type=int, default=300, help="posts in the burst")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="sandbox latency")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    import psycopg

    dbname = f"autopostr_bench_{secrets.token_hex(3)}"
    with psycopg.connect(args.pg, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    url = f"{args.pg.rsplit('/', 1)[0]}/{dbname}"
    with tempfile.TemporaryDirectory(prefix="autopostr-bench-") as home:
        site = Site("postgresql", Path(home), url)
        try:
            site.setup()
            print("== postgresql: takeover of a daemon killed with SIGKILL")
            bench_takeover(site, args.burst, args.latency_ms)
        finally:
            site.close()
            drop_database(args.pg, dbname)


if __name__ == "__main__":
    main()
