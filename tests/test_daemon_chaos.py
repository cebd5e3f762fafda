"""Real daemons against one PostgreSQL: killed, restarted, stopped — nothing twice, nothing lost."""

from __future__ import annotations

import fcntl
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from autopostr.errors import AutopostrError
from tests.helpers import Cli, Daemons, db_session, sandbox_lines, wait_until

FAST = {
    "AUTOPOSTR_LEASE_SECONDS": "2",
    "AUTOPOSTR_HEARTBEAT_SECONDS": "0.5",
    "AUTOPOSTR_POLL_SECONDS": "1",
}


@pytest.fixture
def daemons(postgres_only: str) -> Iterator[Daemons]:
    # Hundreds of posts: their output would fill a pipe nobody reads.
    group = Daemons({**FAST, "NO_COLOR": "1"}, stdout=subprocess.DEVNULL)
    try:
        yield group
    finally:
        group.kill_all()


def schedule_many(
    cli: Cli, tmp_path: Path, count: int, handle: str, seconds_ahead: float
) -> datetime:
    due = (datetime.now(UTC) + timedelta(seconds=seconds_ahead)).replace(microsecond=0)
    rows = "".join(f"post {i},sandbox:{handle},{due.isoformat()}\n" for i in range(count))
    path = tmp_path / "many.csv"
    path.write_text("text,accounts,at\n" + rows, encoding="utf-8")
    assert cli.ok("posts", "import", str(path), "--json").json()["created"] == count
    return due


def sandbox_calls(home: Path, handle: str) -> Counter[int]:
    return Counter(entry["destination_id"] for entry in sandbox_lines(home, handle))


def destination_states() -> Counter[str]:
    from sqlmodel import select

    from autopostr.models import PostDestination

    with db_session() as session:
        return Counter(session.exec(select(PostDestination.status)).all())


# The database may be restarting under the test: an error reaching it means "ask again".
wait = functools.partial(
    wait_until,
    every=0.2,
    retry_on=(AutopostrError,),
    details=lambda: f"states: {dict(destination_states())}",
)


def settled(total: int) -> bool:
    states = destination_states()
    return states["published"] + states["needs_review"] + states["failed"] == total


def test_three_daemons_one_killed_publish_everything_exactly_once(
    daemons: Daemons, cli: Cli, tmp_path: Path, isolated_env: Path
) -> None:
    cli.ok("init")
    cli.ok("accounts", "add", "sandbox", "--handle", "chaos")
    total = 500
    schedule_many(cli, tmp_path, total, "chaos", seconds_ahead=3)
    latency = {"AUTOPOSTR_SANDBOX_LATENCY_MS": "100"}
    victim = daemons.start("--concurrency", "4", **latency)
    for _ in range(2):
        daemons.start("--concurrency", "4", **latency)

    wait(
        lambda: sum(sandbox_calls(isolated_env, "chaos").values()) >= 100, 60, "publishing to start"
    )
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)

    wait(lambda: settled(total), 120, "every destination to settle")
    calls = sandbox_calls(isolated_env, "chaos")
    states = destination_states()
    assert states["failed"] == 0
    assert states["needs_review"] <= 4  # at most the killed daemon's in-flight calls
    assert states["published"] + states["needs_review"] == total
    assert max(calls.values()) == 1, "a destination was published twice"
    assert len(calls) >= states["published"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    """An endpoint's status code and the `status` of its JSON answer."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read())["status"]
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())["status"]


DAEMON = [sys.executable, "-m", "autopostr", "daemon", "run"]

# fcntl's F_SETPIPE_SZ (Linux), spelled out for Pythons whose fcntl lacks the name.
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def test_a_daemon_whose_outcomes_cannot_be_written_lets_its_claims_go(
    request: pytest.FixtureRequest, daemons: Daemons, cli: Cli, tmp_path: Path, isolated_env: Path
) -> None:
    """A daemon whose outcome writer hangs (here on its log: a pipe nobody reads, as a
    stopped log reader leaves it) stops claiming and lets the claims whose outcomes wait
    lapse, although it lives on: another daemon recovers them by asking the platform,
    and everything goes out once."""
    cli.ok("init")
    cli.ok("accounts", "add", "sandbox", "--handle", "stall")
    total = 200
    schedule_many(cli, tmp_path, total, "stall", seconds_ahead=2)
    unread, log_pipe = os.pipe()
    fcntl.fcntl(log_pipe, F_SETPIPE_SZ, 4096)  # a page: a few dozen log lines fill it
    port = free_port()
    stuck = subprocess.Popen(
        [*DAEMON, "--concurrency", "4", "--metrics", f"127.0.0.1:{port}"],
        env={**os.environ, **FAST, "NO_COLOR": "1", "AUTOPOSTR_SANDBOX_LATENCY_MS": "20"},
        stdout=subprocess.DEVNULL,
        stderr=log_pipe,
        text=True,
    )
    os.close(log_pipe)
    daemons.procs.append(stuck)  # killed at the end
    request.addfinalizer(lambda: os.close(unread))
    wait(lambda: sum(sandbox_calls(isolated_env, "stall").values()) >= 20, 60, "publishing")
    # Its liveness says so, for systemd's watchdog or an orchestrator to restart it.
    healthz = f"http://127.0.0.1:{port}/healthz"
    wait(lambda: get(healthz) == (503, "stalled"), 30, "/healthz to say the daemon stalled")
    daemons.start("--concurrency", "4", AUTOPOSTR_SANDBOX_LATENCY_MS="20")

    wait(lambda: settled(total), 90, "every destination to settle")
    assert stuck.poll() is None, "the stalled daemon was to live on"
    calls = sandbox_calls(isolated_env, "stall")
    states = destination_states()
    assert states["published"] == total
    assert max(calls.values()) == 1, "a destination was published twice"


@pytest.mark.serial
def test_daemons_carry_on_when_postgres_restarts(
    daemons: Daemons, cli: Cli, tmp_path: Path, isolated_env: Path
) -> None:
    cluster = sorted(os.listdir("/etc/postgresql"))[0] if os.path.isdir("/etc/postgresql") else None
    if cluster is None:
        pytest.fail("this test restarts the local PostgreSQL cluster; /etc/postgresql is missing")
    cli.ok("init")
    cli.ok("accounts", "add", "sandbox", "--handle", "restart")
    total = 300
    schedule_many(cli, tmp_path, total, "restart", seconds_ahead=3)
    latency = {"AUTOPOSTR_SANDBOX_LATENCY_MS": "100"}
    for _ in range(2):
        daemons.start("--concurrency", "2", **latency)
    wait(
        lambda: sum(sandbox_calls(isolated_env, "restart").values()) >= 30,
        60,
        "publishing to start",
    )
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "restart", "-m", "fast"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    from autopostr.db import dispose_engines

    dispose_engines()
    wait(lambda: settled(total), 90, "every destination to settle after the restart")
    assert all(proc.poll() is None for proc in daemons.procs), "a daemon died with the database"
    calls = sandbox_calls(isolated_env, "restart")
    states = destination_states()
    assert states["failed"] == 0
    assert max(calls.values()) == 1, "a destination was published twice"
    assert states["published"] + states["needs_review"] == total


def test_sigterm_finishes_in_flight_work_and_exits_0(
    daemons: Daemons, cli: Cli, tmp_path: Path, isolated_env: Path
) -> None:
    cli.ok("init")
    cli.ok("accounts", "add", "sandbox", "--handle", "calm")
    total = 6
    schedule_many(cli, tmp_path, total, "calm", seconds_ahead=2)
    proc = daemons.start(
        "--concurrency", "3", AUTOPOSTR_SANDBOX_LATENCY_MS="1500", AUTOPOSTR_GRACE_SECONDS="10"
    )
    wait(lambda: destination_states()["claimed"] >= 3, 30, "three calls in flight")
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    assert time.monotonic() - started < 10
    states = destination_states()
    assert states["claimed"] == 0, "a claim was left behind"
    assert states["published"] >= 3 and states["published"] + states["pending"] == total
    assert max(sandbox_calls(isolated_env, "calm").values()) == 1


def test_idle_daemon_wakes_on_notify_not_on_a_timer(
    daemons: Daemons, cli: Cli, isolated_env: Path
) -> None:
    cli.ok("init")
    cli.ok("accounts", "add", "sandbox", "--handle", "prompt")
    daemons.start(AUTOPOSTR_POLL_SECONDS="60")
    time.sleep(2)  # idle, with a minute-long fallback poll
    post = cli.ok(
        "posts", "create", "--to", "sandbox:prompt", "--text", "wake up", "--at", "+2s", "--json"
    ).json()
    due = datetime.fromisoformat(post["scheduled_at"])
    wait(lambda: sum(sandbox_calls(isolated_env, "prompt").values()) == 1, 10, "the post to go out")
    line = json.loads((isolated_env / "sandbox" / "prompt.jsonl").read_text().splitlines()[0])
    called = datetime.fromisoformat(line["at"].replace("Z", "+00:00"))
    assert timedelta(0) <= called - due < timedelta(seconds=1.5)


def claims_by() -> dict[int, str]:
    """Claimed destinations and who holds them."""
    from sqlmodel import col, select

    from autopostr.models import PostDestination

    with db_session() as session:
        rows = session.exec(
            select(PostDestination.id, PostDestination.claimed_by).where(
                col(PostDestination.status) == "claimed"
            )
        ).all()
    return {int(i or 0): str(by) for i, by in rows}


def settled_ids(ids: set[int]) -> bool:
    from sqlmodel import col, select

    from autopostr.models import PostDestination

    with db_session() as session:
        states = session.exec(
            select(PostDestination.status).where(col(PostDestination.id).in_(ids))
        ).all()
    return len(states) == len(ids) and all(
        s in ("published", "needs_review", "failed") for s in states
    )


def test_a_killed_daemons_claims_are_taken_over_within_15_s_not_at_lease_expiry(
    postgres_only: str, cli: Cli, tmp_path: Path, isolated_env: Path
) -> None:
    """The lease is a minute; the dead daemon's lock is free at once, so its claims are not."""
    group = Daemons(
        {
            "AUTOPOSTR_LEASE_SECONDS": "60",
            "AUTOPOSTR_HEARTBEAT_SECONDS": "2",
            "NO_COLOR": "1",
        },
        stdout=subprocess.DEVNULL,
    )
    try:
        cli.ok("init")
        cli.ok("accounts", "add", "sandbox", "--handle", "takeover")
        # The victim's calls hang for a minute: killed mid-call, its claims may have been sent.
        # The sandbox takes 4 posts of one account at once: the victim holds all 4.
        victim = group.start("--concurrency", "4", AUTOPOSTR_SANDBOX_LATENCY_MS="60000")
        schedule_many(cli, tmp_path, 4, "takeover", seconds_ahead=3)
        held: dict[int, str] = wait(
            lambda: claims_by() if len(claims_by()) == 4 else {}, 30, "the victim to claim all"
        )
        ids, dead = set(held), set(held.values())
        assert len(dead) == 1
        group.start("--concurrency", "4", AUTOPOSTR_SANDBOX_LATENCY_MS="50")
        # The survivor judges others once it has held its own lock for a heartbeat (5 s at least).
        wait(lambda: len(cli.ok("daemon", "status", "--json").json()) == 2, 20, "two daemons alive")
        time.sleep(6)  # past its settling time: it judges others now
        assert claims_by() == held, "the survivor took claims of a living daemon"

        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        killed = time.monotonic()
        wait(lambda: settled_ids(ids), 30, "the dead daemon's claims to be resolved")
        took = time.monotonic() - killed
        assert took < 15, f"took {took:.1f} s"
        assert max(sandbox_calls(isolated_env, "takeover").values()) == 1
        states = Counter(destination_states())
        assert states["published"] == 4  # the sandbox can tell: nothing needs review
        status = {d["id"]: d["state"] for d in cli.ok("daemon", "status", "--all", "--json").json()}
        assert status[dead.pop()] == "silent"  # its lock is free: not alive, at once
    finally:
        group.kill_all()
