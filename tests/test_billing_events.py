"""Stripe's events: signed webhooks (valid, wrong secret, expired, replayed), events out of
order, and a failed payment's grace period running out on a fake clock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from autopostr.config import load_settings
from tests.fakes.stripe_server import FakeStripe, sign
from tests.helpers import billing_event, database, db_session, own_team, wait_until

SECRET = "whsec_test_autopostr"


def _post(url: str, payload: bytes, header: str | None) -> int:
    request = urllib.request.Request(url, data=payload, method="POST")
    request.add_header("Content-Type", "application/json")
    if header is not None:
        request.add_header("Stripe-Signature", header)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _subscription() -> Any:
    from sqlmodel import select

    from autopostr.models import Subscription

    with db_session() as session:
        return session.exec(select(Subscription)).first()


def _events() -> list[Any]:
    from sqlmodel import select

    from autopostr.models import BillingEvent

    with db_session() as session:
        return list(session.exec(select(BillingEvent)))


class Listening:
    def __init__(self, url: str, handled: list[Any]) -> None:
        self.url, self.handled = url, handled

    def send(self, event: dict[str, Any], secret: str = SECRET, at: int | None = None) -> int:
        payload = json.dumps(event).encode()
        return _post(self.url, payload, sign(payload, secret, at))

    def wait(self, count: int) -> None:
        wait_until(lambda: len(self.handled) >= count, 20, f"{count} events handled")


@pytest.fixture
def listener(
    initialized: str, stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Listening]:
    from autopostr.billing.webhook import Listener

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    handled: list[Any] = []
    server = Listener(database(), load_settings(), "127.0.0.1", 0, on_handled=handled.append)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.address
    try:
        yield Listening(f"http://{host}:{port}/", handled)
    finally:
        server.close()


def _sub_object(team_id: int, instance: str, **fields: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "id": "sub_webhook",
        "object": "subscription",
        "customer": "cus_webhook",
        "status": "active",
        "metadata": {"autopostr_team": str(team_id), "autopostr_instance": instance},
        "items": {"data": [{"price": {"id": "price_pro_monthly"}}]},
        "current_period_start": now,
        "current_period_end": now + 30 * 86400,
        **fields,
    }


def test_a_signed_event_is_applied_once_however_often_it_comes(listener: Listening) -> None:
    team_id, instance = own_team()
    event = billing_event(
        "customer.subscription.created", _sub_object(team_id, instance), int(time.time()) - 10
    )
    assert listener.send(event) == 200
    assert listener.send(event) == 200  # Stripe delivers again: still a 200
    listener.wait(2)
    assert [h.duplicate for h in listener.handled] == [False, True]
    row = _subscription()
    assert (row.plan, row.status, row.stripe_customer_id) == ("pro", "active", "cus_webhook")
    assert len(_events()) == 1

    # A replay that re-signs an old body with a fresh timestamp changes nothing either.
    failed = billing_event(
        "invoice.payment_failed",
        {"id": "in_1", "customer": "cus_webhook", "subscription": "sub_webhook"},
    )
    assert listener.send(failed) == 200
    listener.wait(3)
    since = _subscription().past_due_since
    assert since is not None
    assert listener.send(failed, at=int(time.time()) + 5) == 200
    listener.wait(4)
    assert _subscription().past_due_since == since
    assert listener.handled[-1].duplicate


def test_bad_signatures_are_400_and_change_nothing(listener: Listening) -> None:
    team_id, instance = own_team()
    event = billing_event("customer.subscription.created", _sub_object(team_id, instance))
    assert listener.send(event, secret="whsec_wrong") == 400
    assert listener.send(event, at=int(time.time()) - 600) == 400  # outside the 300 s window
    payload = json.dumps(event).encode()
    assert _post(listener.url, payload, None) == 400
    assert _post(listener.url, payload, "t=1,v1=00") == 400
    tampered = json.dumps({**event, "type": "customer.subscription.deleted"}).encode()
    assert _post(listener.url, tampered, sign(payload, SECRET)) == 400
    time.sleep(0.3)
    assert listener.handled == [] and _events() == [] and _subscription() is None


def test_events_out_of_order_end_in_stripes_current_state(
    listener: Listening, stripe: FakeStripe
) -> None:
    team_id, instance = own_team()
    # A real subscription in (local)Stripe: on the team plan, active.
    customer = stripe.ls("POST", "/v1/customers", {"email": "o@example.com"})
    meta = {"autopostr_team": str(team_id), "autopostr_instance": instance}
    sub = stripe.subscribe(customer["id"], "price_team_monthly", meta)
    now = int(time.time())
    fields = {"id": sub["id"], "customer": customer["id"]}
    newer = billing_event(
        "customer.subscription.updated",
        _sub_object(
            team_id, instance, **fields, items={"data": [{"price": {"id": "price_team_monthly"}}]}
        ),
        created=now,
    )
    older = billing_event(
        "customer.subscription.created",
        _sub_object(team_id, instance, **fields, status="incomplete"),
        created=now - 60,
    )
    assert listener.send(newer) == 200
    listener.wait(1)
    assert listener.send(older) == 200
    listener.wait(2)
    row = _subscription()
    # The older event was not trusted: Stripe's subscription as it is now decided.
    assert (row.plan, row.status) == ("team", "active")
    assert row.event_at == datetime.fromtimestamp(now, UTC)
    # An invoice event older than what is applied is checked against Stripe too.
    stale = billing_event(
        "invoice.payment_failed",
        {"id": "in_old", "customer": customer["id"], "subscription": sub["id"]},
        created=now - 30,
    )
    assert listener.send(stale) == 200
    listener.wait(3)
    assert _subscription().status == "active"


def test_past_due_keeps_the_plan_for_the_grace_period_then_free(
    initialized: str, stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autopostr.billing import events, limits
    from autopostr.errors import LimitReached

    monkeypatch.setenv("AUTOPOSTR_BILLING_GRACE_DAYS", "3")
    team_id, instance = own_team()
    settings, db = load_settings(), database()
    start = int(time.time()) - 86400
    created = billing_event(
        "customer.subscription.created", _sub_object(team_id, instance), created=start
    )
    events.apply_one(db, settings, created, source="sync", fetch=None)
    failed_at = start + 3600
    failed = billing_event(
        "invoice.payment_failed",
        {"id": "in_2", "customer": "cus_webhook", "subscription": "sub_webhook"},
        created=failed_at,
    )
    assert events.apply_one(db, settings, failed, source="sync", fetch=None).outcome == "applied"
    clock = datetime.fromtimestamp(failed_at, UTC)

    def standing(after: timedelta) -> limits.Standing:
        with db.session() as session:
            return limits.standing(session, settings, team_id, clock + after)

    in_grace = standing(timedelta(days=2, hours=23))
    assert (in_grace.plan.name, in_grace.status) == ("pro", "past_due")
    assert in_grace.grace_until == clock + timedelta(days=3)
    lapsed = standing(timedelta(days=3, seconds=1))
    assert (lapsed.plan.name, lapsed.subscribed) == ("free", "pro")

    # Three posts fit pro (5 a month) while in grace, not free (2) once it ran out.
    def check(after: timedelta) -> None:
        moment = clock + after
        with db.session() as session:
            limits.check_posts(session, settings, team_id, [moment] * 3, now=moment)

    check(timedelta(days=2))
    with pytest.raises(LimitReached) as refused:
        check(timedelta(days=4))
    message = refused.value.message
    assert "free plan (the pro subscription is past_due)" in message, message
    assert "autopostr billing checkout pro" in message

    paid = billing_event(
        "invoice.paid",
        {"id": "in_3", "customer": "cus_webhook", "subscription": "sub_webhook"},
        created=failed_at + 5 * 86400,
    )
    events.apply_one(db, settings, paid, source="sync", fetch=None)
    back = standing(timedelta(days=6))
    assert (back.plan.name, back.status, back.grace_until) == ("pro", "active", None)


@pytest.mark.slow
def test_the_listener_command(initialized: str, stripe: FakeStripe, tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "STRIPE_WEBHOOK_SECRET": SECRET}
    no_secret = subprocess.run(
        [sys.executable, "-m", "autopostr", "billing", "webhook", "--listen", f"127.0.0.1:{port}"],
        env={k: v for k, v in env.items() if k != "STRIPE_WEBHOOK_SECRET"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert no_secret.returncode == 5 and "STRIPE_WEBHOOK_SECRET" in no_secret.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "autopostr", "billing", "webhook", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/"

        def up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            except OSError:
                return False
            return True

        wait_until(up, 30, "the listener")
        team_id, instance = own_team()
        event = billing_event("customer.subscription.created", _sub_object(team_id, instance))
        payload = json.dumps(event).encode()
        assert _post(url, payload, sign(payload, "whsec_other")) == 400
        assert _post(url, payload, sign(payload, SECRET)) == 200
        wait_until(lambda: _subscription() is not None, 20, "the event applied")
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
