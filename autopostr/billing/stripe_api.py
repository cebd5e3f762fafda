"""Every call to Stripe, through the official `stripe` client (imported only here).

`AUTOPOSTR_STRIPE_API_URL` points the client at another server (a local fake in
tests). A Stripe failure becomes exit 6 with Stripe's own message; the key never
appears in a message.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from autopostr.billing import plans as plans_mod
from autopostr.config import Settings
from autopostr.errors import ConfigError, ExternalServiceError

if TYPE_CHECKING:
    import stripe

NO_KEY = (
    "billing is off: set STRIPE_SECRET_KEY (or AUTOPOSTR_STRIPE_SECRET_KEY) to sell plans "
    "through Stripe"
)
EVENT_TYPES = (
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
)


def client(settings: Settings) -> stripe.StripeClient:
    import stripe

    key = plans_mod.secret_key(settings)
    if key is None:
        raise ConfigError(NO_KEY)
    return stripe.StripeClient(
        key,
        base_addresses={"api": plans_mod.api_url(settings)},
        max_network_retries=2,
    )


@contextmanager
def calling(what: str) -> Iterator[None]:
    """Stripe's failures as exit 6 (a refused key as exit 4), Stripe's message kept."""
    import stripe

    try:
        yield
    except stripe.AuthenticationError:
        from autopostr.errors import PermissionDenied

        raise PermissionDenied(
            f"{what}: Stripe refused the secret key; check STRIPE_SECRET_KEY"
        ) from None
    except stripe.InvalidRequestError as exc:
        raise ExternalServiceError(f"{what}: Stripe refused the request: {_message(exc)}") from None
    except stripe.StripeError as exc:
        raise ExternalServiceError(f"{what}: Stripe failed: {_message(exc)}") from None


def _message(exc: Exception) -> str:
    return str(getattr(exc, "user_message", None) or exc).strip().splitlines()[0][:300]


def as_dict(obj: Any) -> dict[str, Any]:
    result: dict[str, Any] = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
    return result


def create_customer(
    settings: Settings, *, team_id: int, team_name: str, email: str, instance: str
) -> str:
    api = client(settings)
    with calling("billing checkout"):
        customer = api.v1.customers.create(
            params={
                "name": team_name,
                "email": email,
                "metadata": {"autopostr_team": str(team_id), "autopostr_instance": instance},
            },
            # The same team's customer is created once, whoever asks and however often.
            options={"idempotency_key": f"autopostr-customer-{instance}-{team_id}"},
        )
    return str(customer.id)


def create_checkout(
    settings: Settings,
    *,
    customer: str,
    price: str,
    team_id: int,
    plan: str,
    instance: str,
) -> dict[str, Any]:
    api = client(settings)
    back = plans_mod.return_url(settings)
    metadata = {"autopostr_team": str(team_id), "autopostr_instance": instance, "plan": plan}
    hour = int(time.time()) // 3600
    with calling("billing checkout"):
        session = api.v1.checkout.sessions.create(
            params={
                "mode": "subscription",
                "customer": customer,
                "client_reference_id": str(team_id),
                "line_items": [{"price": price, "quantity": 1}],
                "success_url": back,
                "cancel_url": back,
                "metadata": metadata,
                "subscription_data": {"metadata": metadata},
            },
            # Asked again within the hour (a second terminal, a retry): the same session.
            options={"idempotency_key": f"autopostr-checkout-{instance}-{team_id}-{price}-{hour}"},
        )
    return as_dict(session)


def create_portal(settings: Settings, customer: str) -> dict[str, Any]:
    api = client(settings)
    with calling("billing portal"):
        session = api.v1.billing_portal.sessions.create(
            params={"customer": customer, "return_url": plans_mod.return_url(settings)}
        )
    return as_dict(session)


def list_events(settings: Settings, since: int) -> list[dict[str, Any]]:
    """Every event created at or after `since` (seconds), oldest first."""
    api = client(settings)
    found: list[dict[str, Any]] = []
    with calling("billing sync"):
        page = api.v1.events.list(params={"limit": 100, "created": {"gte": since}})
        found = [as_dict(event) for event in page.auto_paging_iter()]
    found.sort(key=lambda event: (int(event.get("created") or 0), str(event.get("id"))))
    return found


def retrieve_subscription(settings: Settings, subscription_id: str) -> dict[str, Any] | None:
    """The subscription as Stripe has it now; None when Stripe no longer knows it."""
    import stripe

    api = client(settings)
    try:
        with calling("billing sync"):
            return as_dict(api.v1.subscriptions.retrieve(subscription_id))
    except ExternalServiceError as exc:
        cause = exc.__context__
        if isinstance(cause, stripe.InvalidRequestError) and cause.http_status == 404:
            return None
        raise


def check_key(settings: Settings) -> None:
    """One cheap call that needs a valid key (for `doctor`)."""
    api = client(settings)
    with calling("Stripe"):
        api.v1.events.list(params={"limit": 1})


def construct_event(payload: bytes, header: str, secret: str, tolerance: int) -> dict[str, Any]:
    """A webhook body whose `Stripe-Signature` is good and recent, as a dict; ValueError
    naming what is wrong otherwise."""
    import stripe

    try:
        event = stripe.Webhook.construct_event(payload.decode("utf-8"), header, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise ValueError(_message(exc)) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"not a Stripe event: {exc}") from None
    return as_dict(event)
