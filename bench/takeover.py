"""How soon the claims of a daemon killed with SIGKILL mid-burst are resolved (PostgreSQL).

Run: .venv/bin/python bench/takeover.py --skip-latency --skip-throughput --engines postgresql

This is the publishing bench as it stood when daemons began to hold a liveness lock; its
section 4 is the takeover figure (target under 15 s with the default lease and
heartbeat). The other sections are `bench/publish.py`'s, whose own figures supersede them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HANDLES = ("alpha", "beta", "gamma", "delta")
PROCS: list[subprocess.Popen[bytes]] = []  # every daemon started; main's finally kills them
STALL_SECONDS = 20.0  # give up waiting when no publish call arrives for this long


def autopostr_argv() -> list[str]:
    script = Path(sys.executable).with_name("autopostr")
    return [str(script)] if script.exists() else [sys.executable, "-m", "autopostr"]


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat, to see whether the box is saturated."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def busy_share(before: tuple[int, int]) -> float:
    after = machine_ticks()
    return (after[0] - before[0]) / max(1, after[1] - before[1]) * 100


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Site:
    """One engine: a home, a database, a signed-in user and four sandbox accounts."""

    name: str
    home: Path
    database_url: str | None
    env: dict[str, str] = field(default_factory=dict)
    settings: Any = None
    db: Any = None
    actor: Any = None

    def setup(self) -> None:
        from autopostr import accounts
        from autopostr.config import load_settings
        from autopostr.db import Database
        from autopostr.local_session import current_actor

        self.env = {
            **os.environ,
            "AUTOPOSTR_HOME": str(self.home),
            "AUTOPOSTR_KEYRING": "off",
            "NO_COLOR": "1",
        }
        for name in ("AUTOPOSTR_TOKEN", "AUTOPOSTR_CONFIG", "AUTOPOSTR_ON_EVENT"):
            self.env.pop(name, None)
        if self.database_url:
            self.env["AUTOPOSTR_DATABASE_URL"] = self.database_url
        else:
            self.env.pop("AUTOPOSTR_DATABASE_URL", None)
        proc = subprocess.run(
            [*autopostr_argv(), "init"], env=self.env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise SystemExit(f"autopostr init failed: {proc.stderr}")
        self.settings = load_settings(self.env)
        self.db = Database(self.settings)
        with self.db.session() as session:
            self.actor = current_actor(self.settings, self.db, session)
            for handle in HANDLES:
                accounts.add(session, self.actor, self.settings, "sandbox", handle)

    def create(self, to: list[str], at: datetime, count: int = 1) -> list[int]:
        """`count` posts in one transaction (one NOTIFY on PostgreSQL); returns their ids."""
        from autopostr import posts

        ids = []
        with self.db.session() as session:
            for i in range(count):
                text = f"bench post {secrets.token_hex(4)} #{i}"
                post = posts.create(session, self.actor, self.settings, text=text, to=to, at=at)
                ids.append(post.id)
        return ids

    def reschedule(self, post_ids: list[int], at: datetime) -> None:
        """Move these posts' unpublished destinations to `at` in one transaction, and notify."""
        from sqlalchemy import update
        from sqlmodel import col

        from autopostr.models import Post, PostDestination
        from autopostr.queue.transitions import notify_due

        with self.db.session() as session:
            for start in range(0, len(post_ids), 500):
                chunk = post_ids[start : start + 500]
                session.execute(
                    update(PostDestination)
                    .where(
                        col(PostDestination.post_id).in_(chunk),
                        col(PostDestination.status).in_(("pending", "retrying")),
                    )
                    .values(due_at=at)
                )
                session.execute(update(Post).where(col(Post.id).in_(chunk)).values(scheduled_at=at))
            notify_due(session)

    def close(self) -> None:
        from autopostr.db import dispose_engines

        dispose_engines()


class Daemons:
    """K `autopostr daemon run` subprocesses, their stderr kept in the home for post-mortems."""

    def __init__(self, site: Site, count: int, concurrency: int, env: dict[str, str], tag: str):
        argv = [*autopostr_argv(), "daemon", "run", "--concurrency", str(concurrency)]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self.started = time.monotonic()
        for i in range(count):
            log = site.home / f"daemon-{tag}-{i}.log"
            with log.open("wb") as handle:
                proc = subprocess.Popen(
                    argv,
                    env={**site.env, **env},
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=handle,
                )
            PROCS.append(proc)
            self.procs.append(proc)
            self.logs.append(log)

    def cpu_seconds(self) -> float:
        """User + system CPU time of all the daemons so far."""
        total = 0.0
        for proc in self.procs:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def check_alive(self) -> None:
        for proc, log in zip(self.procs, self.logs, strict=True):
            if proc.poll() is not None:
                raise SystemExit(f"daemon {proc.pid} exited {proc.returncode}:\n{log.read_text()}")

    def wait_idle(self, settle: float = 1.0, timeout: float = 30.0) -> None:
        """Until every daemon logged `started`, then `settle` s for its first (empty) tick."""
        deadline = time.monotonic() + timeout
        while not all(" started " in log.read_text() for log in self.logs):
            self.check_alive()
            if time.monotonic() > deadline:
                raise SystemExit(f"daemons not started after {timeout:.0f} s")
            time.sleep(0.05)
        time.sleep(settle)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, as systemd stops them; SIGKILL whoever is still there after `timeout`."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                print(f"{'':<11} !! daemon {proc.pid} ignored SIGTERM for {timeout:g} s: killed")


def read_calls(directory: Path, post_ids: set[int]) -> list[dict[str, Any]]:
    """The sandbox's publish calls for these posts, with `at` parsed."""
    calls = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if "remote_id" in record and record.get("post_id") in post_ids:
                record["at"] = datetime.fromisoformat(record["at"])
                calls.append(record)
    return calls


def wait_for_calls(directory: Path, count: int, daemons: Daemons) -> bool:
    """Until the sandbox has `count` lines; False when none arrived for STALL_SECONDS."""
    last, progress = -1, time.monotonic()
    while True:
        daemons.check_alive()
        lines = sum(p.read_bytes().count(b"\n") for p in directory.glob("*.jsonl"))
        if lines >= count:
            return True
        if lines != last:
            last, progress = lines, time.monotonic()
        elif time.monotonic() - progress > STALL_SECONDS:
            return False
        time.sleep(0.05)


def duplicates(calls: list[dict[str, Any]]) -> None:
    twice = len(calls) - len({c["destination_id"] for c in calls})
    if twice:
        print(f"{'':<11} !! {twice} destination(s) published more than once")


def bench_latency(
    site: Site, daemons_n: int, posts_n: int, spread: float, lead: float
) -> tuple[float, float]:
    """Section 1; returns the daemons' largest RSS in MB when idle and after publishing."""
    from autopostr.models import utcnow

    sandbox = site.home / "sandbox-latency"
    env = {"AUTOPOSTR_SANDBOX_DIR": str(sandbox), "AUTOPOSTR_SANDBOX_LATENCY_MS": "0"}
    daemons = Daemons(site, daemons_n, 8, env, "latency")
    try:
        daemons.wait_idle()
        time.sleep(max(0.0, daemons.started + 3.0 - time.monotonic()))
        idle_rss = max(rss_mb(p.pid) for p in daemons.procs)
        due: dict[int, datetime] = {}
        cpu, machine = daemons.cpu_seconds(), machine_ticks()
        begin = time.monotonic()
        for i in range(posts_n):
            time.sleep(max(0.0, begin + i * spread / posts_n - time.monotonic()))
            at = utcnow() + timedelta(seconds=lead)
            (post_id,) = site.create([f"sandbox:{HANDLES[i % len(HANDLES)]}"], at)
            due[post_id] = at
        behind = time.monotonic() - begin - spread * (posts_n - 1) / posts_n
        if not wait_for_calls(sandbox, posts_n, daemons):
            print(f"{site.name:<11} !! no publish call for {STALL_SECONDS:g} s: gave up waiting")
        cpu, busy = daemons.cpu_seconds() - cpu, busy_share(machine)
        busy_rss = max(rss_mb(p.pid) for p in daemons.procs)
        calls = read_calls(sandbox, set(due))
        ms = [(c["at"] - due[c["post_id"]]).total_seconds() * 1000 for c in calls]
        target = 250 if site.name == "postgresql" else 1000
        p50, p99 = pct(ms, 50), pct(ms, 99)
        print(
            f"{site.name:<11} {daemons_n} daemon(s), {len(calls)}/{posts_n} posts over {spread:g} s: "
            f"p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  max {max(ms):6.1f} ms   "
            f"(target p99 < {target} ms: {'ok' if p99 < target else 'MISSED'})"
        )
        print(
            f"{'':<11} daemons' CPU {cpu * 1000 / max(1, len(calls)):.1f} ms per post; "
            f"scheduling ran {max(0.0, behind):.1f} s behind its plan; all CPUs {busy:.0f} % busy"
        )
        duplicates(calls)
        return idle_rss, busy_rss
    finally:
        daemons.stop()


def bench_throughput(
    site: Site, daemons_n: int, concurrency: int, destinations: int, latency_ms: float
) -> None:
    from autopostr.models import utcnow

    sandbox = site.home / f"sandbox-throughput-{daemons_n}"
    env = {"AUTOPOSTR_SANDBOX_DIR": str(sandbox), "AUTOPOSTR_SANDBOX_LATENCY_MS": f"{latency_ms:g}"}
    posts_n = -(-destinations // len(HANDLES))
    total = posts_n * len(HANDLES)
    # Due in an hour, so nothing goes out while the daemons start; all made due at once below.
    post_ids = site.create(
        [f"sandbox:{h}" for h in HANDLES], utcnow() + timedelta(hours=1), posts_n
    )
    limit = daemons_n * concurrency / (latency_ms / 1000)
    daemons = Daemons(site, daemons_n, concurrency, env, f"throughput-{daemons_n}")
    try:
        daemons.wait_idle()
        cpu, machine = daemons.cpu_seconds(), machine_ticks()
        due = utcnow()
        site.reschedule(post_ids, due)
        if not wait_for_calls(sandbox, total, daemons):
            print(f"{site.name:<11} !! no publish call for {STALL_SECONDS:g} s: gave up waiting")
        cpu, busy = daemons.cpu_seconds() - cpu, busy_share(machine)
        wall = (utcnow() - due).total_seconds()
        calls = read_calls(sandbox, set(post_ids))
        times = sorted(c["at"] for c in calls)
        span = (times[-1] - times[0]).total_seconds()
        rate = (len(times) - 1) / span if span > 0 else float("nan")
        share = rate / limit * 100
        print(
            f"{site.name:<11} {daemons_n} daemon(s) x {concurrency}: {len(calls)} calls in "
            f"{span:5.2f} s = {rate:6.1f}/s of {limit:4.0f}/s limit = {share:5.1f} %   "
            f"(target >= 80 %: {'ok' if share >= 80 else 'MISSED'})"
        )
        print(
            f"{'':<11} first call {(times[0] - due).total_seconds() * 1000:.0f} ms after due; "
            f"daemons' CPU {cpu * 1000 / max(1, len(calls)):.1f} ms per publish, "
            f"{cpu / wall / daemons_n * 100:.0f} % of a core each; all CPUs {busy:.0f} % busy"
        )
        duplicates(calls)
    finally:
        daemons.stop()
        # Whatever a stalled run left behind must not go out during the next one.
        site.reschedule(post_ids, utcnow() + timedelta(days=365))


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


def drop_database(admin_url: str, name: str) -> None:
    """Drop it even while the server restarts (test suites on this machine may restart it)."""
    import psycopg

    deadline = time.monotonic() + 60
    while True:
        try:
            with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                print(f"!! could not drop database {name}: drop it by hand")
                return
            time.sleep(1)


def run_engine(engine: str, args: argparse.Namespace, rss: dict[str, tuple[float, float]]) -> None:
    with tempfile.TemporaryDirectory(prefix="autopostr-bench-") as home:
        dbname = None
        url = None
        if engine == "postgresql":
            import psycopg

            dbname = f"autopostr_bench_{secrets.token_hex(3)}"
            with psycopg.connect(args.pg, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{dbname}"')
            url = f"{args.pg.rsplit('/', 1)[0]}/{dbname}"
        site = Site(engine, Path(home), url)
        try:
            site.setup()
            if not args.skip_latency:
                print(f"\n== {engine}: 1. due -> call latency")
                daemons = 2 if engine == "postgresql" else 1
                rss[engine] = bench_latency(site, daemons, args.posts, args.spread, args.lead)
            if not args.skip_throughput:
                print(f"\n== {engine}: 2. throughput, sandbox latency {args.latency_ms:g} ms")
                for k in args.daemons if engine == "postgresql" else [1]:
                    bench_throughput(site, k, args.concurrency, args.destinations, args.latency_ms)
            if engine == "postgresql" and not args.skip_takeover:
                print(f"\n== {engine}: 4. takeover of a daemon killed with SIGKILL")
                bench_takeover(site, args.burst, 200.0)
        finally:
            site.close()
            if dbname is not None:
                drop_database(args.pg, dbname)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posts", type=int, default=200, help="posts for the latency section")
    parser.add_argument("--spread", type=float, default=4.0, help="seconds to schedule them over")
    parser.add_argument("--lead", type=float, default=2.0, help="seconds ahead each is due")
    parser.add_argument(
        "--destinations", type=int, default=1000, help="per throughput run (4 per post)"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="--concurrency per daemon")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="sandbox call latency")
    parser.add_argument(
        "--daemons",
        type=lambda v: [int(k) for k in v.split(",") if k.strip()],
        default=[1, 2, 4],
        help="daemon counts for throughput on PostgreSQL (default 1,2,4)",
    )
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--skip-latency", action="store_true", help="(also skips the RSS)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-takeover", action="store_true")
    parser.add_argument("--burst", type=int, default=300, help="posts for the takeover section")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.1f}"
    )
    rss: dict[str, tuple[float, float]] = {}
    started = time.monotonic()
    try:
        for engine in (e.strip() for e in args.engines.split(",")):
            if engine:
                run_engine(engine, args, rss)
        if rss:
            print("\n== 3. idle daemon RSS (about 3 s after start)")
        for engine, (idle, busy) in rss.items():
            print(
                f"{engine:<11} VmRSS {idle:5.1f} MB   (target < 80 MB: "
                f"{'ok' if idle < 80 else 'MISSED'}); {busy:.1f} MB after publishing {args.posts}"
            )
        print(f"\ntotal {time.monotonic() - started:.0f} s, load average {os.getloadavg()[0]:.1f}")
    finally:
        for proc in PROCS:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
