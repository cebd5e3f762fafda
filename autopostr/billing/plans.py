"""The plans (`[plans.NAME]` in the config over built-in defaults) and billing's settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from autopostr.config import Settings
from autopostr.errors import ConfigError, InvalidInput
from autopostr.models.billing import FREE_PLAN

# What a plan limits, in the order `billing status` shows them.
LIMITS = ("accounts", "posts_per_month", "ai_requests_per_month", "seats")
PRICE_KEYS = ("stripe_price_monthly", "stripe_price_yearly")
FREE = FREE_PLAN
DEFAULT_GRACE_DAYS = 7
DEFAULT_RETURN_URL = "https://example.com/"
STRIPE_API_URL = "https://api.stripe.com"

# An operator overrides any of these, or adds plans, in the config file.
BUILT_IN: dict[str, dict[str, int | None]] = {
    "free": {"accounts": 3, "posts_per_month": 30, "ai_requests_per_month": 20, "seats": 1},
    "pro": {"accounts": 10, "posts_per_month": 1000, "ai_requests_per_month": 500, "seats": 3},
    "team": {
        "accounts": 50,
        "posts_per_month": 10000,
        "ai_requests_per_month": 5000,
        "seats": 25,
    },
}


@dataclass(frozen=True)
class Plan:
    name: str
    limits: Mapping[str, int | None]  # None: unlimited
    prices: Mapping[str, str] = field(default_factory=dict)  # monthly/yearly -> price id

    def limit(self, name: str) -> int | None:
        return self.limits.get(name)

    def price(self, yearly: bool) -> str | None:
        return self.prices.get("yearly" if yearly else "monthly")


def enabled(settings: Settings, environ: Mapping[str, str] | None = None) -> bool:
    """Billing is on only where a Stripe secret key is set."""
    return secret_key(settings, environ) is not None


def secret_key(settings: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    key = settings.get("stripe_secret_key") or env.get("STRIPE_SECRET_KEY") or ""
    return key.strip() or None


def key_source(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    if settings.get("stripe_secret_key"):
        return settings.source("stripe_secret_key")
    env = os.environ if environ is None else environ
    return "env STRIPE_SECRET_KEY" if env.get("STRIPE_SECRET_KEY") else "unset"


def webhook_secret(settings: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    value = settings.get("stripe_webhook_secret") or env.get("STRIPE_WEBHOOK_SECRET") or ""
    return value.strip() or None


def api_url(settings: Settings) -> str:
    return (settings.get("stripe_api_url") or STRIPE_API_URL).strip().rstrip("/")


def grace_days(settings: Settings) -> int:
    return settings.integer("billing_grace_days", DEFAULT_GRACE_DAYS, minimum=0)


def return_url(settings: Settings) -> str:
    return (settings.get("billing_return_url") or DEFAULT_RETURN_URL).strip()


def _configured(settings: Settings) -> dict[str, dict[str, str]]:
    """`plans_<name>_<key>` settings, by plan name (names may hold underscores)."""
    found: dict[str, dict[str, str]] = {}
    for name, resolved in settings.items():
        if not name.startswith("plans_"):
            continue
        rest = name[len("plans_") :]
        for key in (*LIMITS, *PRICE_KEYS):
            if rest.endswith("_" + key) and len(rest) > len(key) + 1:
                found.setdefault(rest[: -len(key) - 1], {})[key] = resolved.value
                break
    return found


def _limit(plan: str, key: str, raw: str) -> int | None:
    text = raw.strip().lower()
    if text in ("-1", "unlimited", "none"):
        return None
    try:
        value = int(text)
    except ValueError:
        value = -2
    if value < 0:
        raise ConfigError(
            f"plans.{plan}.{key} must be a whole number, 0 or more (or -1 for unlimited), "
            f"not {raw!r}"
        )
    return value


def all_plans(settings: Settings) -> dict[str, Plan]:
    """Every plan, the built-in ones first, each with the config's overrides."""
    configured = _configured(settings)
    result: dict[str, Plan] = {}
    for name in [*BUILT_IN, *sorted(set(configured) - set(BUILT_IN))]:
        values = configured.get(name, {})
        limits: dict[str, int | None] = dict(BUILT_IN.get(name, dict.fromkeys(LIMITS)))
        for key in LIMITS:
            if key in values:
                limits[key] = _limit(name, key, values[key])
        prices = {
            key.rsplit("_", 1)[1]: values[key].strip()
            for key in PRICE_KEYS
            if values.get(key, "").strip()
        }
        result[name] = Plan(name, limits, prices)
    return result


def get_plan(settings: Settings, name: str) -> Plan:
    plans = all_plans(settings)
    if name not in plans:
        raise InvalidInput(f"PLAN: no plan named {name!r}; the plans are {', '.join(plans)}")
    return plans[name]


def plan_for_price(settings: Settings, price_id: str | None) -> str | None:
    """The plan a Stripe price belongs to, monthly or yearly."""
    if not price_id:
        return None
    for plan in all_plans(settings).values():
        if price_id in plan.prices.values():
            return plan.name
    return None


def upgrade_for(settings: Settings, limit: str, current: str) -> str:
    """The plan to suggest when `limit` is reached on `current`: the smallest one that
    allows more, else "PLAN"."""
    plans = all_plans(settings)
    have = plans[current].limit(limit) if current in plans else 0
    better = [
        plan
        for plan in plans.values()
        if plan.name != current
        and (plan.limit(limit) is None or (plan.limit(limit) or 0) > (have or 0))
    ]
    if have is None or not better:
        return "PLAN"
    better.sort(key=lambda plan: (plan.limit(limit) is None, plan.limit(limit) or 0))
    return better[0].name
