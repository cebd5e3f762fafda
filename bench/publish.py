"""Publishing latency and throughput of real `autopostr daemon run` processes, and their idle RSS.

Run: .venv/bin/python bench/publish.py [--posts 200] [--spread 4] [--destinations 1000]
         [--concurrency 8] [--daemons 1,2,4] [--accounts 100] [--burst 1000]
         [--burst-daemons 1,2] [--burst-latency-ms 1000] [--inflight 1000]
         [--media-posts 100] [--processing 20] [--engines postgresql,sqlite]
         [--skip-latency] [--skip-throughput] [--skip-burst] [--skip-media]
         [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Each engine gets a fresh AUTOPOSTR_HOME (and a fresh PostgreSQL database, dropped at the
end). Posts are created in this process with the domain API, as `posts create` would
(spawning the CLI per post would be the bottleneck); the daemons are real subprocesses
publishing to the sandbox platform, and every figure comes from the sandbox log lines,
whose `at` is the UTC time of the publish call.

1. due -> call latency: the daemons (2 on PostgreSQL, 1 on SQLite) idle, then posts
   are scheduled one by one, each due `--lead` seconds after it is created, spread over
   `--spread` seconds; latency = sandbox `at` - the post's due time.
2. throughput: destinations (one per post, over `--accounts` accounts) are created due
   in an hour, K daemons started and left idle, then every destination is made due at
   once (one UPDATE and one NOTIFY); published/s from the first to the last sandbox
   line, against the limit K x C / sandbox latency. Twice on the same daemons, each
   burst `--destinations`: cold (their first work since they started) and warm (idle
   again in between); the targets are judged on the warm one, the rate a running
   daemon keeps.
3. idle RSS: VmRSS of the daemons of section 1 once started, past their periodic
   jobs' first run and idle for a few seconds (as a daemon that has been running for a while is) (and,
   for information, once they have published the section's posts).
4. burst: `--burst` destinations over `--accounts` accounts (one destination per post)
   all made due the same second, sandbox latency `--burst-latency-ms`, K daemons on
   their default settings; lateness = end of the call (sandbox `at` + latency) - due,
   and when the outcome was written (published_at); the daemons' peak RSS.
5. media burst: `--media-posts` posts whose media the sandbox processes for
   `--processing` s and as many text posts, each on its own account, due at once.
6. in flight: one daemon with `--concurrency N` and the sandbox ceiling N, N
   destinations over N/4 accounts at 5 s latency: how many calls were in flight at
   once and the daemon's peak RSS (target under 150 MB at 1,000).

Beside each figure: the daemons' CPU time and how busy all CPUs were (from /proc), since
on a small machine the daemons, PostgreSQL, this script and anything else share the cores.

Where the throughput section's CPU goes (both optional, both over its measured window only):
  BENCH_PROFILE=DIR     py-spy (`pip install py-spy`) records each daemon's threads that
                        hold the GIL (DIR/throughput-K-PID.txt, collapsed stacks), and
                        each daemon's threads are listed by the CPU they used;
  BENCH_STATEMENTS=N    the N statements PostgreSQL spent most time on, per publish
                        (needs pg_stat_statements in shared_preload_libraries; planning
                        time too with pg_stat_statements.track_planning on).
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
STALL_SECONDS = 20.0
BENCH_APP = "autopostr-bench"  # application_name of the bench's own connections  # give up waiting when no publish call arrives for this long


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
        if self.database_url:
            from sqlalchemy import event

            # The bench's own connections are named, so that what PostgreSQL spends on
            # them (creating and rescheduling posts) is not counted as the daemons'.
            @event.listens_for(self.db.engine, "connect")
            def _name(connection: Any, _record: Any) -> None:
                connection.execute(f"SET application_name = '{BENCH_APP}'")
                connection.commit()

        with self.db.session() as session:
            self.actor = current_actor(self.settings, self.db, session)
            for handle in HANDLES:
                accounts.add(session, self.actor, self.settings, "sandbox", handle)

    def add_accounts(self, count: int, prefix: str = "acct") -> list[str]:
        """`count` more sandbox accounts (made once per prefix); returns their handles."""
        from autopostr import accounts

        handles = [f"{prefix}{i:04d}" for i in range(count)]
        made = getattr(self, "_made", set())
        todo = [h for h in handles if h not in made]
        if todo:
            with self.db.session() as session:
                for handle in todo:
                    accounts.add(session, self.actor, self.settings, "sandbox", handle)
            self._made = made | set(todo)
        return handles

    def image(self) -> str:
        """One small PNG in the media library; returns its id."""
        import struct
        import zlib

        from autopostr import media

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        raw = b"".join(b"\x00" + bytes([200, 80, 40]) * 16 for _ in range(16))
        png = (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b"")
        )
        path = self.home / "bench.png"
        path.write_bytes(png)
        with self.db.session() as session:
            uploaded = media.upload(session, self.actor, self.settings, path)
            return str(uploaded.item.id)

    def create(
        self, to: list[str], at: datetime, count: int = 1, media_ids: tuple[str, ...] = ()
    ) -> list[int]:
        """`count` posts in one transaction (one NOTIFY on PostgreSQL); returns their ids."""
        from autopostr import posts

        ids = []
        with self.db.session() as session:
            for i in range(count):
                text = f"bench post {secrets.token_hex(4)} #{i}"
                post = posts.create(
                    session, self.actor, self.settings, text=text, to=to, at=at, media_ids=media_ids
                )
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

    def recorded(self, post_ids: list[int], due: datetime) -> list[float]:
        """Seconds from `due` to each destination's published_at (its outcome written)."""
        from sqlalchemy import select
        from sqlmodel import col

        from autopostr.models import PostDestination
        from autopostr.queue.claims import aware

        with self.db.session() as session:
            rows = session.execute(
                select(col(PostDestination.published_at)).where(
                    col(PostDestination.post_id).in_(post_ids),
                    col(PostDestination.published_at).is_not(None),
                )
            ).scalars()
            return [(aware(at) - due).total_seconds() for at in rows]

    def close(self) -> None:
        from autopostr.db import dispose_engines

        dispose_engines()


class Daemons:
    """K `autopostr daemon run` subprocesses, their stderr kept in the home for post-mortems."""

    def __init__(
        self, site: Site, count: int, concurrency: int | None, env: dict[str, str], tag: str
    ):
        argv = [*autopostr_argv(), "daemon", "run"]
        if concurrency is not None:  # None: the daemon's defaults
            argv += ["--concurrency", str(concurrency)]
        self.site = site
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
        return sum(self.cpu_split())

    def cpu_split(self) -> tuple[float, float]:
        """(user, system) CPU seconds of all the daemons so far."""
        user = system = 0.0
        for proc in self.procs:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            user += int(fields[11]) / os.sysconf("SC_CLK_TCK")
            system += int(fields[12]) / os.sysconf("SC_CLK_TCK")
        return user, system

    def rss(self) -> float:
        return max(rss_mb(p.pid) for p in self.procs)

    def check_alive(self) -> None:
        for proc, log in zip(self.procs, self.logs, strict=True):
            if proc.poll() is not None:
                raise SystemExit(f"daemon {proc.pid} exited {proc.returncode}:\n{log.read_text()}")

    def wait_idle(self, settle: float = 1.0, timeout: float = 30.0) -> None:
        """Until every daemon logged `started`, then `settle` s for its first (empty) tick,
        and past its periodic jobs' first run (FIRST_JOBS_AFTER), which a daemon running
        for a while has behind it: until the daemons' CPU is quiet again."""
        from autopostr.daemon.runner import FIRST_JOBS_AFTER, DaemonRunner

        deadline = time.monotonic() + timeout
        while not all(" started " in log.read_text() for log in self.logs):
            self.check_alive()
            if time.monotonic() > deadline:
                raise SystemExit(f"daemons not started after {timeout:.0f} s")
            time.sleep(0.05)
        # Their periodic jobs' first run is FIRST_JOBS_AFTER after each logged `started`.
        jobs_done = time.monotonic() + FIRST_JOBS_AFTER.total_seconds() + 0.5
        time.sleep(settle)
        while time.monotonic() < jobs_done and time.monotonic() < deadline:
            time.sleep(0.1)
        # Quiet: under 1 % of a core each for longer than a daemon waits, idle, before it
        # hands back the heap its jobs freed (a full collection: tens of ms of CPU that
        # belong to start-up, not to the publishing measured next).
        quiet = DaemonRunner.TRIM_AFTER_IDLE + 0.5
        while time.monotonic() < deadline:
            before = self.cpu_seconds()
            time.sleep(quiet)
            if self.cpu_seconds() - before < 0.01 * quiet * len(self.procs):
                break

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
                log = self.logs[self.procs.index(proc)].read_text().splitlines()
                print("\n".join(f"{'':<14}{line}" for line in log[-3:]))


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


def wait_for_calls(
    directory: Path, count: int, daemons: Daemons, stall: float = STALL_SECONDS
) -> bool:
    """Until the sandbox has `count` lines; False when none arrived for `stall` seconds."""
    last, progress = -1, time.monotonic()
    while True:
        daemons.check_alive()
        lines = sum(p.read_bytes().count(b"\n") for p in directory.glob("*.jsonl"))
        if lines >= count:
            return True
        if lines != last:
            last, progress = lines, time.monotonic()
        elif time.monotonic() - progress > stall:
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
    from autopostr.daemon.runner import DaemonRunner
    from autopostr.models import utcnow

    sandbox = site.home / "sandbox-latency"
    env = {"AUTOPOSTR_SANDBOX_DIR": str(sandbox), "AUTOPOSTR_SANDBOX_LATENCY_MS": "0"}
    daemons = Daemons(site, daemons_n, 8, env, "latency")
    try:
        daemons.wait_idle()
        # An idle daemon hands freed heap back once it has been idle a moment
        # (DaemonRunner.TRIM_AFTER_IDLE, looked at once a second).
        time.sleep(2 * DaemonRunner.TRIM_AFTER_IDLE + 0.5)
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


# py-spy beside this Python (`pip install py-spy` in the venv), else on PATH.
PY_SPY = (
    str(Path(sys.executable).with_name("py-spy"))
    if Path(sys.executable).with_name("py-spy").exists()
    else "py-spy"
)


class Profiles:
    """With BENCH_PROFILE=DIR (and py-spy on PATH): a py-spy profile of each daemon over a
    section's measured window only, as collapsed stacks of the threads holding the GIL
    (`DIR/<section>-<pid>.txt`), so start-up and idle time stay out of it."""

    def __init__(self, daemons: Daemons, section: str):
        self.recorders: list[subprocess.Popen[bytes]] = []
        directory = os.environ.get("BENCH_PROFILE")
        if not directory:
            return
        Path(directory).mkdir(parents=True, exist_ok=True)
        for proc in daemons.procs:
            out = Path(directory) / f"{section}-{proc.pid}.txt"
            command = [
                PY_SPY,
                "record",
                "--gil",
                "--nonblocking",
                "-r",
                "1000",
                "-f",
                "raw",
                "-o",
                str(out),
            ]
            self.recorders.append(
                subprocess.Popen(
                    [*command, "--pid", str(proc.pid)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        self.pids = [proc.pid for proc in daemons.procs]
        self.threads_before = {pid: thread_cpu(pid) for pid in self.pids}
        time.sleep(0.5)  # py-spy attaches

    def stop(self) -> None:
        """Stop recording; print each daemon's threads by the CPU they used meanwhile."""
        for recorder in self.recorders:
            recorder.send_signal(signal.SIGINT)
        for recorder in self.recorders:
            recorder.wait(timeout=30)
        for pid in self.pids if self.recorders else []:
            after, before = thread_cpu(pid), self.threads_before[pid]
            dump = subprocess.run(
                [PY_SPY, "dump", "--pid", str(pid)], capture_output=True, text=True
            ).stdout
            names = {
                int(line.split()[1]): line.split('"')[1]
                for line in dump.splitlines()
                if line.startswith("Thread ") and '"' in line
            }
            used: dict[str, float] = {}
            for tid, cpu in after.items():
                name = names.get(tid, "?").rstrip("0123456789_")
                used[name] = used.get(name, 0.0) + cpu - before.get(tid, 0.0)
            total = sum(used.values()) or 1.0
            shares = ", ".join(
                f"{name} {cpu / total * 100:.0f} %"
                for name, cpu in sorted(used.items(), key=lambda item: -item[1])
                if cpu / total >= 0.01
            )
            print(f"{'':<11} daemon {pid}'s threads: {shares}")


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of each thread of a process, by thread id."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(task.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


class Statements:
    """With BENCH_STATEMENTS=N on PostgreSQL (pg_stat_statements in the server's
    shared_preload_libraries): the N statements that cost the server most over a
    section's measured window, with their calls, rows and time per publish."""

    def __init__(self, site: Site):
        self.top = int(os.environ.get("BENCH_STATEMENTS") or 0)
        self.url = site.database_url if self.top else None
        if self.url:
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                conn.execute("SELECT pg_stat_statements_reset()")

    def report(self, publishes: int) -> None:
        if not self.url:
            return
        import psycopg

        with psycopg.connect(self.url) as conn:
            rows = conn.execute(
                "SELECT calls, rows, total_exec_time, total_plan_time, query "
                "FROM pg_stat_statements "
                "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "ORDER BY total_exec_time + total_plan_time DESC LIMIT %s",
                (self.top,),
            ).fetchall()
        # Planning is counted only with pg_stat_statements.track_planning on.
        for calls, rows_, total_ms, plan_ms, query in rows:
            text = " ".join(query.split())[:80]
            print(
                f"{'':<11} {calls:6d} calls {rows_:7d} rows {total_ms / max(1, publishes):6.3f} ms"
                f" (+ planning {plan_ms / max(1, publishes):5.3f})/publish  {text}"
            )


def bench_throughput(
    site: Site,
    daemons_n: int,
    concurrency: int,
    destinations: int,
    latency_ms: float,
    accounts_n: int = 100,
) -> None:
    """Section 2: two bursts of `destinations` on the same daemons, each measured alone.
    The first (cold) also pays what a daemon does once after it starts: its pool's
    threads, each account's object, its statements prepared on its connections; the
    second (warm) is the rate a running daemon keeps, which the targets are judged on."""
    from autopostr.models import utcnow

    sandbox = site.home / f"sandbox-throughput-{daemons_n}"
    env = {"AUTOPOSTR_SANDBOX_DIR": str(sandbox), "AUTOPOSTR_SANDBOX_LATENCY_MS": f"{latency_ms:g}"}
    # One destination per post, over `accounts_n` accounts: an account takes only a few
    # posts at once, so few accounts would cap the rate below the daemons' limit.
    handles = site.add_accounts(accounts_n)
    later = utcnow() + timedelta(hours=1)
    bursts: list[list[int]] = [[], []]
    for post_ids in bursts:
        for i, handle in enumerate(handles):
            share = destinations // accounts_n + (1 if i < destinations % accounts_n else 0)
            post_ids += site.create([f"sandbox:{handle}"], later, share)
    limit = daemons_n * concurrency / (latency_ms / 1000)
    daemons = Daemons(site, daemons_n, concurrency, env, f"throughput-{daemons_n}")
    try:
        sent = 0
        for post_ids, kind in zip(bursts, ("cold", "warm"), strict=True):
            daemons.wait_idle()
            sent += len(post_ids)
            _measure_burst(site, daemons, sandbox, post_ids, sent, limit, concurrency, kind)
    finally:
        daemons.stop()
        # Whatever a stalled run left behind must not go out during the next one.
        site.reschedule(bursts[0] + bursts[1], utcnow() + timedelta(days=365))


def _measure_burst(
    site: Site,
    daemons: Daemons,
    sandbox: Path,
    post_ids: list[int],
    sent: int,
    limit: float,
    concurrency: int,
    kind: str,
) -> None:
    """Make `post_ids` due at once and measure until the sandbox has `sent` calls."""
    from autopostr.models import utcnow

    daemons_n = len(daemons.procs)
    profiles = Profiles(daemons, f"throughput-{daemons_n}-{kind}")
    statements = Statements(site)
    split = daemons.cpu_split()
    cpu, machine, pg = daemons.cpu_seconds(), machine_ticks(), backend_cpu(site)
    due = utcnow()
    site.reschedule(post_ids, due)
    if not wait_for_calls(sandbox, sent, daemons):
        print(f"{site.name:<11} !! no publish call for {STALL_SECONDS:g} s: gave up waiting")
    cpu, busy = daemons.cpu_seconds() - cpu, busy_share(machine)
    system = daemons.cpu_split()[1] - split[1]
    pg_cpu = backend_cpu_since(site, pg)
    profiles.stop()
    wall = (utcnow() - due).total_seconds()
    calls = read_calls(sandbox, set(post_ids))
    times = sorted(c["at"] for c in calls)
    span = (times[-1] - times[0]).total_seconds()
    rate = (len(times) - 1) / span if span > 0 else float("nan")
    share = rate / limit * 100
    per_publish = (cpu + pg_cpu) * 1000 / max(1, len(calls))
    judged = kind == "warm"
    print(
        f"{site.name:<11} {daemons_n} daemon(s) x {concurrency}, {kind}: {len(calls)} calls in "
        f"{span:5.2f} s = {rate:6.1f}/s of {limit:4.0f}/s limit = {share:5.1f} %"
        + (f"   (target >= 80 %: {'ok' if share >= 80 else 'MISSED'})" if judged else "")
    )
    print(
        f"{'':<11} first call {(times[0] - due).total_seconds() * 1000:.0f} ms after due; "
        f"daemons' CPU {cpu * 1000 / max(1, len(calls)):.2f} ms per publish "
        f"({system * 1000 / max(1, len(calls)):.2f} of it in the kernel; "
        f"+ PostgreSQL backends {pg_cpu * 1000 / max(1, len(calls)):.2f} ms"
        + (
            f" = {per_publish:.2f} ms, target <= 1.5: {'ok' if per_publish <= 1.5 else 'MISSED'}"
            if judged and site.database_url
            else ""
        )
        + f"), {cpu / wall / daemons_n * 100:.0f} % of a core each; all CPUs {busy:.0f} % busy"
    )
    statements.report(len(calls))
    duplicates(calls)


def backend_cpu(site: Site) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving the daemons (the server runs
    on this machine): part of what a publish costs. The bench's own connections, which
    create and reschedule the posts, are left out."""
    if not site.database_url:
        return {}
    import psycopg

    with psycopg.connect(site.database_url) as conn:
        pids = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND application_name <> %s",
                (BENCH_APP,),
            )
        ]
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def backend_cpu_since(site: Site, before: dict[int, float]) -> float:
    after = backend_cpu(site)
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def lateness(calls: list[dict[str, Any]], due: datetime, latency_ms: float) -> list[float]:
    """Seconds from the due time to the end of each call (the sandbox logs its start)."""
    return [(c["at"] - due).total_seconds() + latency_ms / 1000 for c in calls]


def bench_burst(
    site: Site,
    daemons_n: int,
    destinations: int,
    accounts_n: int,
    latency_ms: float,
    concurrency: int | None = None,
    extra_env: dict[str, str] | None = None,
    tag: str = "burst",
) -> None:
    """Section 4: `destinations` posts over `accounts_n` accounts, all due the same
    second; daemons on their default settings (section 6: `concurrency` and `extra_env`)."""
    from autopostr.models import utcnow

    handles = site.add_accounts(accounts_n, prefix="acct" if tag == "burst" else tag)
    sandbox = site.home / f"sandbox-{tag}-{daemons_n}"
    env = {
        "AUTOPOSTR_SANDBOX_DIR": str(sandbox),
        "AUTOPOSTR_SANDBOX_LATENCY_MS": f"{latency_ms:g}",
        **(extra_env or {}),
    }
    later = utcnow() + timedelta(hours=1)
    post_ids: list[int] = []
    for i, handle in enumerate(handles):
        share = destinations // accounts_n + (1 if i < destinations % accounts_n else 0)
        post_ids += site.create([f"sandbox:{handle}"], later, share)
    daemons = Daemons(site, daemons_n, concurrency, env, f"{tag}-{daemons_n}")
    try:
        daemons.wait_idle()
        cpu, machine, pg = daemons.cpu_seconds(), machine_ticks(), backend_cpu(site)
        due = utcnow()
        site.reschedule(post_ids, due)
        peak = 0.0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            daemons.check_alive()
            peak = max(peak, daemons.rss())
            if sum(p.read_bytes().count(b"\n") for p in sandbox.glob("*.jsonl")) >= len(post_ids):
                break
            time.sleep(0.1)
        cpu, busy = daemons.cpu_seconds() - cpu, busy_share(machine)
        pg_cpu = backend_cpu_since(site, pg)
        calls = read_calls(sandbox, set(post_ids))
        late = lateness(calls, due, latency_ms)
        target = 15.0 if daemons_n == 1 else 8.0
        worst = max(late) if late else float("nan")
        verdict = (
            f"   (target all within {target:g} s: {'ok' if worst <= target else 'MISSED'})"
            if tag == "burst"
            else ""
        )
        print(
            f"{site.name:<11} {daemons_n} daemon(s): {len(calls)}/{len(post_ids)} sent, "
            f"lateness p50 {pct(late, 50):5.1f} s  p99 {pct(late, 99):5.1f} s  last {worst:5.1f} s"
            + verdict
        )
        print(
            f"{'':<11} daemons' CPU {cpu * 1000 / max(1, len(calls)):.1f} ms per publish "
            f"(+ PostgreSQL backends {pg_cpu * 1000 / max(1, len(calls)):.1f} ms); peak RSS "
            f"{peak:.1f} MB"
            + ("" if tag == "burst" else f" (target < 150 MB: {'ok' if peak < 150 else 'MISSED'})")
            + f"; all CPUs {busy:.0f} % busy"
        )
        if calls:
            first = min(c["at"] for c in calls)
            window = timedelta(milliseconds=latency_ms)
            print(
                f"{'':<11} {sum(1 for c in calls if c['at'] < first + window)} calls started "
                f"within the first call's {latency_ms:g} ms (in flight at once)"
            )
        recorded = site.recorded(post_ids, due)
        if recorded:
            print(
                f"{'':<11} recorded as published: p50 {pct(recorded, 50):5.1f} s  "
                f"p99 {pct(recorded, 99):5.1f} s  last {max(recorded):5.1f} s after due"
            )
        duplicates(calls)
    finally:
        daemons.stop()
        site.reschedule(post_ids, utcnow() + timedelta(days=365))


def bench_media_burst(
    site: Site, posts_n: int, processing: float, latency_ms: float, target: float = 5.0
) -> None:
    """Section 5: `posts_n` posts whose media the platform processes for `processing` s,
    and as many text posts, all due at once, each on its own account."""
    from autopostr.models import utcnow

    text_handles = site.add_accounts(posts_n, "text")
    media_handles = site.add_accounts(posts_n, "media")
    image = site.image()
    sandbox = site.home / "sandbox-media-burst"
    env = {
        "AUTOPOSTR_SANDBOX_DIR": str(sandbox),
        "AUTOPOSTR_SANDBOX_LATENCY_MS": f"{latency_ms:g}",
        "AUTOPOSTR_SANDBOX_PROCESSING_SECONDS": f"{processing:g}",
    }
    later = utcnow() + timedelta(hours=1)
    media_ids: list[int] = []
    text_ids: list[int] = []
    for handle in media_handles:
        media_ids += site.create([f"sandbox:{handle}"], later, 1, media_ids=(image,))
    for handle in text_handles:
        text_ids += site.create([f"sandbox:{handle}"], later, 1)
    daemons = Daemons(site, 1, None, env, "media-burst")
    try:
        daemons.wait_idle()
        due = utcnow()
        site.reschedule(media_ids + text_ids, due)
        if not wait_for_calls(sandbox, 2 * posts_n, daemons, STALL_SECONDS + processing):
            print(f"{site.name:<11} !! no publish call for {STALL_SECONDS:g} s: gave up waiting")
        text = lateness(read_calls(sandbox, set(text_ids)), due, latency_ms)
        media = lateness(read_calls(sandbox, set(media_ids)), due, latency_ms)
        worst = max(text) if text else float("nan")
        print(
            f"{site.name:<11} {len(text)}/{posts_n} text posts: p50 {pct(text, 50):5.1f} s  "
            f"last {worst:5.1f} s   (target within {target:g} s: "
            f"{'ok' if worst <= target else 'MISSED'})"
        )
        if media:
            print(
                f"{'':<11} {len(media)}/{posts_n} media posts ({processing:g} s of processing): "
                f"first {min(media):5.1f} s  last {max(media):5.1f} s"
            )
        duplicates(read_calls(sandbox, set(media_ids + text_ids)))
    finally:
        daemons.stop()
        site.reschedule(media_ids + text_ids, utcnow() + timedelta(days=365))


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
                    bench_throughput(
                        site, k, args.concurrency, args.destinations, args.latency_ms, args.accounts
                    )
            if not args.skip_burst:
                print(
                    f"\n== {engine}: 4. burst: {args.burst} destinations over {args.accounts} "
                    f"accounts due at once, sandbox latency {args.burst_latency_ms:g} ms"
                )
                for k in args.burst_daemons if engine == "postgresql" else [1]:
                    bench_burst(site, k, args.burst, args.accounts, args.burst_latency_ms)
            if args.inflight:
                print(
                    f"\n== {engine}: 6. {args.inflight} calls in flight in one daemon "
                    "(--concurrency and the sandbox's ceiling raised), sandbox latency 5000 ms"
                )
                bench_burst(
                    site,
                    1,
                    args.inflight,
                    -(-args.inflight // 4),
                    5000.0,
                    concurrency=args.inflight,
                    extra_env={"AUTOPOSTR_SANDBOX_MAX_IN_FLIGHT": str(args.inflight)},
                    tag="inflight",
                )
            if not args.skip_media:
                print(
                    f"\n== {engine}: 5. media burst: {args.media_posts} posts with "
                    f"{args.processing:g} s of processing + {args.media_posts} text posts"
                )
                bench_media_burst(site, args.media_posts, args.processing, args.burst_latency_ms)
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
    parser.add_argument("--accounts", type=int, default=100, help="accounts for 2 and 4")
    parser.add_argument("--burst", type=int, default=1000, help="destinations of the burst")
    parser.add_argument("--burst-latency-ms", type=float, default=1000.0)
    parser.add_argument(
        "--burst-daemons",
        type=lambda v: [int(k) for k in v.split(",") if k.strip()],
        default=[1, 2],
    )
    parser.add_argument("--media-posts", type=int, default=100)
    parser.add_argument("--processing", type=float, default=20.0, help="seconds, section 5")
    parser.add_argument("--skip-burst", action="store_true")
    parser.add_argument("--skip-media", action="store_true")
    parser.add_argument(
        "--inflight", type=int, default=1000, help="section 6: calls in flight (0 skips it)"
    )
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--skip-latency", action="store_true", help="(also skips the RSS)")
    parser.add_argument("--skip-throughput", action="store_true")
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
            print("\n== 3. idle daemon RSS (started, its first periodic jobs run)")
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
