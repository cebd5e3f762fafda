"""Operating the daemon: systemd units and the notify protocol, `daemon status`, the doctor's
daemon and overdue checks, one daemon per SQLite file, and `posts reconcile`."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from autopostr.daemon.runner import FIRST_JOBS_AFTER
from tests.helpers import (
    QUICK,
    Cli,
    Daemons,
    db_session,
    doctor,
    make_due,
    new_post,
    run_autopostr,
    sandbox_lines,
    wait_until,
)

DAEMON_CHECK = "a daemon is alive"
OVERDUE_CHECK = "nothing is overdue"


# -- systemd ------------------------------------------------------------------


@pytest.mark.parametrize("user", [False, True])
def test_systemd_unit_is_type_notify_with_a_watchdog(cli: Cli, tmp_path: Path, user: bool) -> None:
    run = cli.ok("daemon", "systemd-unit", *(["--user"] if user else []))
    unit = run.stdout
    lines = unit.splitlines()
    assert "Type=notify" in lines
    assert any(line.startswith("WatchdogSec=") for line in lines)
    (exec_start,) = [line for line in lines if line.startswith("ExecStart=")]
    assert exec_start.endswith(" daemon run")
    assert ("WantedBy=default.target" in lines) is user
    assert ("DynamicUser=yes" in lines) is not user
    assert run.stderr == ""

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return  # only the verify step needs systemd on this machine
    path = tmp_path / "autopostr.service"
    path.write_text(unit)
    verify = subprocess.run(
        [analyze, "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    assert verify.returncode == 0, verify.stderr
    assert "autopostr.service" not in verify.stderr, verify.stderr  # no warning about our unit


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket standing in for systemd's; a short path (sun_path holds 108 bytes)."""
    folder = tempfile.mkdtemp(prefix="apn-")
    path = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        yield sock, path
    finally:
        sock.close()
        shutil.rmtree(folder, ignore_errors=True)


def receive_until(
    sock: socket.socket, done: Callable[[list[str]], bool], timeout: float, got: list[str]
) -> None:
    """Collect notify messages into `got` until `done(got)`."""
    deadline = time.monotonic() + timeout
    while not done(got):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out after {timeout} s; got {got}"
        sock.settimeout(remaining)
        try:
            got.append(sock.recv(4096).decode("utf-8"))
        except TimeoutError:
            continue


def count(got: list[str], message: str) -> int:
    return sum(m.splitlines().count(message) for m in got)


def test_daemon_tells_systemd_ready_watchdog_and_stopping(
    cli: Cli, daemons: Daemons, notify_socket: tuple[socket.socket, str]
) -> None:
    cli.ok("init")  # the default SQLite in the test's home
    sock, path = notify_socket
    proc = daemons.start(NOTIFY_SOCKET=path, WATCHDOG_USEC="2000000")
    got: list[str] = []
    receive_until(sock, lambda g: count(g, "READY=1") == 1, 30, got)
    after_ready = len(got)
    receive_until(sock, lambda g: count(g[after_ready:], "WATCHDOG=1") >= 1, 5, got)
    # Pings keep coming, at least once per half watchdog interval (1 s here).
    receive_until(sock, lambda g: count(g[after_ready:], "WATCHDOG=1") >= 3, 5, got)

    code, err = daemons.stop(proc)
    assert code == 0, err
    receive_until(sock, lambda g: count(g, "STOPPING=1") == 1, 5, got)
    assert "Traceback" not in err


# -- daemon status --------------------------------------------------------------


def mine(rows: list[dict[str, Any]], pid: int) -> list[dict[str, Any]]:
    return [r for r in rows if r["pid"] == pid]


def test_status_lists_a_running_daemon_then_shows_it_stopped(
    initialized: str, cli: Cli, daemons: Daemons
) -> None:
    proc = daemons.start()

    def alive() -> list[dict[str, Any]]:
        return mine(cli.ok("daemon", "status", "--json").json(), proc.pid)

    (row,) = wait_until(alive, 30, "the daemon to register")
    assert row["state"] == "alive"
    assert row["host"] == socket.gethostname()
    assert row["stopped_at"] is None and row["started_at"].endswith("+00:00")
    first_beat = row["heartbeat_at"]
    wait_until(lambda: alive() and alive()[0]["heartbeat_at"] != first_beat, 10, "a heartbeat")
    assert "alive" in cli.ok("daemon", "status").stdout

    code, err = daemons.stop(proc)
    assert code == 0, err
    assert mine(cli.ok("daemon", "status", "--json").json(), proc.pid) == []
    (stopped,) = mine(cli.ok("daemon", "status", "--all", "--json").json(), proc.pid)
    assert stopped["state"] == "stopped" and stopped["stopped_at"] is not None


def test_a_second_daemon_on_the_same_sqlite_file_exits_5(cli: Cli, daemons: Daemons) -> None:
    cli.ok("init")
    first = daemons.start()
    wait_until(lambda: cli.ok("daemon", "status", "--json").json(), 30, "the first daemon")
    second = run_autopostr("daemon", "run", env=QUICK, timeout=60)
    assert second.returncode == 5, second.stderr
    assert "a daemon already runs" in second.stderr
    assert second.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert first.poll() is None  # the first one carries on
    # `--once` may still run alongside, as the message says.
    assert run_autopostr("daemon", "run", "--once", timeout=60).returncode == 0
    code, err = daemons.stop(first)
    assert code == 0, err


def test_a_restarted_daemon_takes_over_its_killed_predecessors_claims_at_once(
    sandbox: str, cli: Cli, daemons: Daemons, isolated_env: Path
) -> None:
    """The liveness lock (SQLite's file lock, PostgreSQL's advisory lock) says the killed
    daemon is gone: its claims need not wait out the minute-long lease."""
    post = new_post(cli, "killed mid-call", "--at", "+1s")
    slow = {**QUICK, "AUTOPOSTR_LEASE_SECONDS": "60", "AUTOPOSTR_SANDBOX_LATENCY_MS": "60000"}
    victim = daemons.start(**slow)

    def claimed() -> bool:
        from sqlmodel import select

        from autopostr.models import PostDestination

        with db_session() as session:
            return session.exec(select(PostDestination.status)).all() == ["claimed"]

    wait_until(claimed, 30, "the destination to be claimed")
    victim.kill()
    victim.wait(timeout=10)
    successor = daemons.start(**QUICK, AUTOPOSTR_LEASE_SECONDS="60")
    wait_until(
        lambda: mine(cli.ok("daemon", "status", "--json").json(), successor.pid),
        30,
        "the new daemon to start",
    )
    started = time.monotonic()  # from its start: how long a process takes to load is not ours
    wait_until(
        lambda: cli.ok("posts", "show", post, "--json").json()["status"] == "published",
        20,
        "the new daemon to take the claim over",
    )
    assert time.monotonic() - started < 15
    assert len(sandbox_lines(isolated_env, "demo")) == 1


# -- doctor -----------------------------------------------------------------------


def add_heartbeat(ago: timedelta, stopped: bool = False) -> None:
    from autopostr.models import Daemon, utcnow

    beat = utcnow() - ago
    with db_session() as session:
        session.add(
            Daemon(
                id=f"testhost:{os.getpid()}:{ago.total_seconds():.0f}",
                host="testhost",
                pid=4242,
                started_at=beat - timedelta(minutes=5),
                heartbeat_at=beat,
                stopped_at=beat if stopped else None,
            )
        )


def test_no_daemon_is_only_a_warning_while_nothing_is_scheduled(sandbox: str, cli: Cli) -> None:
    new_post(cli)  # a draft waits for nobody
    code, checks = doctor(cli)
    assert code == 0
    assert checks[DAEMON_CHECK]["status"] == "warn"
    assert "autopostr daemon run" in checks[DAEMON_CHECK]["fix"]
    assert checks[OVERDUE_CHECK]["status"] == "ok"


def test_no_daemon_with_a_scheduled_post_fails(sandbox: str, cli: Cli) -> None:
    new_post(cli, "Hello", "--at", "+1h")
    code, checks = doctor(cli)
    assert code == 1
    check = checks[DAEMON_CHECK]
    assert check["status"] == "fail"
    assert "1 destination" in check["detail"]
    assert "autopostr daemon run" in check["fix"] and "--once" in check["fix"]
    assert checks[OVERDUE_CHECK]["status"] == "ok"  # due in an hour is not overdue

    for ago, stopped in ((timedelta(minutes=3), False), (timedelta(seconds=2), True)):
        add_heartbeat(ago, stopped)  # a silent daemon and a stopped one do not count
        assert doctor(cli)[1][DAEMON_CHECK]["status"] == "fail"

    add_heartbeat(timedelta(seconds=1))
    code, checks = doctor(cli)
    assert code == 0
    assert checks[DAEMON_CHECK]["status"] == "ok"
    assert "testhost pid 4242" in checks[DAEMON_CHECK]["detail"]


def test_a_recent_cron_run_counts_as_the_publisher(sandbox: str, cli: Cli) -> None:
    new_post(cli, "Hello", "--at", "+1h")
    assert doctor(cli)[1][DAEMON_CHECK]["status"] == "fail"
    cli.ok("daemon", "run", "--once")
    code, checks = doctor(cli)
    assert checks[DAEMON_CHECK]["status"] == "ok" and "cron" in checks[DAEMON_CHECK]["detail"]
    assert code == 0


def test_an_overdue_post_fails_its_check_naming_count_and_oldest(sandbox: str, cli: Cli) -> None:
    add_heartbeat(timedelta(seconds=1))  # a daemon "runs" but publishes nothing
    recent, old = new_post(cli, "Hello", "--at", "+1h"), new_post(cli, "Hello", "--at", "+1h")
    make_due(int(old), ago=timedelta(minutes=20))
    make_due(int(recent), ago=timedelta(minutes=5))
    code, checks = doctor(cli)
    assert code == 1
    check = checks[OVERDUE_CHECK]
    assert check["status"] == "fail"
    assert "1 destination" in check["detail"]
    assert f"post {old} to sandbox:demo" in check["detail"]
    assert "20 min ago" in check["detail"]
    assert "autopostr daemon run" in check["fix"] and "autopostr logs" in check["fix"]

    make_due(int(recent), ago=timedelta(minutes=30))
    detail = doctor(cli)[1][OVERDUE_CHECK]["detail"]
    assert "2 destination" in detail and f"post {recent} to" in detail  # the older one now

    code, checks = doctor(cli, AUTOPOSTR_OVERDUE_MINUTES="45")
    assert code == 0 and checks[OVERDUE_CHECK]["status"] == "ok"
    code, checks = doctor(cli, AUTOPOSTR_OVERDUE_MINUTES="soon")
    assert checks[OVERDUE_CHECK]["status"] == "fail"
    assert "AUTOPOSTR_OVERDUE_MINUTES" in checks[OVERDUE_CHECK]["fix"]


def test_a_retry_waiting_for_its_time_is_not_overdue(sandbox: str, cli: Cli) -> None:
    from sqlmodel import select

    from autopostr.models import PostDestination, utcnow

    add_heartbeat(timedelta(seconds=1))
    post = new_post(cli, "Hello", "--at", "+1h")
    make_due(int(post), ago=timedelta(minutes=20))
    with db_session() as session:
        dest = session.exec(
            select(PostDestination).where(PostDestination.post_id == int(post))
        ).one()
        dest.status, dest.next_attempt_at = "retrying", utcnow() + timedelta(minutes=2)
        session.add(dest)
    code, checks = doctor(cli)
    assert code == 0 and checks[OVERDUE_CHECK]["status"] == "ok"


# -- posts reconcile --------------------------------------------------------------


def needs_review(post: str) -> tuple[int, str]:
    """What a daemon that died mid-call leaves behind; returns the destination's id and key."""
    from sqlmodel import select

    from autopostr.models import Post, PostDestination, utcnow

    with db_session() as session:
        dest = session.exec(
            select(PostDestination).where(PostDestination.post_id == int(post))
        ).one()
        dest.status, dest.attempts = "needs_review", 1
        dest.due_at = utcnow() - timedelta(minutes=1)
        dest.error = "the publisher died during the call"
        session.add(dest)
        row = session.get(Post, int(post))
        assert row is not None
        row.status = "publishing"
        session.add(row)
        assert dest.id is not None and dest.idempotency_key
        return dest.id, dest.idempotency_key


def test_reconcile_resolves_what_the_platform_can_tell(
    sandbox: str, cli: Cli, isolated_env: Path
) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "two")
    cli.ok("accounts", "add", "sandbox", "--handle", "gone")
    went_out = new_post(cli, text="went out")
    never_sent = new_post(cli, text="never sent", to="sandbox:two")
    unknown = new_post(cli, text="cannot tell", to="sandbox:gone")
    out_dest, out_key = needs_review(went_out)
    never_dest, _ = needs_review(never_sent)
    needs_review(unknown)
    # The call that "died" had reached the sandbox: its line is there.
    line = {"remote_id": "sbx_feedc0ffee", "account": "demo", "post_id": int(went_out)}
    line |= {"destination_id": out_dest, "idempotency_key": out_key, "text": "went out"}
    (isolated_env / "sandbox").mkdir(parents=True)
    (isolated_env / "sandbox" / "demo.jsonl").write_text(json.dumps(line) + "\n")
    # An account that needs reconnecting cannot be asked: that one stays for a person.
    from sqlmodel import select

    from autopostr.models import SocialAccount

    with db_session() as session:
        account = session.exec(select(SocialAccount).where(SocialAccount.handle == "gone")).one()
        account.status = "needs_reconnect"
        session.add(account)

    run = cli.ok("posts", "reconcile", "--json")
    results = {r["post"]: r for r in run.json()}
    assert set(results) == {went_out, never_sent, unknown}
    assert set(results[went_out]) == {"destination", "post", "account", "status"}
    assert results[went_out]["status"] == "published"
    assert results[went_out]["destination"] == str(out_dest)
    assert results[never_sent]["status"] == "pending"
    assert results[unknown]["status"] == "needs_review"
    assert results[unknown]["account"] == "sandbox:gone"

    shown = cli.ok("posts", "show", went_out, "--json").json()
    assert shown["status"] == "published"
    assert shown["destinations"][0]["remote_id"] == "sbx_feedc0ffee"
    assert shown["destinations"][0]["url"].endswith("/demo/sbx_feedc0ffee")
    assert cli.ok("posts", "show", unknown, "--json").json()["destinations"][0]["status"] == (
        "needs_review"
    )

    # The daemon now sends only the one the platform never got.
    once = cli("daemon", "run", "--once", "--json")
    assert once.exit_code == 0, once.stderr
    assert [(o["destination"], o["status"]) for o in once.json()] == [
        (str(never_dest), "published")
    ]
    assert [entry["destination_id"] for entry in sandbox_lines(isolated_env)] == [out_dest]
    assert [entry["destination_id"] for entry in sandbox_lines(isolated_env, "two")] == [never_dest]
    assert cli.ok("posts", "show", never_sent, "--json").json()["status"] == "published"

    again = cli.ok("posts", "reconcile")
    assert "still needs review" in again.stderr and "sandbox:gone" in again.stderr
    assert "autopostr posts retry" in again.stderr


def test_reconcile_two_destinations_of_one_account(
    sandbox: str, cli: Cli, isolated_env: Path
) -> None:
    first, second = new_post(cli, text="first"), new_post(cli, text="second")
    first_dest, first_key = needs_review(first)
    needs_review(second)
    line = {"remote_id": "sbx_0001", "destination_id": first_dest, "idempotency_key": first_key}
    (isolated_env / "sandbox").mkdir(parents=True)
    (isolated_env / "sandbox" / "demo.jsonl").write_text(json.dumps(line) + "\n")
    results = {r["post"]: r["status"] for r in cli.ok("posts", "reconcile", "--json").json()}
    assert results == {first: "published", second: "pending"}


def test_reconcile_with_nothing_to_review_says_so(sandbox: str, cli: Cli) -> None:
    assert cli.ok("posts", "reconcile", "--json").json() == []
    run = cli.ok("posts", "reconcile")
    assert "Nothing needs review" in run.stderr and run.stdout == ""


def test_a_daemon_counts_as_silent_after_three_of_its_heartbeat_intervals(
    initialized: str, cli: Cli
) -> None:
    add_heartbeat(timedelta(seconds=5))
    add_heartbeat(timedelta(seconds=40))
    states = {
        d["heartbeat_at"][:19]: d["state"]
        for d in cli.ok("daemon", "status", "--all", "--json").json()
    }
    assert sorted(states.values()) == ["alive", "silent"]  # 10 s beats: silent after 30 s
    fast = {"AUTOPOSTR_HEARTBEAT_SECONDS": "1"}
    rows = cli.ok("daemon", "status", "--all", "--json", env=fast).json()
    assert [d["state"] for d in rows] == ["silent", "silent"]  # 1 s beats: after 3 s
    _, checks = doctor(cli, **fast)
    assert "3 s" in checks[DAEMON_CHECK]["detail"]


# -- stopping in the middle of a long periodic job ---------------------------------------


def test_sigterm_during_a_long_analytics_sync_exits_after_the_calls_under_way(
    cli: Cli, daemons: Daemons
) -> None:
    """Sixteen accounts asked for their numbers four at a time, 3 s a call: a sync of 12 s.
    Asked to stop a second into it, the daemon lets the four calls under way end and
    leaves the other accounts to the next run, instead of finishing the sync first."""
    from autopostr import accounts
    from autopostr.config import load_settings
    from autopostr.db import Database
    from autopostr.local_session import current_actor

    cli.ok("init")
    settings = load_settings()
    db = Database(settings)
    with db.session() as session:
        actor = current_actor(settings, db, session)
        for n in range(16):
            accounts.add(session, actor, settings, "sandbox", f"numbers{n}")
    proc = daemons.start(AUTOPOSTR_SANDBOX_LATENCY_MS="3000")
    wait_until(lambda: cli.ok("daemon", "status", "--json").json(), 30, "the daemon")
    time.sleep(FIRST_JOBS_AFTER.total_seconds() + 1.5)  # the sync's first calls are under way
    began = time.monotonic()
    code, err = daemons.stop(proc)
    took = time.monotonic() - began
    assert code == 0, err
    assert took < 6.0, f"stopping took {took:.1f} s: {err[-2000:]}"  # not the other 9 s


# -- memory -----------------------------------------------------------------------


def thread_heaps(pid: int) -> int:
    """glibc arenas beside the main one. Each lives in a heap: 64 MB reserved at a 64 MB
    boundary, its used start read-write and the rest `---p` up to the next boundary, so a
    thread's stack or a large allocation that happens to start aligned is not counted."""
    heap_size = 64 << 20
    regions = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        address, perms, _offset, _device, inode, *name = line.split()
        start, end = (int(part, 16) for part in address.split("-"))
        regions.append((start, end, perms if inode == "0" and not name else "file"))
    heaps = 0
    for (start, end, perms), (rest_start, rest_end, rest_perms) in itertools.pairwise(regions):
        used = start % heap_size == 0 and perms.startswith("rw")
        reserved = rest_start == end and rest_end == start + heap_size
        heaps += used and reserved and rest_perms.startswith("---")
    return heaps


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/PID/maps")
def test_a_daemons_threads_share_two_malloc_arenas(
    sandbox: str, cli: Cli, daemons: Daemons, isolated_env: Path
) -> None:
    """Each thread's own arena keeps freed memory of its own: a dozen threads (loop,
    writer, heartbeat, workers) carried a MB more of an idle daemon's memory."""
    for n in range(12):
        new_post(cli, f"post {n}", "--at", "+1s")
    proc = daemons.start("--concurrency", "8", AUTOPOSTR_SANDBOX_LATENCY_MS="200")
    wait_until(lambda: len(sandbox_lines(isolated_env, "demo")) == 12, 30, "the posts to go out")
    wait_until(
        lambda: all(p["status"] == "published" for p in cli.ok("posts", "list", "--json").json()),
        10,
        "their outcomes to be written",
    )
    assert thread_heaps(proc.pid) <= 1
