"""Health checks with a fix for each; later features append theirs to CHECKS."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from autopostr.config import Settings
from autopostr.db import SCHEMA_HEAD, SCHEMA_HISTORY, Database
from autopostr.errors import AutopostrError


@dataclass
class CheckResult:
    name: str
    status: str  # "ok" | "warn" | "fail"
    detail: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "fail"


class Context:
    """What the checks share, computed once: settings and the database handle."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._db: Database | None = None
        self.db_error: str | None = None
        self.schema_ok = False

    def database(self) -> Database | None:
        if self._db is None and self.db_error is None:
            try:
                self._db = Database(self.settings)
            except AutopostrError as exc:
                self.db_error = exc.message
        return self._db


Check = Callable[[Context], CheckResult]


def check_home(ctx: Context) -> CheckResult:
    home = ctx.settings.home
    name = "home is writable"
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
    if not home.is_dir() or not os.access(home, os.W_OK | os.X_OK):
        return CheckResult(
            name,
            "fail",
            f"{home} is not a writable folder",
            "set AUTOPOSTR_HOME to a writable folder",
        )
    return CheckResult(name, "ok", str(home))


def check_database(ctx: Context) -> CheckResult:
    name = "database is reachable"
    db = ctx.database()
    if db is None:
        return CheckResult(name, "fail", ctx.db_error or "", "fix AUTOPOSTR_DATABASE_URL")
    if not db.exists():
        return CheckResult(name, "fail", f"{db.url.display} does not exist yet", "autopostr init")
    try:
        db.revision()
    except AutopostrError as exc:
        return CheckResult(
            name, "fail", exc.message, "start the database server or fix AUTOPOSTR_DATABASE_URL"
        )
    return CheckResult(name, "ok", db.url.display)


def check_schema(ctx: Context) -> CheckResult:
    name = "schema is at head"
    db = ctx.database()
    if db is None or not db.exists():
        return CheckResult(name, "fail", "no database", "autopostr init")
    try:
        revision = db.revision()
    except AutopostrError as exc:
        return CheckResult(name, "fail", exc.message, "fix the database connection first")
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


def check_key(ctx: Context) -> CheckResult:
    from autopostr.keys import check_probe, load_keyset

    name = "encryption key decrypts stored secrets"
    try:
        keyset = load_keyset(ctx.settings)
    except AutopostrError as exc:
        fix = (
            "fix or unset AUTOPOSTR_ENCRYPTION_KEY"
            if ctx.settings.get("encryption_key")
            else "restore the key file from your backup"
        )
        return CheckResult(name, "fail", exc.message, fix)
    if keyset is None:
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


CHECKS: list[Check] = [
    check_home,
    check_database,
    check_schema,
    check_key,
    check_keyring,
    check_plugins,
]


def run_checks(settings: Settings) -> list[CheckResult]:
    ctx = Context(settings)
    return [check(ctx) for check in CHECKS]
