"""Stripe on loopback: `localstripe` (a stateful Stripe fake from PyPI) for customers,
plans, payment methods, subscriptions, invoices and their events, behind a small
server of our own for what localstripe lacks.

localstripe runs as a child process with its store kept in memory only (it would
otherwise pickle itself to a shared /tmp file on every write). Our front server,
which the `stripe` client is pointed at, answers:

- `POST /v1/checkout/sessions` (subscription mode: a customer that exists, a price
  that exists, `line_items`, `metadata`, `subscription_data[metadata]`) and
  `POST /v1/billing_portal/sessions`, in Stripe's shapes and errors;
- `GET /v1/events`: localstripe's events and our own (`checkout.session.completed`,
  and whatever a test `emit`s, such as `invoice.payment_failed`, which localstripe
  never sends) in one list, newest first, with `created[gte|gt]` filters and
  `starting_after` pages, as Stripe's Events API answers;
- every other request, passed through to localstripe;
- `Idempotency-Key` on any POST: the same key gets the first answer again, as Stripe
  does for 24 hours.

`complete_checkout` plays the customer paying: a card, a subscription with the
session's price and metadata, the session completed and its event.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# localstripe, its store kept in memory only.
_LOCALSTRIPE = (
    "import sys, localstripe.resources as r; r.Store.dump_to_disk = lambda self: None; "
    "from localstripe.server import start; sys.argv = ['localstripe', '--from-scratch', "
    "'--port', sys.argv[1]]; start()"
)
KEY = "sk_test_autopostr"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`line_items[0][price]=…`) back into nested values."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        if value and all(k.isdigit() for k in value):
            return [_lists(value[k]) for k in sorted(value, key=int)]
        return {k: _lists(v) for k, v in value.items()}
    return value


def _error(status: int, message: str, param: str | None = None) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"type": "invalid_request_error", "message": message, "param": param}}


class FakeStripe:
    def __init__(self) -> None:
        self.ls_port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _LOCALSTRIPE, str(self.ls_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        self.ls_url = f"http://127.0.0.1:{self.ls_port}"
        self._wait_for_localstripe()
        self.lock = threading.Lock()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.portals: dict[str, dict[str, Any]] = {}
        self.own_events: list[dict[str, Any]] = []
        self.idempotent: dict[str, tuple[int, bytes]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every call
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def _wait_for_localstripe(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.ls_port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("localstripe did not start")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.process.terminate()
        self.process.wait(timeout=10)

    # -- talking to localstripe -------------------------------------------------------

    def ls(self, method: str, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """A call to localstripe itself (as the test's own Stripe dashboard)."""
        body = urllib.parse.urlencode(_flatten(params or {})).encode() if params else None
        url = self.ls_url + path
        if method == "GET" and params:
            url, body = f"{url}?{body.decode() if body else ''}", None
        request = urllib.request.Request(url, data=body, method=method)
        request.add_header("Authorization", f"Bearer {KEY}")
        with urllib.request.urlopen(request, timeout=10) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result

    def plan(self, plan_id: str, amount: int = 900, interval: str = "month") -> None:
        """A price (localstripe's Plan: Stripe's legacy shape of a price)."""
        product = self.ls("POST", "/v1/products", {"name": plan_id, "type": "service"})
        self.ls(
            "POST",
            "/v1/plans",
            {
                "id": plan_id,
                "amount": amount,
                "currency": "usd",
                "interval": interval,
                "product": product["id"],
            },
        )

    def customers(self) -> list[dict[str, Any]]:
        return list(self.ls("GET", "/v1/customers", {"limit": 100})["data"])

    # -- the parts localstripe lacks ----------------------------------------------------

    def emit(self, kind: str, obj: dict[str, Any], created: int | None = None) -> dict[str, Any]:
        """An event of ours in the Events API (the kinds localstripe never sends)."""
        event = {
            "id": "evt_" + secrets.token_hex(12),
            "object": "event",
            "type": kind,
            "created": created if created is not None else int(time.time()),
            "livemode": False,
            "api_version": "2025-01-27",
            "data": {"object": obj},
        }
        with self.lock:
            self.own_events.append(event)
        return event

    def pay_with_card(self, customer: str, card: str = "4242424242424242") -> None:
        """The customer's default payment method: a card."""
        pm = self.ls(
            "POST",
            "/v1/payment_methods",
            {
                "type": "card",
                "card": {"number": card, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
            },
        )
        self.ls("POST", f"/v1/payment_methods/{pm['id']}/attach", {"customer": customer})
        self.ls(
            "POST",
            f"/v1/customers/{customer}",
            {"invoice_settings": {"default_payment_method": pm["id"]}},
        )

    def subscribe(
        self, customer: str, price: str, metadata: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """A subscription of a paying customer, as Stripe makes it after Checkout."""
        self.pay_with_card(customer)
        return self.ls(
            "POST",
            "/v1/subscriptions",
            {"customer": customer, "items": [{"plan": price}], "metadata": metadata or {}},
        )

    def complete_checkout(self, session_id: str) -> str:
        """The customer pays: returns the new subscription's id."""
        session = self.sessions[session_id]
        sub = self.subscribe(
            session["customer"], session["_price"], session["_subscription_metadata"]
        )
        with self.lock:
            session.update(status="complete", payment_status="paid", subscription=sub["id"])
            session["url"] = None
        public = {k: v for k, v in session.items() if not k.startswith("_")}
        self.emit("checkout.session.completed", public)
        return str(sub["id"])

    def _checkout(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if params.get("mode") != "subscription":
            return _error(400, "This fake only opens sessions in subscription mode.", "mode")
        customer = params.get("customer")
        try:
            self.ls("GET", f"/v1/customers/{customer}")
        except urllib.error.HTTPError:
            return _error(400, f"No such customer: '{customer}'", "customer")
        items = params.get("line_items") or []
        if len(items) != 1 or not items[0].get("price"):
            return _error(400, "line_items must hold one price.", "line_items")
        price = items[0]["price"]
        try:
            self.ls("GET", f"/v1/plans/{price}")
        except urllib.error.HTTPError:
            return _error(400, f"No such price: '{price}'", "line_items[0][price]")
        for field in ("success_url",):
            if not params.get(field):
                return _error(400, f"Missing required param: {field}.", field)
        session_id = "cs_test_" + secrets.token_hex(16)
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "subscription",
            "status": "open",
            "payment_status": "unpaid",
            "customer": customer,
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata") or {},
            "success_url": params["success_url"],
            "cancel_url": params.get("cancel_url"),
            "subscription": None,
            "url": f"{self.url}/c/pay/{session_id}",
            "created": int(time.time()),
            "_price": price,
            "_subscription_metadata": (params.get("subscription_data") or {}).get("metadata") or {},
        }
        with self.lock:
            self.sessions[session_id] = session
        return 200, {k: v for k, v in session.items() if not k.startswith("_")}

    def _portal(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        customer = params.get("customer")
        try:
            self.ls("GET", f"/v1/customers/{customer}")
        except urllib.error.HTTPError:
            return _error(400, f"No such customer: '{customer}'", "customer")
        portal_id = "bps_" + secrets.token_hex(12)
        portal = {
            "id": portal_id,
            "object": "billing_portal.session",
            "customer": customer,
            "return_url": params.get("return_url"),
            "url": f"{self.url}/p/session/{portal_id}",
            "created": int(time.time()),
        }
        with self.lock:
            self.portals[portal_id] = portal
        return 200, portal

    def all_events(self) -> list[dict[str, Any]]:
        """localstripe's events (every page) and ours, newest first."""
        found: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if after:
                params["starting_after"] = after
            page = self.ls("GET", "/v1/events", params)
            found += page["data"]
            if not page.get("has_more") or not page["data"]:
                break
            after = page["data"][-1]["id"]
        with self.lock:
            found += list(self.own_events)
        # Newest first, as Stripe lists them; within a second, the later-made first.
        order = {event["id"]: index for index, event in enumerate(found)}
        found.sort(key=lambda e: (int(e["created"]), order[e["id"]]), reverse=True)
        return found

    def _events(self, query: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        events = self.all_events()
        created = query.get("created")
        if isinstance(created, dict):
            if "gte" in created:
                events = [e for e in events if e["created"] >= int(created["gte"])]
            if "gt" in created:
                events = [e for e in events if e["created"] > int(created["gt"])]
        elif created:
            events = [e for e in events if e["created"] == int(created)]
        if query.get("type"):
            events = [e for e in events if e["type"] == query["type"]]
        if query.get("starting_after"):
            ids = [e["id"] for e in events]
            if query["starting_after"] not in ids:
                return _error(400, f"No such event: '{query['starting_after']}'", "starting_after")
            events = events[ids.index(query["starting_after"]) + 1 :]
        limit = int(query.get("limit") or 10)
        return 200, {
            "object": "list",
            "url": "/v1/events",
            "data": events[:limit],
            "has_more": len(events) > limit,
        }

    # -- the HTTP front ----------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Request-Id", "req_" + secrets.token_hex(8))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urllib.parse.urlsplit(self.path)
                fake.requests.append((self.command, url.path))
                if self.headers.get("Authorization") != f"Bearer {KEY}":
                    status, doc = (
                        401,
                        {
                            "error": {
                                "type": "invalid_request_error",
                                "message": "Invalid API Key provided: sk_test_****",
                            }
                        },
                    )
                    self._send(status, json.dumps(doc).encode())
                    return
                key = self.headers.get("Idempotency-Key")
                if self.command == "POST" and key:
                    with fake.lock:
                        cached = fake.idempotent.get(key)
                    if cached is not None:
                        self._send(*cached)
                        return
                status, body = self._answer(url, raw)
                if self.command == "POST" and key and status < 500:
                    with fake.lock:
                        fake.idempotent[key] = (status, body)
                self._send(status, body)

            def _answer(self, url: urllib.parse.SplitResult, raw: bytes) -> tuple[int, bytes]:
                form = unflatten(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
                query = unflatten(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
                route = (self.command, url.path)
                if route == ("POST", "/v1/checkout/sessions"):
                    status, doc = fake._checkout(form)
                elif route == ("POST", "/v1/billing_portal/sessions"):
                    status, doc = fake._portal(form)
                elif route == ("GET", "/v1/events"):
                    status, doc = fake._events(query)
                else:
                    return self._forward(url, raw)
                return status, json.dumps(doc).encode()

            def _forward(self, url: urllib.parse.SplitResult, raw: bytes) -> tuple[int, bytes]:
                target = fake.ls_url + url.path + (f"?{url.query}" if url.query else "")
                request = urllib.request.Request(
                    target, data=raw if self.command != "GET" else None, method=self.command
                )
                request.add_header("Authorization", f"Bearer {KEY}")
                if raw:
                    request.add_header("Content-Type", "application/x-www-form-urlencoded")
                try:
                    with urllib.request.urlopen(request, timeout=20) as response:
                        return response.status, response.read()
                except urllib.error.HTTPError as exc:
                    return exc.code, exc.read()

            do_GET = do_POST = do_DELETE = _handle

        return Handler


def _flatten(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            pairs += _flatten(value, name)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    pairs += _flatten(item, f"{name}[{index}]")
                else:
                    pairs.append((f"{name}[{index}]", str(item)))
        else:
            pairs.append((name, str(value)))
    return pairs


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header as Stripe computes it: HMAC-SHA256 of `t.payload`."""
    import hashlib
    import hmac

    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


@contextmanager
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    try:
        yield fake
    finally:
        fake.close()
