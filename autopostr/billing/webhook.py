"""`billing webhook --listen HOST:PORT`: a small receiver for Stripe's signed webhooks.

It checks `Stripe-Signature` against STRIPE_WEBHOOK_SECRET within the tolerance
window (400 otherwise), answers 200 at once and hands the event to the same handler
as `billing sync` on a worker thread, so each event id is applied once whichever
path brings it. An event the worker could not apply (Stripe down) is picked up by
the next sync, which reads the Events API.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from autopostr.billing import events as events_mod
from autopostr.billing import plans as plans_mod
from autopostr.config import Settings
from autopostr.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from autopostr.db import Database

log = logging.getLogger("autopostr.billing")

TOLERANCE = 300  # seconds: Stripe's own default for signed timestamps
MAX_BODY = 1024 * 1024


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen: expected HOST:PORT such as 127.0.0.1:8787, not {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class Listener:
    """The HTTP server and its worker; `serve_forever` until `close`."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        host: str,
        port: int,
        *,
        fetch: events_mod.Fetch | None = None,
        on_handled: Callable[[events_mod.Handled], None] | None = None,
    ) -> None:
        secret = plans_mod.webhook_secret(settings)
        if secret is None:
            raise ConfigError(
                "billing webhook: set STRIPE_WEBHOOK_SECRET (the endpoint's signing secret, "
                "whsec_…) so that events can be verified"
            )
        if not plans_mod.enabled(settings):
            from autopostr.billing.stripe_api import NO_KEY

            raise ConfigError(NO_KEY)
        with database.session() as db:
            events_mod.require_plan_writer(db, "billing webhook")
        self.database, self.settings, self.secret = database, settings, secret
        if fetch is None:
            from autopostr.billing import stripe_api

            fetch = lambda sub_id: stripe_api.retrieve_subscription(settings, sub_id)  # noqa: E731
        self.fetch, self.on_handled = fetch, on_handled
        self.inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.server = ThreadingHTTPServer((host, port), self._handler_class())
        self.server.daemon_threads = True
        self.worker = threading.Thread(target=self._work, name="billing-webhook", daemon=True)
        self.worker.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    def serve_forever(self) -> None:
        self.server.serve_forever(poll_interval=0.2)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.inbox.put(None)
        self.worker.join(timeout=30)

    def _work(self) -> None:
        while (event := self.inbox.get()) is not None:
            try:
                handled = events_mod.apply_one(
                    self.database, self.settings, event, source="webhook", fetch=self.fetch
                )
                with self.database.session() as db:
                    events_mod.set_meta(db, events_mod.LAST_WEBHOOK, handled.event_id)
            except Exception as exc:  # the next sync brings it again
                log.warning("billing webhook: event %s not applied: %s", event.get("id"), exc)
                continue
            log.info(
                "billing webhook: %s %s %s",
                handled.event_id,
                handled.type,
                "seen before" if handled.duplicate else handled.outcome,
            )
            if self.on_handled is not None:
                self.on_handled(handled)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length <= 0 or length > MAX_BODY:
                    self._answer(400, {"error": "a Stripe event body is required"})
                    return
                payload = self.rfile.read(length)
                header = self.headers.get("Stripe-Signature") or ""
                try:
                    event = events_mod_construct(payload, header, listener.secret)
                except ValueError as exc:
                    self._answer(400, {"error": str(exc)})
                    return
                listener.inbox.put(event)
                self._answer(200, {"received": True})

            def do_GET(self) -> None:
                self._answer(405, {"error": "Stripe posts events here"})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("billing webhook: " + format, *args)

        return Handler


def events_mod_construct(payload: bytes, header: str, secret: str) -> dict[str, Any]:
    from autopostr.billing.stripe_api import construct_event

    event = construct_event(payload, header, secret, TOLERANCE)
    if not event.get("id") or not event.get("type"):
        raise ValueError("not a Stripe event: no id or type")
    return event
