"""Paths and settings, resolved in one place with where each value came from.

Order: an `AUTOPOSTR_*` environment variable beats the TOML config file, which
beats the built-in default. Tables in the file flatten with `_`, so
`[x] client_id = "…"` and `AUTOPOSTR_X_CLIENT_ID` name the same setting.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autopostr.errors import ConfigError

ENV_PREFIX = "AUTOPOSTR_"
APP_NAME = "autopostr"

# Every setting autopostr reads, with what it does and its default: `config show` and the
# README's configuration table list them, and reading a name declared nowhere here (or
# in SETTING_FAMILIES) is a bug that fails loudly (see `Settings.get`).
KNOWN_SETTINGS: dict[str, str] = {
    "home": "data folder: database, media, logs (default: the platform's user data dir)",
    "database_url": "SQLite in the home (the default), or postgresql://…",
    "admin_database_url": "PostgreSQL URL of the tables' owner, for `db setup-roles`, `db grant` "
    "and invitations that create a member's database role",
    "db_role_prefix": "prefix of the database roles `db setup-roles` creates (default autopostr)",
    "encryption_key": "base64 of 32 bytes; else keyring, else a key file in the home",
    "keyring": "off keeps secrets in 0600 files even where a keyring exists (default auto)",
    "token": "personal access token used instead of a login",
    "timezone": "default zone for times you type (default: your user's, else the machine's)",
    "debug": "print tracebacks (default off)",
    "media_storage": "local (files in the home) or database (chunks in PostgreSQL)",
    "media_max_bytes": "largest media file accepted (default 1 GiB)",
    "media_allowed_types": "comma-separated MIME types accepted for upload (default: all)",
    "smtp_host": "SMTP server for invitation e-mails (unset: tokens are only printed)",
    "smtp_port": "SMTP port (default 25)",
    "smtp_from": "From address of invitation e-mails (default autopostr <noreply@HOST>)",
    "smtp_user": "SMTP login user (unset: no login)",
    "smtp_password": "SMTP login password",
    "smtp_starttls": "upgrade the SMTP connection with STARTTLS (default off)",
    "http_timeout": "seconds a platform call may take (default 30)",
    "max_attempts": "publish attempts before a destination fails (default 5)",
    "max_lateness": "a destination this overdue fails as too late instead of going out "
    "(e.g. 2h; default: none)",
    "on_event": "command or http(s) URL given each publish event as JSON (published, failed …)",
    "overdue_minutes": "doctor fails when a post is this many minutes overdue (default 10)",
    "lease_seconds": "how long a daemon's claim lasts without renewal (default 60)",
    "heartbeat_seconds": "how often a daemon beats and renews its leases (default 10)",
    "poll_seconds": "a daemon's longest sleep between looks (default 0.5 SQLite, 30 PostgreSQL)",
    "grace_seconds": "on SIGTERM, how long in-flight publishes may finish (default 30)",
    "log_format": "text or json: one JSON object per line with context (default text)",
    "log_file": "also write the log to this file, rotated by size (default: stderr only)",
    "log_file_max_bytes": "size at which the log file is rotated (default 10 MiB)",
    "log_file_backups": "rotated log files kept (default 5)",
    "metrics": "HOST:PORT where `daemon run` serves /metrics, /healthz, /readyz (default off)",
    "metrics_token": "bearer token /metrics, /healthz and /readyz require off loopback",
    "publish_concurrency": "publish calls a daemon keeps in flight at once (default 256; "
    "`daemon run --concurrency` overrides it)",
    "oauth_port": "loopback port `accounts connect` takes the redirect on (default 8765)",
    "sandbox_dir": "where the sandbox platform writes (default: $AUTOPOSTR_HOME/sandbox)",
    "sandbox_latency_ms": "latency the sandbox adds to each call (default 0)",
    "sandbox_fail_rate": "share of sandbox calls that fail transiently (0-1, default 0)",
    "sandbox_processing_seconds": "seconds the sandbox takes to process uploaded media before "
    "the post can be made (default 0)",
    "x_client_id": "X OAuth 2.0 app (client id) for `accounts connect x`",
    "x_client_secret": "X OAuth 2.0 app secret (confidential clients)",
    "x_chunk_bytes": "bytes per chunk of X's media upload (default 4 MiB)",
    "x_media_poll_seconds": "pause between checks of X's media processing (default: what X asks)",
    "x_media_wait_seconds": "seconds X's media processing may take before the publish is "
    "retried later (default 600)",
    "x_lookback_hours": "hours back a post that may have gone out is looked for on X (default 72)",
    "linkedin_client_id": "LinkedIn app for `accounts connect linkedin`",
    "linkedin_client_secret": "LinkedIn app secret",
    "linkedin_version": "LinkedIn-Version header, YYYYMM (default 202609)",
    "linkedin_media_poll_seconds": "pause between checks of a LinkedIn video's processing "
    "(default 5)",
    "linkedin_media_wait_seconds": "seconds a LinkedIn video may process before the publish is "
    "retried later (default 900)",
    "linkedin_lookback_hours": "hours back a post that may have gone out is looked for on LinkedIn (default 72)",
    "facebook_client_id": "Facebook app for `accounts connect facebook`",
    "facebook_client_secret": "Facebook app secret",
    "facebook_graph_version": "Graph API version (default v23.0)",
    "facebook_video_api_url": "Facebook's video upload host (default graph-video.facebook.com)",
    "facebook_media_poll_seconds": "pause between checks of a Facebook video's processing "
    "(default 5)",
    "facebook_media_wait_seconds": "seconds a Facebook video is watched processing; after them "
    "it counts as sent and appears when done (default 900)",
    "instagram_client_id": "Facebook app with the Instagram Graph API, for `accounts connect instagram`",
    "instagram_client_secret": "that app's secret",
    "instagram_graph_version": "Graph API version for Instagram (default v23.0)",
    "instagram_scopes": "comma-separated scopes `accounts connect instagram` asks for",
    "instagram_media_base_url": "public URL Instagram fetches media from: <base>/<sha256><ext>",
    "instagram_media_poll_seconds": "pause between checks of an Instagram upload's processing "
    "(default 5)",
    "instagram_media_wait_seconds": "seconds an Instagram upload may process before the publish "
    "is retried later (default 600)",
    "mastodon_api_url": "default Mastodon server when `accounts connect mastodon` has no --instance",
    "mastodon_media_poll_seconds": "pause between checks of a Mastodon upload's processing "
    "(default 2)",
    "mastodon_media_wait_seconds": "seconds a Mastodon upload may process before the publish is "
    "retried later (default 600)",
    "bluesky_api_url": "Bluesky PDS (default https://bsky.social)",
    "bluesky_video_url": "Bluesky's video service (default https://video.bsky.app)",
    "bluesky_media_poll_seconds": "pause between checks of a Bluesky video's processing "
    "(default 2)",
    "bluesky_media_wait_seconds": "seconds a Bluesky video may process before the publish is "
    "retried later (default 300)",
    "analytics_interval": "each post's and account's numbers are fetched once per period of "
    "this length, UTC-aligned (default 6h)",
    "analytics_retention_days": "days of analytics snapshots kept (default 730)",
    "webhook_inline_bytes": "largest media total a webhook body carries inline (default 8 MiB)",
    "ai_api_key": "key for the AI server (OPENAI_API_KEY works too); none needed for a local server",
    "ai_base_url": "any OpenAI-compatible server, e.g. http://localhost:11434/v1 (default: OpenAI)",
    "ai_model": "model the ai commands ask (default gpt-4o); --model picks another per call",
    "ai_timeout": "seconds an AI request may take (default 60)",
    "ai_requests_per_minute": "AI requests each user may make a minute, all processes together (default 10)",
    "stripe_secret_key": "Stripe secret key (STRIPE_SECRET_KEY works too); unset: billing is off "
    "and nothing is limited",
    "stripe_webhook_secret": "signing secret `billing webhook --listen` checks "
    "(STRIPE_WEBHOOK_SECRET works too)",
    "stripe_api_url": "Stripe API base URL (default https://api.stripe.com)",
    "billing_grace_days": "days a past_due subscription keeps its plan before free limits apply "
    "(default 7)",
    "billing_return_url": "page Stripe Checkout and the billing portal send the browser back to "
    "(default https://example.com/)",
    "series_horizon": "how far ahead the daemon makes a recurring series' posts (default 14d)",
    "evergreen_lead": "how long before an empty slot the daemon fills it from the evergreen "
    "pool (default 1h)",
    "feed_timeout": "seconds a feed fetch may take (default 20)",
}

# Old names still read (with a warning naming the new one) when the new one is unset.
RENAMED_SETTINGS: dict[str, str] = {
    "x_processing_timeout": "x_media_wait_seconds",
    "x_poll_seconds": "x_media_poll_seconds",
    "linkedin_video_wait_seconds": "linkedin_media_wait_seconds",
    "linkedin_poll_seconds": "linkedin_media_poll_seconds",
    "facebook_video_wait_seconds": "facebook_media_wait_seconds",
    "facebook_poll_seconds": "facebook_media_poll_seconds",
    "instagram_poll_timeout": "instagram_media_wait_seconds",
    "instagram_poll_seconds": "instagram_media_poll_seconds",
    "mastodon_poll_seconds": "mastodon_media_poll_seconds",
    "bluesky_video_timeout": "bluesky_media_wait_seconds",
    "bluesky_poll_seconds": "bluesky_media_poll_seconds",
}
KNOWN_SETTINGS.update({old: f"deprecated: use {new}" for old, new in RENAMED_SETTINGS.items()})
_OLD_NAMES = {new: old for old, new in RENAMED_SETTINGS.items()}

# Settings every platform may have, `<platform>` standing for its name (x, mastodon, or a
# plugin's): AUTOPOSTR_X_API_URL is `<platform>_api_url`.
SETTING_FAMILIES: dict[str, str] = {
    "<platform>_api_url": "a platform's API base URL (default: the platform's own)",
    "<platform>_auth_url": "a platform's sign-in base URL (default: the platform's own)",
    "<platform>_client_id": "a platform's OAuth app (client id) for `accounts connect`",
    "<platform>_client_secret": "that OAuth app's secret",
    "<platform>_media_wait_seconds": "how long a platform may process uploaded media before the "
    "publish is tried again later",
    "<platform>_media_poll_seconds": "pause between checks of a platform's media processing",
    "plans_<plan>_accounts": "a plan's most connected accounts (`[plans.NAME]`; unlimited: -1)",
    "plans_<plan>_posts_per_month": "a plan's most posts scheduled or published in a billing month",
    "plans_<plan>_ai_requests_per_month": "a plan's most answered AI requests in a billing month",
    "plans_<plan>_seats": "a plan's most members plus open invitations",
    "plans_<plan>_stripe_price_monthly": "the Stripe price id of a plan's monthly subscription",
    "plans_<plan>_stripe_price_yearly": "the Stripe price id of a plan's yearly subscription",
    "<platform>_max_in_flight": "publish calls one daemon has in flight to a platform at once "
    "(default 200)",
}
_FAMILIES = [
    (re.compile("^" + re.sub(r"<[a-z]+>", "[a-z0-9_]+", family) + "$"), text)
    for family, text in SETTING_FAMILIES.items()
]


def describe(name: str) -> str | None:
    """What a setting is for and its default; None for a name autopostr never reads."""
    if name in KNOWN_SETTINGS:
        return KNOWN_SETTINGS[name]
    return next((text for pattern, text in _FAMILIES if pattern.match(name)), None)


def declare(name: str, description: str) -> None:
    """Declare a setting a plugin reads (say `myplatform_region`), so it may be read."""
    KNOWN_SETTINGS.setdefault(name, description)


SECRET_SUFFIXES = ("_key", "_secret", "_token", "_password", "_jwt")
SECRET_NAMES = frozenset({"token", "secret", "password"})


def is_secret(name: str) -> bool:
    """Whether a name says its value is a secret: the one rule for settings (masked when
    shown) and for the credentials an account keeps in its extra fields (sealed)."""
    return name in SECRET_NAMES or name.endswith(SECRET_SUFFIXES)


@dataclass(frozen=True)
class Resolved:
    value: str
    source: str  # "env AUTOPOSTR_X", "file /path", or "default"


def default_home() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def default_config_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}".lower().replace("-", "_")
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}_"))
        elif isinstance(value, bool):
            flat[name] = "true" if value else "false"
        else:
            flat[name] = str(value)
    return flat


def read_config_file(path: Path) -> dict[str, str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except IsADirectoryError:
        raise ConfigError(
            f"config file {path} is a directory; point AUTOPOSTR_CONFIG at a TOML file"
        ) from None
    except PermissionError:
        from autopostr.access import explain
        from autopostr.errors import PermissionDenied

        problem = explain(path, os.R_OK, "is not a file you can read")
        why = f"{problem[0]}: {problem[1]}" if problem else "permission denied"
        raise PermissionDenied(f"cannot read config file {path}: {why}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        return _flatten(tomllib.loads(raw.decode("utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


class Settings:
    """Every setting with its source; build one with `load_settings()`."""

    def __init__(self, config_path: Path, config_source: str, values: dict[str, Resolved]):
        self.config_path = config_path
        self.config_source = config_source
        self._values = values
        self._warned: set[str] = set()

    def get(self, name: str, default: str | None = None) -> str | None:
        """The raw value; for numbers, sizes, durations and flags use the typed readers."""
        _check_declared(name)
        resolved = self._resolve(name)
        return resolved.value if resolved is not None else default

    def source(self, name: str) -> str:
        _check_declared(name)
        resolved = self._resolve(name)
        return resolved.source if resolved is not None else "unset"

    def _resolve(self, name: str) -> Resolved | None:
        """The setting, or its value under the deprecated name it had (warned about once)."""
        resolved = self._values.get(name)
        old = _OLD_NAMES.get(name)
        if resolved is not None or old is None or old not in self._values:
            return resolved
        resolved = self._values[old]
        if old not in self._warned:
            self._warned.add(old)
            env = resolved.source.startswith("env ")
            was = resolved.source[4:] if env else f"{old} ({resolved.source})"
            now = f"{ENV_PREFIX}{name.upper()}" if env else name
            logging.getLogger("autopostr.config").warning(
                "%s is a deprecated name: use %s", was, now
            )
        return resolved

    def items(self) -> list[tuple[str, Resolved]]:
        return sorted(self._values.items())

    def flag(self, name: str, default: bool = False) -> bool:
        """A yes/no setting: 1/true/yes/on or 0/false/no/off; anything else is refused."""
        raw = (self.get(name) or "").strip().lower()
        if not raw:
            return default
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise self._invalid(name, "yes or no (true/false, 1/0, on/off)")

    def number(
        self,
        name: str,
        default: float,
        *,
        minimum: float = 0.0,
        maximum: float | None = None,
        above: float | None = None,
    ) -> float:
        """A finite number in range (`above`: strictly greater), or `default` when unset;
        anything else stops with a ConfigError naming the setting and where it came
        from, rather than sleeping forever or failing halfway through a publish."""
        raw = (self.get(name) or "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if _within(value, minimum, maximum, above):
            return value
        raise self._invalid(name, _range("a number", minimum, maximum, above))

    def integer(
        self, name: str, default: int, *, minimum: int = 0, maximum: int | None = None
    ) -> int:
        """A whole number in range, or `default` when unset."""
        raw = (self.get(name) or "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise self._invalid(name, _range("a whole number", minimum, maximum)) from None
        if value < minimum or (maximum is not None and value > maximum):
            raise self._invalid(name, _range("a whole number", minimum, maximum))
        return value

    def seconds(
        self,
        name: str,
        default: float,
        *,
        minimum: float = 0.0,
        maximum: float | None = None,
        above: float | None = None,
    ) -> float:
        """A duration in seconds: `30`, `1.5`, or with a unit, `90s`, `5m`, `2h`, `1d`."""
        raw = (self.get(name) or "").strip().lower()
        if not raw:
            return default
        unit = _DURATION_UNITS.get(raw[-1]) if raw[-1].isalpha() else 1.0
        number = raw[:-1] if raw[-1].isalpha() else raw
        try:
            value = float(number) * unit if unit is not None else math.nan
        except ValueError:
            value = math.nan
        if _within(value, minimum, maximum, above):
            return value
        raise self._invalid(
            name, _range("a duration such as 30, 90s, 5m or 2h", minimum, maximum, above)
        )

    def size(self, name: str, default: int) -> int:
        """A size in bytes, above zero: `1073741824`, `500MB`, `1GiB` or `1.5g`."""
        raw = (self.get(name) or "").strip()
        if not raw:
            return default
        match = _SIZE.match(raw)
        if match:
            number, unit, binary = match.groups()
            power = "kmgt".index(unit.lower()) + 1 if unit else 0
            value = int(float(number) * (1024 if binary else 1000) ** power)
            if value > 0:
                return value
        raise self._invalid(name, "a size above 0 such as 500MB, 1GiB or 1073741824")

    def _invalid(self, name: str, expected: str) -> ConfigError:
        return ConfigError(
            f"AUTOPOSTR_{name.upper()} must be {expected}, not {self.get(name)!r} "
            f"(from {self.source(name)})"
        )

    @property
    def home(self) -> Path:
        return Path(self.get("home") or default_home()).expanduser()

    @property
    def database_url(self) -> str:
        url = self.get("database_url")
        return url if url else f"sqlite:///{self.home / 'autopostr.db'}"

    @property
    def debug(self) -> bool:
        return self.flag("debug")


def _check_declared(name: str) -> None:
    # A setting read but declared nowhere is missing from `config show` and the README,
    # or is a typo that would silently never take effect.
    assert describe(name) is not None, (
        f"setting {name!r} is read but not declared: add it to KNOWN_SETTINGS in "
        "autopostr/config.py and to the README's configuration table"
    )


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?$", re.IGNORECASE)


def _within(value: float, minimum: float, maximum: float | None, above: float | None) -> bool:
    return (
        math.isfinite(value)
        and value >= minimum
        and (above is None or value > above)
        and (maximum is None or value <= maximum)
    )


def _range(what: str, minimum: float, maximum: float | None, above: float | None = None) -> str:
    if above is not None:
        upto = f" and at most {maximum:g}" if maximum is not None else ""
        return f"{what} above {above:g}{upto}"
    if maximum is not None:
        return f"{what} from {minimum:g} to {maximum:g}"
    return f"{what}, {minimum:g} or more" if minimum else f"{what}, 0 or more"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    if env.get("AUTOPOSTR_CONFIG"):
        config_path = Path(env["AUTOPOSTR_CONFIG"]).expanduser()
        config_source = "env AUTOPOSTR_CONFIG"
    else:
        config_path = default_config_path()
        config_source = "default"

    values: dict[str, Resolved] = {}
    for name, value in read_config_file(config_path).items():
        values[name] = Resolved(value, f"file {config_path}")
    for key, value in env.items():
        if key.startswith(ENV_PREFIX) and key != "AUTOPOSTR_CONFIG" and value != "":
            values[key[len(ENV_PREFIX) :].lower()] = Resolved(value, f"env {key}")

    if "home" not in values:
        values["home"] = Resolved(str(default_home()), "default")
    if "database_url" not in values:
        home = Path(values["home"].value).expanduser()
        values["database_url"] = Resolved(f"sqlite:///{home / 'autopostr.db'}", "default")
    return Settings(config_path, config_source, values)


@dataclass(frozen=True)
class Listed:
    """One line of `config show`: a setting, masked, with where it came from."""

    name: str
    value: str
    source: str
    description: str


def listing(settings: Settings) -> list[Listed]:
    """What is set (secrets masked), then every declared setting left unset, then the
    families (`<platform>_api_url`), each with what it does and its default."""
    listed = [
        Listed(name, mask(name, resolved.value), resolved.source, describe(name) or "")
        for name, resolved in settings.items()
    ]
    shown = {item.name for item in listed}
    listed += [
        Listed(name, "", "unset", text)
        for name, text in sorted(KNOWN_SETTINGS.items())
        if name not in shown
    ]
    listed += [Listed(family, "", "unset", text) for family, text in SETTING_FAMILIES.items()]
    return listed


def mask(name: str, value: str) -> str:
    """Hide secrets for display; a database URL keeps everything but its password."""
    if name == "database_url" or name.endswith("_url"):
        return mask_url(value)
    if is_secret(name):
        return "****" if value else ""
    return value


def mask_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, has_password, _ = credentials.partition(":")
    return f"{scheme}://{user}{':****' if has_password else ''}@{host}"
