"""`daemon run --metrics HOST:PORT`: Prometheus metrics, /healthz and /readyz over HTTP.

Metrics come from the official `prometheus-client`, in a registry of this daemon's
own. Counters and histograms are fed by `telemetry` events (the domain never imports
this module); the queue-wide gauges come from the database, one cached read per
scrape (`queue.stats`), so several daemons each export their own numbers and the
same queue figures. The server is loopback by default; bound anywhere else it
requires AUTOPOSTR_METRICS_TOKEN as a bearer token on every request.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from autopostr import telemetry
from autopostr.config import Settings
from autopostr.db import Database
from autopostr.errors import ConfigError

if TYPE_CHECKING:
    from autopostr.daemon.health import Health
    from autopostr.queue.stats import QueueCounts

log = logging.getLogger("autopostr.daemon")

QUEUE_CACHE_SECONDS = 5.0
# Due -> call and platform calls: from a few milliseconds to minutes (media processing).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # a host name: whatever it resolves to, not ours to assume


def parse_address(raw: str) -> Address:
    """`127.0.0.1:9464`, `[::1]:9464`, `0.0.0.0:9464`; `:9464` means loopback."""
    host, sep, port = raw.strip().rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"metrics address {raw!r} is not HOST:PORT: use e.g. 127.0.0.1:9464 "
            "(--metrics or AUTOPOSTR_METRICS)"
        )
    return Address(host, int(port))


class Metrics:
    """The daemon's metrics: a registry of its own, fed by telemetry events."""

    def __init__(self, db: Database):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.db = db
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.publish = Counter(
            "autopostr_publish",
            "Destinations' publish outcomes",
            ["platform", "result"],
            registry=r,
        )
        self.call_seconds = Histogram(
            "autopostr_platform_call_seconds",
            "Time spent in the platform's publish calls",
            ["platform", "result"],
            buckets=CALL_BUCKETS,
            registry=r,
        )
        self.due_to_call = Histogram(
            "autopostr_due_to_call_seconds",
            "From a destination's due time to its publish call",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.retries = Counter(
            "autopostr_retries", "Publishes that will be tried again", ["platform"], registry=r
        )
        self.refreshes = Counter(
            "autopostr_token_refreshes", "OAuth token refreshes", ["platform", "result"], registry=r
        )
        self.jobs = Counter(
            "autopostr_job_runs",
            "Periodic job runs (analytics sync, billing, cleanups, token refresh)",
            ["job", "result"],
            registry=r,
        )
        self.job_seconds = Histogram(
            "autopostr_job_duration_seconds", "Periodic job run time", ["job"], registry=r
        )
        self.heartbeat = Gauge(
            "autopostr_last_heartbeat_timestamp_seconds",
            "When this daemon last wrote its heartbeat (Unix time)",
            registry=r,
        )
        self.in_flight = Gauge(
            "autopostr_in_flight", "Publish calls this daemon has running or queued", registry=r
        )
        pool = Gauge(
            "autopostr_db_pool_in_use", "Database connections checked out of the pool", registry=r
        )
        pool.set_function(self._pool_in_use)
        r.register(_QueueCollector(self))
        self._queue: tuple[float, QueueCounts | None] = (0.0, None)
        self._queue_lock = threading.Lock()

    def _pool_in_use(self) -> float:
        checked_out = getattr(self.db.engine.pool, "checkedout", None)
        return float(checked_out()) if callable(checked_out) else 0.0

    def queue(self) -> QueueCounts | None:
        """The queue's counts, read at most once per QUEUE_CACHE_SECONDS (None: unreadable)."""
        from autopostr.queue.stats import queue_counts

        with self._queue_lock:
            at, counts = self._queue
            if counts is None or time.monotonic() - at >= QUEUE_CACHE_SECONDS:
                try:
                    counts = queue_counts(self.db)
                except Exception as exc:  # the database is away: /readyz says so
                    log.debug("metrics: queue counts: %s", exc)
                    counts = None
                self._queue = (time.monotonic(), counts)
            return counts

    def event(self, name: str, value: float, labels: dict[str, str]) -> None:
        """A telemetry sink: events to counters and histograms."""
        if name == "publish":
            self.publish.labels(labels["platform"], labels["result"]).inc()
        elif name == "platform_call":
            self.call_seconds.labels(labels["platform"], labels["result"]).observe(value)
        elif name == "due_to_call":
            self.due_to_call.labels(labels["platform"]).observe(max(0.0, value))
        elif name == "retry":
            self.retries.labels(labels["platform"]).inc()
        elif name == "token_refresh":
            self.refreshes.labels(labels["platform"], labels["result"]).inc()
        elif name == "job_run":
            self.jobs.labels(labels["job"], labels["result"]).inc()
            self.job_seconds.labels(labels["job"]).observe(value)
        elif name == "heartbeat":
            self.heartbeat.set(value)
        elif name == "in_flight":
            self.in_flight.set(value)


class _QueueCollector:
    """Queue-wide gauges, from one cached read per scrape."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def describe(self) -> Iterable[Any]:
        return []  # nothing read at registration: the first scrape reads the database

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from autopostr.states import DestinationState

        counts = self.metrics.queue()
        if counts is None:
            return
        states = GaugeMetricFamily(
            "autopostr_destinations", "Destinations by state (the whole queue)", labels=["state"]
        )
        for state in DestinationState:
            states.add_metric([str(state)], counts.by_state.get(str(state), 0))
        yield states
        yield GaugeMetricFamily(
            "autopostr_due_unclaimed",
            "Destinations due now that no publisher has claimed yet",
            value=counts.due_unclaimed,
        )


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("metrics: " + format, *args)


Start = Callable[[str, list[tuple[str, str]]], Any]


class MetricsServer:
    """/metrics, /healthz and /readyz on one port, in a thread of the daemon."""

    def __init__(self, address: Address, metrics: Metrics, health: Health, token: str | None):
        if not address.loopback and not token:
            raise ConfigError(
                f"metrics on {address.host}:{address.port} would be open to the network: set "
                "AUTOPOSTR_METRICS_TOKEN (scrapers then send `Authorization: Bearer <token>`), "
                "or bind to 127.0.0.1"
            )
        from prometheus_client import make_wsgi_app

        self.address = address
        self.metrics = metrics
        self.health = health
        self.token = token
        self._metrics_app = make_wsgi_app(metrics.registry)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        try:
            self._server = make_server(
                self.address.host,
                self.address.port,
                self.app,
                server_class=_Server,
                handler_class=_QuietHandler,
            )
        except OSError as exc:
            raise ConfigError(
                f"cannot serve metrics on {self.address.host}:{self.address.port}: "
                f"{exc.strerror or exc}; pick another --metrics address"
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics", daemon=True
        )
        self._thread.start()
        telemetry.add_sink(self.metrics.event)
        log.info("metrics on http://%s:%s/metrics", self.address.host, self.port)

    @property
    def port(self) -> int:
        return self._server.server_port if self._server is not None else self.address.port

    def stop(self) -> None:
        telemetry.remove_sink(self.metrics.event)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def app(self, environ: dict[str, Any], start: Start) -> Iterable[bytes]:
        try:
            return self._route(environ, start)
        except Exception as exc:  # never a dropped connection: a scraper must see an answer
            log.warning("metrics: %s %s: %s", environ.get("PATH_INFO"), type(exc).__name__, exc)
            return _reply(start, 503, {"status": "error", "error": type(exc).__name__})

    def _route(self, environ: dict[str, Any], start: Start) -> Iterable[bytes]:
        if self.token is not None and not self._authorised(environ):
            return _reply(start, 401, {"error": "a bearer token is required"}, bearer=True)
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return self._metrics_app(environ, start)  # type: ignore[no-any-return]
        if path == "/healthz":
            ok, body = self.health.live()
            return _reply(start, 200 if ok else 503, body)
        if path == "/readyz":
            ok, body = self.health.ready()
            return _reply(start, 200 if ok else 503, body)
        return _reply(start, 404, {"error": "not found: try /metrics, /healthz or /readyz"})

    def _authorised(self, environ: dict[str, Any]) -> bool:
        sent = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = sent.partition(" ")
        assert self.token is not None
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), self.token.encode()
        )


def _reply(start: Start, status: int, body: dict[str, Any], *, bearer: bool = False) -> list[bytes]:
    from http import HTTPStatus

    data = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    if bearer:
        headers.append(("WWW-Authenticate", "Bearer"))
    start(f"{status} {HTTPStatus(status).phrase}", headers)
    return [data]


def metrics_server(
    settings: Settings, db: Database, health: Health, override: str | None
) -> MetricsServer | None:
    """The server `--metrics` or AUTOPOSTR_METRICS asks for, not started; None when off."""
    raw = override or settings.get("metrics")
    if not raw:
        return None
    return MetricsServer(parse_address(raw), Metrics(db), health, settings.get("metrics_token"))
