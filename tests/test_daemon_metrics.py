"""`daemon run --metrics`: Prometheus metrics scraped from a real daemon, /healthz and
/readyz (503 while the database is unreachable, through a proxy the test cuts), and the
bearer token off loopback."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from autopostr.daemon.metrics import parse_address
from autopostr.errors import ConfigError
from tests.fakes.tcp_proxy import TcpProxy
from tests.helpers import QUICK, Cli, Daemons, new_post, run_autopostr, wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from Prometheus text (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+)(?:\{(.*)\})? (\S+)$", line)
        if match and match[1] == name:
            have = ",".join(sorted((match[2] or "").split(","))) if match[2] else ""
            if have == wanted:
                return float(match[3])
    return 0.0


@pytest.fixture
def group() -> Iterator[Daemons]:
    daemons = Daemons(stdout=subprocess.DEVNULL)
    yield daemons
    daemons.kill_all()


def served(port: int) -> bool:
    try:
        return get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    except OSError:
        return False


def test_metrics_move_while_a_real_daemon_publishes(sandbox: str, cli: Cli, group: Daemons) -> None:
    port = free_port()
    proc = group.start("--metrics", f"127.0.0.1:{port}")
    wait_until(lambda: served(port), 30, "the metrics endpoint")
    base = f"http://127.0.0.1:{port}"
    status, before = get(f"{base}/metrics")
    assert status == 200
    published = {"platform": "sandbox", "result": "published"}
    assert sample(before, "autopostr_publish_total", **published) == 0
    assert sample(before, "autopostr_destinations", state="published") == 0

    posts = [new_post(cli, f"measured {n}", "--at", "+1s") for n in range(3)]

    def all_out() -> bool:
        return all(
            cli.ok("posts", "show", p, "--json").json()["status"] == "published" for p in posts
        )

    wait_until(all_out, 30, "the posts to go out")

    def counted() -> str:
        text = get(f"{base}/metrics")[1]
        return text if sample(text, "autopostr_publish_total", **published) == 3 else ""

    after = wait_until(counted, 15, "the counter to reach 3")
    assert sample(after, "autopostr_due_to_call_seconds_count", platform="sandbox") == 3
    assert sample(after, "autopostr_platform_call_seconds_count", **published) == 3
    assert sample(after, "autopostr_due_to_call_seconds_bucket", platform="sandbox", le="+Inf") == 3
    wait_until(
        lambda: sample(get(f"{base}/metrics")[1], "autopostr_last_heartbeat_timestamp_seconds") > 0,
        15,
        "a heartbeat",
    )
    # The queue's gauges come from the database (cached a few seconds).
    wait_until(
        lambda: sample(get(f"{base}/metrics")[1], "autopostr_destinations", state="published") == 3,
        15,
        "the queue gauge",
    )
    assert "autopostr_db_pool_in_use" in after and "autopostr_due_unclaimed" in after
    status, ready = get(f"{base}/readyz")
    assert status == 200
    assert json.loads(ready)["checks"] == {
        "database": "ok",
        "schema": "ok",
        "key": "ok",
    }
    assert get(f"{base}/nothing")[0] == 404
    code, err = group.stop(proc)
    assert code == 0, err


def test_readyz_is_503_while_postgresql_is_unreachable_and_200_when_it_is_back(
    postgres_only: str, cli: Cli, group: Daemons
) -> None:
    cli.ok("init")
    url = os.environ["AUTOPOSTR_DATABASE_URL"]
    parts = urlsplit(url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    netloc = parts.netloc.rsplit("@", 1)
    through = (netloc[0] + "@" if len(netloc) == 2 else "") + f"127.0.0.1:{proxy.port}"
    port = free_port()
    try:
        group.start(
            "--metrics",
            f"127.0.0.1:{port}",
            AUTOPOSTR_DATABASE_URL=urlunsplit(parts._replace(netloc=through)),
        )
        wait_until(lambda: served(port), 30, "the metrics endpoint")
        wait_until(lambda: cli.ok("daemon", "status", "--json").json(), 30, "the daemon to start")
        readyz = f"http://127.0.0.1:{port}/readyz"
        assert get(readyz)[0] == 200

        proxy.cut()

        def unreachable() -> str:
            status, body = get(readyz)
            return body if status == 503 and json.loads(body)["checks"]["database"] != "ok" else ""

        body = wait_until(unreachable, 30, "a 503 saying the database is unreachable")
        assert json.loads(body)["checks"]["database"].startswith("cannot reach the database")
        assert "password" not in body
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200  # alive, only not ready

        proxy.restore()
        wait_until(lambda: get(readyz)[0] == 200, 30, "ready again")
        assert all(proc.poll() is None for proc in group.procs), "the daemon died meanwhile"
    finally:
        proxy.close()


def test_off_loopback_the_endpoints_need_the_bearer_token(initialized: str, group: Daemons) -> None:
    port = free_port()
    refused = run_autopostr("daemon", "run", "--metrics", f"0.0.0.0:{port}", env=QUICK, timeout=60)
    assert refused.returncode == 5, refused.stderr
    assert "AUTOPOSTR_METRICS_TOKEN" in refused.stderr

    token = "metrics-token-7f3a9c1e"
    group.start(AUTOPOSTR_METRICS=f"0.0.0.0:{port}", AUTOPOSTR_METRICS_TOKEN=token)
    base = f"http://127.0.0.1:{port}"
    wait_until(
        lambda: get(f"{base}/healthz", token)[0] == 200, 30, "the endpoint", retry_on=(OSError,)
    )
    for path in ("/metrics", "/healthz", "/readyz"):
        assert get(base + path)[0] == 401
        assert get(base + path, "wrong-token")[0] == 401
    assert get(f"{base}/metrics", token)[0] == 200


@pytest.mark.parametrize(
    ("raw", "host", "port", "loopback"),
    [
        ("127.0.0.1:9464", "127.0.0.1", 9464, True),
        ("[::1]:9464", "::1", 9464, True),
        (":9464", "127.0.0.1", 9464, True),
        ("localhost:1", "localhost", 1, True),
        ("0.0.0.0:9464", "0.0.0.0", 9464, False),
        ("metrics.internal:9464", "metrics.internal", 9464, False),
    ],
)
def test_metrics_addresses(raw: str, host: str, port: int, loopback: bool) -> None:
    address = parse_address(raw)
    assert (address.host, address.port, address.loopback) == (host, port, loopback)


@pytest.mark.parametrize("raw", ["9464", "127.0.0.1:", "127.0.0.1:99999", "host:port"])
def test_bad_metrics_addresses_are_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="HOST:PORT"):
        parse_address(raw)
