"""Health checks with a fix for each; later features append theirs to CHECKS."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from autopostr.config import Settings
from autopostr.db import SCHEMA_HEAD, SCHEMA_HISTORY, Database
from autopostr.errors import AutopostrError, PermissionDenied
from autopostr.states import DUE_STATES, DestinationState


@dataclass
class CheckResult:
    name: str
    status: str  # "ok" | "warn" | "fail"
    detail: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "fail"


def _fail(name: str, exc: AutopostrError, fix: str) -> CheckResult:
    """A failed check from an error; errors that know their own fix bring it."""
    own_fix = getattr(exc, "fix", None)
    if isinstance(own_fix, str) and own_fix:
        return CheckResult(name, "fail", getattr(exc, "detail", exc.message), own_fix)
    return CheckResult(name, "fail", exc.message, fix)


class Context:
    """What the checks share, computed once: settings and the database handle."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._db: Database | None = None
        self.db_error: str | None = None
        self.reachable = False
        self.schema_ok = False

    def database(self) -> Database | None:
        if self._db is None and self.db_error is None:
            try:
                self._db = Database(self.settings)
            except AutopostrError as exc:
                self.db_error = exc.message
        return self._db


Check = Callable[[Context], "CheckResult | None"]  # None: nothing to say here


def check_home(ctx: Context) -> CheckResult:
    from autopostr.access import access_problem, reach_problem

    home = ctx.settings.home
    name = "home is writable"
    problem = reach_problem(home)  # a folder on the way this user may not enter
    if problem is not None:
        return CheckResult(name, "fail", f"{home} cannot be reached: {problem[0]}", problem[1])
    if not home.exists():
        # init can create it only when its nearest existing parent is a writable folder.
        parent = home.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            return CheckResult(
                name,
                "fail",
                f"{home} cannot be created: {parent} is not a writable folder",
                "set AUTOPOSTR_HOME to a writable folder",
            )
        return CheckResult(name, "fail", f"{home} does not exist", "autopostr init")
    if not home.is_dir():
        return CheckResult(
            name,
            "fail",
            f"{home} is a file, not a folder",
            "set AUTOPOSTR_HOME to a writable folder",
        )
    problem = access_problem(home, os.R_OK | os.W_OK | os.X_OK, "is not a folder you can write")
    if problem is not None:
        return CheckResult(name, "fail", problem[0], problem[1])
    return CheckResult(name, "ok", str(home))


def _loose(path: Path) -> int | None:
    """The mode of `path` when group or others may use it, else None."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    return mode if mode & 0o077 else None


def _config_holds_secrets(settings: Settings) -> bool:
    from autopostr.config import is_secret, mask_url, read_config_file

    try:
        values = read_config_file(settings.config_path)
    except AutopostrError:
        return False  # the configuration check reports an unreadable file
    return any(
        value and (is_secret(name) or name == "on_event" or mask_url(value) != value)
        for name, value in values.items()
    )


def check_private(ctx: Context) -> CheckResult:
    """Nobody else on the machine can read the database, the keys or the secrets."""
    name = "files are private"
    if os.name != "posix":
        return CheckResult(name, "ok", "permissions are not checked on this system")
    home = ctx.settings.home
    wanted: list[tuple[Path, str]] = [(home, "700"), (home / "secrets", "700")]
    secrets_dir = home / "secrets"
    if secrets_dir.is_dir():
        wanted += [(p, "600") for p in sorted(secrets_dir.iterdir()) if p.is_file()]
    db = ctx.database()
    sqlite_path = db.url.sqlite_path if db is not None else None
    if sqlite_path is not None:
        wanted += [
            (sqlite_path.with_name(sqlite_path.name + suffix), "600")
            for suffix in ("", "-wal", "-shm")
        ]
    if _config_holds_secrets(ctx.settings):
        wanted.append((ctx.settings.config_path, "600"))
    loose = [(path, mode, fix) for path, fix in wanted if (mode := _loose(path)) is not None]
    if not loose:
        return CheckResult(name, "ok", f"only you can read {home} and what holds secrets")
    return CheckResult(
        name,
        "fail",
        "; ".join(f"{path} is open to others (mode {mode:04o})" for path, mode, _ in loose),
        "; ".join(f"chmod {fix} {path}" for path, _, fix in loose),
    )


def check_database(ctx: Context) -> CheckResult:
    name = "database is reachable"
    db = ctx.database()
    if db is None:
        return CheckResult(name, "fail", ctx.db_error or "", "fix AUTOPOSTR_DATABASE_URL")
    try:
        if not db.exists():
            return CheckResult(
                name, "fail", f"{db.url.display} does not exist yet", "autopostr init"
            )
        db.revision()
    except AutopostrError as exc:
        return _fail(name, exc, "start the database server or fix AUTOPOSTR_DATABASE_URL")
    ctx.reachable = True
    return CheckResult(name, "ok", db.url.display)


def check_schema(ctx: Context) -> CheckResult:
    name = "schema is at head"
    db = ctx.database()
    try:
        if db is None or not db.exists():
            return CheckResult(name, "fail", "no database", "autopostr init")
        revision = db.revision()
    except AutopostrError as exc:
        return _fail(name, exc, "fix the database connection first")
    if revision is None:
        return CheckResult(name, "fail", "no autopostr schema", "autopostr init")
    if revision != SCHEMA_HEAD:
        if revision not in SCHEMA_HISTORY:  # newer than this autopostr: upgrading the db fails
            return CheckResult(
                name,
                "fail",
                f"at {revision}, newer than this autopostr knows (head {SCHEMA_HEAD})",
                "upgrade autopostr (pip install -U autopostr)",
            )
        return CheckResult(
            name, "fail", f"at {revision}, head is {SCHEMA_HEAD}", "autopostr db upgrade"
        )
    ctx.schema_ok = True
    return CheckResult(name, "ok", revision)


def check_intact(ctx: Context) -> CheckResult:
    """Every page reads back: a damaged file otherwise looks healthy until a command reads it."""
    from autopostr.dbfaults import corrupt

    name = "database is intact"
    db = ctx.database()
    # PostgreSQL is read table by table, so it needs the tables first.
    if db is None or not ctx.reachable or (db.url.dialect != "sqlite" and not ctx.schema_ok):
        return CheckResult(name, "warn", "no database to read", "fix the checks above first")
    try:
        problems = db.damage()
    except AutopostrError as exc:
        return _fail(name, exc, "fix the database connection first")
    if problems:
        ctx.schema_ok = False  # what the later checks would read cannot be trusted
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        error = corrupt(db.url, "; ".join(problems[:3]) + more)
        return CheckResult(name, "fail", error.detail, error.fix)
    how = "PRAGMA quick_check" if db.url.dialect == "sqlite" else "every table read in full"
    return CheckResult(name, "ok", f"{how}: no damage")


def _published_key(ctx: Context) -> str | None:
    from autopostr.keys import published_key

    db = ctx.database()
    if db is None or not ctx.schema_ok:
        return None
    with db.session() as session:
        public = published_key(session)
    return public.kid if public is not None else None


def check_key(ctx: Context) -> CheckResult:
    from autopostr.keys import check_probe, load_keyset, teams_keyed_here

    name = "encryption key decrypts stored secrets"
    try:
        keyset = load_keyset(ctx.settings)
    except AutopostrError as exc:
        fix = (
            "fix or unset AUTOPOSTR_ENCRYPTION_KEY"
            if ctx.settings.get("encryption_key")
            else f"run autopostr as the owner of {ctx.settings.home}, or give yourself access"
            if isinstance(exc, PermissionDenied)
            else "restore the key file from your backup"
        )
        return CheckResult(name, "fail", exc.message, fix)
    if keyset is None:
        public = _published_key(ctx)
        if public is not None:  # a member's machine: it seals, the daemons open
            return CheckResult(
                name,
                "ok",
                f"no key here (none needed): secrets are sealed to the database's public key "
                f"{public}, which only the daemons' keys open",
            )
        db = ctx.database()
        if db is not None and ctx.schema_ok and db.tokens_hidden():
            return CheckResult(
                name,
                "fail",
                "no encryption key here, and the database publishes no public key to seal to",
                "run `autopostr keys migrate` on a daemon's machine: members then need no key",
            )
        return CheckResult(
            name,
            "fail",
            "no encryption key found",
            "autopostr init (or set AUTOPOSTR_ENCRYPTION_KEY)",
        )
    db = ctx.database()
    if not ctx.schema_ok or db is None:
        return CheckResult(
            name, "warn", f"key {keyset.active} from {keyset.source}; no schema to probe"
        )
    try:
        with db.session() as session:
            probe = check_probe(session, keyset)
    except AutopostrError as exc:
        with db.session() as session:
            teams = teams_keyed_here(session, keyset)
        if teams:  # a team's own daemon host: it opens that team's secrets alone
            return CheckResult(
                name,
                "ok",
                f"the key(s) of team(s) {', '.join(teams)} from {keyset.source}, not the "
                "database's: daemons here publish for those teams only",
            )
        return CheckResult(
            name,
            "fail",
            exc.message,
            "restore the key this database was set up with (AUTOPOSTR_ENCRYPTION_KEY or the key file)",
        )
    if probe is None:
        return CheckResult(
            name,
            "warn",
            f"key {keyset.active} from {keyset.source}; no probe yet",
            "autopostr init",
        )
    return CheckResult(name, "ok", f"key {keyset.active} from {keyset.source}")


def check_signed_in(ctx: Context) -> CheckResult:
    """Every command but the daemon acts as someone: say who, or how to sign in."""
    from autopostr.errors import NotLoggedIn
    from autopostr.local_session import current_actor

    name = "someone is signed in"
    db = ctx.database()
    if not ctx.schema_ok or db is None:
        return CheckResult(name, "warn", "no schema to look in", "autopostr init")
    try:
        with db.session() as session:
            actor = current_actor(ctx.settings, db, session)
    except NotLoggedIn as exc:
        reason, _, fix = exc.message.partition(": ")
        # On a shared PostgreSQL, a machine that only runs the daemon signs in as no one.
        status = "fail" if db.url.dialect == "sqlite" else "warn"
        return CheckResult(name, status, reason, fix.removeprefix("run ") or "autopostr init")
    except AutopostrError as exc:
        return _fail(name, exc, "fix the checks above first")
    via = "AUTOPOSTR_TOKEN" if actor.via == "token" else "this machine's session"
    team = f" in {actor.team_name} ({actor.role})" if actor.team_name else ""
    return CheckResult(name, "ok", f"{actor.email}{team}, by {via}")


def check_keyring(ctx: Context) -> CheckResult:
    from autopostr.secretstore import keyring_backend_name, keyring_usable

    name = "keyring backend"
    setting = ctx.settings.get("keyring")
    try:
        backend = keyring_backend_name(setting)
        usable = keyring_usable(setting)
    except Exception as exc:  # a broken keyring install must not break doctor
        return CheckResult(name, "warn", f"keyring failed to load: {exc}", "pip install keyring")
    if usable:
        return CheckResult(name, "ok", backend)
    return CheckResult(
        name,
        "warn",
        f"{backend}: secrets are kept in 0600 files under {ctx.settings.home / 'secrets'}",
        "install a keyring backend (e.g. Secret Service) or keep the home private",
    )


def check_plugins(ctx: Context) -> CheckResult:
    from autopostr.platforms.registry import platform_names, plugin_warnings

    name = "platform plugins load"
    names = platform_names()
    problems = plugin_warnings()
    if problems:
        return CheckResult(
            name, "warn", "; ".join(problems), "reinstall or remove the broken plugin"
        )
    return CheckResult(name, "ok", ", ".join(names))


def check_error_reporting(_ctx: Context) -> CheckResult:
    """SENTRY_DSN needs the optional extra; without it nothing is reported."""
    from urllib.parse import urlsplit

    from autopostr.reporting import DSN_VARIABLE, dsn, extra_installed

    name = "error reporting"
    address = dsn()
    if address is None:
        return CheckResult(name, "ok", f"off ({DSN_VARIABLE} is not set)")
    if not extra_installed():
        return CheckResult(
            name,
            "warn",
            f"{DSN_VARIABLE} is set but the sentry extra is not installed: nothing is reported",
            "pip install 'autopostr[sentry]'",
        )
    return CheckResult(name, "ok", f"to Sentry at {urlsplit(address).hostname or '?'}")


DAEMON_FIX = (
    "autopostr daemon run (or a cron line: * * * * * autopostr daemon run --once); "
    "see `autopostr daemon systemd-unit`"
)
DEFAULT_OVERDUE_MINUTES = 10


def check_daemon(ctx: Context) -> CheckResult:
    """A live heartbeat, or nothing waiting for one."""
    from sqlalchemy import func, select
    from sqlmodel import col

    from autopostr.daemons import stale_after
    from autopostr.models import Daemon, PostDestination, utcnow

    name = "a daemon is alive"
    stale = stale_after(ctx.settings)
    db = ctx.database()
    if not ctx.schema_ok or db is None:
        return CheckResult(name, "warn", "no schema to look in", "autopostr init")
    now = utcnow()
    try:
        with db.session() as session:
            alive = list(
                session.execute(
                    select(Daemon)
                    .where(
                        col(Daemon.stopped_at).is_(None),
                        col(Daemon.heartbeat_at) >= now - stale,
                    )
                    .order_by(col(Daemon.heartbeat_at).desc())
                )
                .scalars()
                .all()
            )
            waiting = session.execute(
                select(func.count())
                .select_from(PostDestination)
                .where(
                    col(PostDestination.status).in_(DUE_STATES | {DestinationState.CLAIMED}),
                    col(PostDestination.due_at).is_not(None),
                )
            ).scalar_one()
    except AutopostrError as exc:
        return CheckResult(name, "fail", exc.message, "fix the database connection first")
    if alive:
        hosts = ", ".join(f"{d.host} pid {d.pid}" for d in alive[:3])
        more = f" and {len(alive) - 3} more" if len(alive) > 3 else ""
        return CheckResult(name, "ok", f"{len(alive)} alive: {hosts}{more}")
    from autopostr.daemons import CRON_FRESH, last_cron_run

    cron = last_cron_run(db)
    if cron is not None and now - cron <= CRON_FRESH:
        return CheckResult(
            name,
            "ok",
            f"cron: `daemon run --once` last ran at {cron.isoformat(timespec='seconds')}",
        )
    seconds = int(stale.total_seconds())
    if not waiting:
        return CheckResult(
            name,
            "warn",
            f"no daemon has beaten in the last {seconds} s; nothing is scheduled yet",
            DAEMON_FIX,
        )
    return CheckResult(
        name,
        "fail",
        f"no daemon has beaten in the last {seconds} s and {waiting} destination(s) "
        "wait to be published",
        DAEMON_FIX,
    )


def overdue_minutes(settings: Settings) -> int:
    return settings.integer("overdue_minutes", DEFAULT_OVERDUE_MINUTES, minimum=1)


def check_overdue(ctx: Context) -> CheckResult:
    """Nothing due (or due for a retry) longer ago than `overdue_minutes` is still waiting."""
    from datetime import timedelta

    from sqlalchemy import func, or_, select
    from sqlmodel import col

    from autopostr.models import PostDestination, SocialAccount, utcnow
    from autopostr.timeparse import iso

    name = "nothing is overdue"
    db = ctx.database()
    if not ctx.schema_ok or db is None:
        return CheckResult(name, "warn", "no schema to look in", "autopostr init")
    try:
        minutes = overdue_minutes(ctx.settings)
    except AutopostrError as exc:
        return CheckResult(name, "fail", exc.message, "set AUTOPOSTR_OVERDUE_MINUTES to e.g. 10")
    now = utcnow()
    cutoff = now - timedelta(minutes=minutes)
    overdue = (
        col(PostDestination.status).in_(DUE_STATES),
        col(PostDestination.due_at) < cutoff,
        or_(
            col(PostDestination.next_attempt_at).is_(None),
            col(PostDestination.next_attempt_at) < cutoff,
        ),
    )
    try:
        with db.session() as session:
            count = session.execute(
                select(func.count()).select_from(PostDestination).where(*overdue)
            ).scalar_one()
            oldest = session.execute(
                select(PostDestination, SocialAccount)
                .join(SocialAccount, col(SocialAccount.id) == col(PostDestination.account_id))
                .where(*overdue)
                .order_by(col(PostDestination.due_at), col(PostDestination.id))
                .limit(1)
            ).first()
    except AutopostrError as exc:
        return CheckResult(name, "fail", exc.message, "fix the database connection first")
    if not count or oldest is None:
        return CheckResult(name, "ok", f"nothing waits more than {minutes} min past its time")
    dest, account = oldest
    due = max(d for d in (dest.due_at, dest.next_attempt_at) if d is not None)
    late = int((now - due).total_seconds() // 60)
    return CheckResult(
        name,
        "fail",
        f"{count} destination(s) are more than {minutes} min overdue; the oldest, post "
        f"{dest.post_id} to {account.platform}:{account.handle}, was due {iso(due)} "
        f"({late} min ago)",
        "start a daemon (`autopostr daemon run`, see `autopostr daemon status`) and check "
        f"`autopostr logs --post {dest.post_id}`",
    )


def check_accounts(ctx: Context) -> CheckResult:
    """Every account can publish: none needs reconnecting, no token runs out within 3 days."""
    from datetime import timedelta

    from sqlmodel import col, select

    from autopostr import accounts
    from autopostr.models import SocialAccount, utcnow

    name = "accounts can publish"
    db = ctx.database()
    if not ctx.schema_ok or db is None:
        return CheckResult(name, "warn", "no schema to look in", "autopostr init")
    horizon = utcnow() + timedelta(days=3)
    try:
        with db.session() as session:
            rows = list(session.exec(select(SocialAccount).order_by(col(SocialAccount.id))))
    except AutopostrError as exc:
        return CheckResult(name, "fail", exc.message, "fix the database connection first")
    broken = [a for a in rows if a.status == accounts.NEEDS_RECONNECT]
    if broken:
        return CheckResult(
            name,
            "fail",
            ", ".join(f"{accounts.label(a)} needs reconnecting" for a in broken),
            "; ".join(sorted({str(accounts.reconnect_fix(a, ctx.settings)) for a in broken})),
        )
    expiring = [a for a in rows if accounts.stops_by(a, horizon)]
    if expiring:
        return CheckResult(
            name,
            "warn",
            ", ".join(f"{accounts.label(a)}'s token runs out within 3 days" for a in expiring),
            "; ".join(sorted({str(accounts.reconnect_fix(a, ctx.settings)) for a in expiring})),
        )
    active = sum(1 for a in rows if a.status == accounts.ACTIVE)
    return CheckResult(name, "ok", f"{active} active account(s), none needs attention")


def check_sealed(ctx: Context) -> CheckResult:
    """Credentials an older autopostr kept in clear (webhook URLs) are sealed by now."""
    import json

    from sqlmodel import col, select

    from autopostr import accounts
    from autopostr.keys import unsealed_extras
    from autopostr.models import SocialAccount

    name = "stored credentials are sealed"
    db = ctx.database()
    if not ctx.schema_ok or db is None:
        return CheckResult(name, "warn", "no schema to look in", "autopostr init")
    try:
        with db.session() as session:
            rows = list(session.exec(select(SocialAccount).order_by(col(SocialAccount.id))))
    except AutopostrError as exc:
        return CheckResult(name, "fail", exc.message, "fix the database connection first")
    clear = [
        f"{accounts.label(a)} ({', '.join(keys)})"
        for a in rows
        if (keys := unsealed_extras(a.platform, json.loads(a.extra or "{}")))
    ]
    if not clear:
        return CheckResult(name, "ok", "every stored credential is encrypted")
    return CheckResult(
        name,
        "warn",
        f"kept in clear in the database: {', '.join(clear)}",
        "autopostr keys rotate (with AUTOPOSTR_ENCRYPTION_KEY set, pipe it the current key: "
        "`autopostr keys rotate --new-key-stdin`)",
    )


INSTAGRAM_MEDIA_WHY = (
    "Instagram downloads every image and video itself, by URL, so autopostr's media must "
    "be reachable on the public internet: serve $AUTOPOSTR_HOME/media (or a copy) over "
    "https and set AUTOPOSTR_INSTAGRAM_MEDIA_BASE_URL to its address; each file is "
    "<base>/<sha256><ext>, or use a template with {sha256}, {sha2} and {ext}, e.g. "
    "https://media.example.com/{sha2}/{sha256}"
)


def check_instagram_media(ctx: Context) -> CheckResult:
    """Instagram fetches media by URL: with Instagram accounts, that URL must be set."""
    from sqlalchemy import func, select
    from sqlmodel import col

    from autopostr.models import SocialAccount

    name = "Instagram can fetch media"
    base = (ctx.settings.get("instagram_media_base_url") or "").strip()
    if base:
        if not base.startswith("https://"):
            return CheckResult(
                name, "warn", f"{base} is not https: Instagram may refuse it", INSTAGRAM_MEDIA_WHY
            )
        return CheckResult(name, "ok", f"media served from {base}")
    db = ctx.database()
    if not ctx.schema_ok or db is None:
        return CheckResult(name, "ok", "no Instagram account")
    try:
        with db.session() as session:
            count = session.execute(
                select(func.count())
                .select_from(SocialAccount)
                .where(col(SocialAccount.platform) == "instagram")
            ).scalar_one()
    except AutopostrError as exc:
        return CheckResult(name, "fail", exc.message, "fix the database connection first")
    if not count:
        return CheckResult(name, "ok", "no Instagram account")
    return CheckResult(
        name,
        "fail",
        f"{count} Instagram account(s), but AUTOPOSTR_INSTAGRAM_MEDIA_BASE_URL is unset: "
        "every Instagram post will fail",
        INSTAGRAM_MEDIA_WHY,
    )


BILLING_SYNC_LATE = timedelta(minutes=30)


def check_billing(ctx: Context) -> CheckResult:
    """Off (nothing limited), or on with a key Stripe accepts."""
    from autopostr.billing import plans
    from autopostr.billing.stripe_api import check_key

    name = "billing"
    if not plans.enabled(ctx.settings):
        return CheckResult(name, "ok", "off (no STRIPE_SECRET_KEY): nothing is limited")
    source = plans.key_source(ctx.settings)
    try:
        check_key(ctx.settings)
    except AutopostrError as exc:
        return CheckResult(
            name,
            "fail",
            f"the Stripe key from {source}: {exc.message}",
            "set a valid STRIPE_SECRET_KEY",
        )
    return CheckResult(name, "ok", f"on; Stripe accepts the key from {source}")


def check_billing_webhook(ctx: Context) -> CheckResult | None:
    """The webhook's signing secret, where the listener is used."""
    from autopostr.billing import events, plans

    if not plans.enabled(ctx.settings):
        return None
    name = "billing webhook"
    has_secret = plans.webhook_secret(ctx.settings) is not None
    used = _billing_meta(ctx, events.LAST_WEBHOOK)
    if has_secret:
        return CheckResult(name, "ok", "STRIPE_WEBHOOK_SECRET is set")
    if used:
        return CheckResult(
            name,
            "fail",
            "the webhook listener has been used but STRIPE_WEBHOOK_SECRET is unset",
            "set STRIPE_WEBHOOK_SECRET to the endpoint's signing secret (whsec_…)",
        )
    return CheckResult(
        name, "ok", "no STRIPE_WEBHOOK_SECRET: events come through `billing sync` and the daemon"
    )


def check_billing_sync(ctx: Context) -> CheckResult | None:
    """When Stripe's events were last applied."""
    from datetime import datetime

    from autopostr.billing import events, plans
    from autopostr.models import utcnow

    if not plans.enabled(ctx.settings):
        return None
    name = "billing sync"
    last = _billing_meta(ctx, events.LAST_SYNC)
    if last is None:
        return CheckResult(
            name, "warn", "never synced", "run `autopostr billing sync` (or a daemon)"
        )
    if utcnow() - datetime.fromisoformat(last) > BILLING_SYNC_LATE:
        return CheckResult(
            name, "warn", f"last synced {last}", "run a daemon, or `autopostr billing sync`"
        )
    return CheckResult(name, "ok", f"last synced {last}")


def _billing_meta(ctx: Context, key: str) -> str | None:
    from autopostr.billing.events import meta

    db = ctx.database()
    if not ctx.schema_ok or db is None:
        return None
    with db.session() as session:
        return meta(session, key)


CHECKS: list[Check] = [
    check_home,
    check_database,
    check_schema,
    check_intact,
    check_key,
    check_keyring,
    check_private,
    check_signed_in,
    check_plugins,
    check_daemon,
    check_overdue,
    check_accounts,
    check_sealed,
    check_instagram_media,
    check_billing,
    check_billing_webhook,
    check_billing_sync,
    check_error_reporting,
]


def check_row_security(ctx: Context) -> CheckResult:
    """On a shared PostgreSQL, the database (not only the CLI) keeps teams apart."""
    from autopostr.dbroles import posture

    name = "row-level security"
    db = ctx.database()
    if db is None or db.url.dialect != "postgresql":
        return CheckResult(name, "ok", "SQLite: one person's database, no roles needed")
    if not ctx.reachable or not ctx.schema_ok:
        return CheckResult(name, "warn", "no schema to look at", "fix the checks above first")
    with db.engine.connect() as conn:
        found = posture(conn, ctx.settings.get("db_role_prefix"))
    setup = "autopostr db setup-roles (with the tables' owner in AUTOPOSTR_ADMIN_DATABASE_URL)"
    if not found.set_up:
        return CheckResult(
            name,
            "warn",
            "every member connects with the same database role: the CLI alone keeps teams apart",
            setup,
        )
    if found.unguarded:
        return CheckResult(
            name,
            "fail",
            f"row-level security is off (or not forced) on {', '.join(found.unguarded)}",
            setup,
        )
    if found.superuser or found.owner:
        what = "a superuser" if found.superuser else "the owner of autopostr's tables"
        return CheckResult(
            name,
            "warn",
            f"connected as {found.role}, {what}, which row-level security does not hold back",
            "connect as your own role: AUTOPOSTR_DATABASE_URL from `autopostr db grant EMAIL` "
            "(daemons: `autopostr db grant --daemon NAME`); keep the owner's URL in "
            "AUTOPOSTR_ADMIN_DATABASE_URL",
        )
    who = "a daemon's role" if found.daemon else "a member's role"
    return CheckResult(name, "ok", f"on for every team table; connected as {found.role} ({who})")


CHECKS.append(check_row_security)


def _run(check: Check, ctx: Context) -> CheckResult | None:
    """A check that trips over an unreadable file or a broken database fails; doctor goes on."""
    try:
        return check(ctx)
    except AutopostrError as exc:
        return _fail(check.__name__.removeprefix("check_").replace("_", " "), exc, "see the error")
    except OSError as exc:
        name = check.__name__.removeprefix("check_").replace("_", " ")
        where = f" {exc.filename}" if exc.filename else ""
        return CheckResult(
            name, "fail", f"cannot use{where}: {exc.strerror or exc}", "fix its permissions"
        )


def run_checks(settings: Settings) -> list[CheckResult]:
    ctx = Context(settings)
    return [result for check in CHECKS if (result := _run(check, ctx)) is not None]
