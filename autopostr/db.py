"""Engines, transactions and the schema check every database command runs first.

SQLite transactions start with `BEGIN IMMEDIATE` so that two writers queue on
the busy timeout instead of failing when a read lock is upgraded; PostgreSQL
runs through psycopg 3 whatever spelling of the URL the user gave.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopostr.config import Settings, mask_url
from autopostr.errors import (
    ConfigError,
    DatabaseNotAccessible,
    DatabaseUnreachable,
    SchemaAhead,
    SchemaBehind,
    SchemaMissing,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

MIGRATIONS = Path(__file__).with_name("migrations") / "versions"


def _assignment(script: str, name: str) -> str | None:
    """The string a script's top-level `name = "…"` line assigns ("" for None)."""
    start = script.find(f"\n{name}") + 1
    while start and script[start + len(name) : start + len(name) + 1] not in (":", " ", "="):
        start = script.find(f"\n{name}", start) + 1  # a longer name: look further
    if not start:
        return None
    end = script.find("\n", start)
    value = script[start : end if end >= 0 else None].partition("=")[2].strip()
    return "" if value == "None" else value.strip("\"'")


def read_history(versions: Path = MIGRATIONS) -> tuple[str, ...]:
    """The migrations' revision ids, oldest first, read from the scripts' own
    `revision` and `down_revision` lines: importing Alembic to walk them would cost
    every command about half a second. A test keeps this equal to Alembic's history."""
    parent_of: dict[str, str] = {}
    for path in versions.glob("*.py"):
        script = path.read_text(encoding="utf-8")
        revision = _assignment(script, "revision")
        if revision:
            parent_of[revision] = _assignment(script, "down_revision") or ""
    children = {parent: child for child, parent in parent_of.items()}
    history: list[str] = []
    while (child := children.get(history[-1] if history else "")) is not None:
        history.append(child)
    if len(history) != len(parent_of) or len(children) != len(parent_of):
        raise RuntimeError(f"the migrations in {versions} do not form one line of revisions")
    return tuple(history)


# Every command checks the database against these; read once per process.
SCHEMA_HISTORY = read_history()
SCHEMA_HEAD = SCHEMA_HISTORY[-1]

_engines: dict[str, Engine] = {}
# Per URL: whether its role may not read the token columns (a member's database role).
_tokens_hidden: dict[str, bool] = {}


@dataclass(frozen=True)
class DatabaseUrl:
    url: str  # SQLAlchemy URL with an explicit driver
    dialect: str  # "sqlite" | "postgresql"
    sqlite_path: Path | None  # None for PostgreSQL and in-memory SQLite

    @property
    def display(self) -> str:
        return mask_url(self.url)


def parse_database_url(raw: str) -> DatabaseUrl:
    """Accept the spellings users have in their environment; refuse the rest clearly."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    raw = raw.strip()
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            raw = "postgresql+psycopg://" + raw[len(prefix) :]
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        raise ConfigError(
            f"AUTOPOSTR_DATABASE_URL {mask_url(raw)!r} is not a database URL: use "
            "sqlite:///PATH or postgresql://USER@HOST:PORT/DBNAME"
        ) from None
    if url.drivername in ("sqlite", "sqlite+pysqlite"):
        path = (
            Path(url.database).expanduser() if url.database not in (None, "", ":memory:") else None
        )
        return DatabaseUrl(url.render_as_string(hide_password=False), "sqlite", path)
    if url.drivername == "postgresql+psycopg":
        if not url.database:
            raise ConfigError(
                f"AUTOPOSTR_DATABASE_URL {mask_url(raw)!r} names no database: "
                "add /DBNAME at the end"
            )
        return DatabaseUrl(url.render_as_string(hide_password=False), "postgresql", None)
    raise ConfigError(
        f"AUTOPOSTR_DATABASE_URL uses {url.drivername!r}; autopostr supports "
        "sqlite:///PATH and postgresql://… (psycopg 3)"
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook, not pysqlite, decide when transactions start.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _private_file(path: Path, *_args: Any) -> None:
    """SQLite would create the file with the umask's mode (0644 mostly), and its -wal and
    -shm copy the file's mode: created 0600 first, none of them is readable by others."""
    if not path.exists():
        from autopostr.secretstore import create_private_file

        create_private_file(path)


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def engine_for(db: DatabaseUrl, *, generic_plans: bool = False, claims: bool = False) -> Engine:
    """One engine per URL per process; connections are cheap to reuse, slow to open.
    PostgreSQL only, engines of their own for a daemon's hot path: `generic_plans`, whose
    sessions keep one plan per prepared statement (see `Database.transaction`); `claims`,
    one connection for the claim loop (see `Database.statements`)."""
    key = f"{db.url} generic" if generic_plans else f"{db.url} claims" if claims else db.url
    engine = _engines.get(key)
    if engine is not None:
        return engine
    from sqlalchemy import event
    from sqlmodel import create_engine

    from autopostr import dbfaults

    if db.dialect == "sqlite":
        engine = create_engine(db.url, connect_args={"check_same_thread": False, "timeout": 10})
        if db.sqlite_path is not None:
            event.listen(engine, "do_connect", functools.partial(_private_file, db.sqlite_path))
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        _parse_long_statements_once()
        engine = create_engine(
            db.url,
            connect_args={"connect_timeout": 5, "application_name": "autopostr"},
            # A daemon's workers, its loop, heartbeat and listener each hold a connection at
            # times; the generic plans' engine serves one writer.
            pool_size=2 if generic_plans or claims else 10,
            max_overflow=20,
        )
    if db.dialect != "sqlite":
        _check_on_checkout(engine)
        if generic_plans:
            # Once per session, not a statement in every transaction; by a statement, not
            # a startup option, which poolers (PgBouncer) refuse.
            event.listen(engine, "connect", _keep_generic_plans)
        elif claims:
            event.listen(engine, "connect", _prepare_at_once)
    dbfaults.install(engine, db)
    _engines[key] = engine
    return engine


def _keep_generic_plans(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("SET plan_cache_mode = force_generic_plan")
    # Every statement of this engine finds its rows by primary key or foreign-key index.
    # On a young database (a thousand destinations) the planner, costing pages as if
    # read from disk, scanned the whole table instead, once per batch: twice the server's
    # CPU of the batch's statement.
    dbapi_connection.execute("SET enable_seqscan = off")
    _prepare_at_once(dbapi_connection, _record)


def _prepare_at_once(dbapi_connection: Any, _record: Any) -> None:
    # A statement is prepared at its first run, not its sixth (psycopg's default): each
    # run before was parsed and planned again, a daemon's first claims and batches after
    # it connects, and each claim on whichever pooled connection it got.
    dbapi_connection.prepare_threshold = 0
    dbapi_connection.commit()


# A pooled connection idle longer than this answers a ping before it is used again.
PING_AFTER_IDLE = 30.0


def _check_on_checkout(engine: Engine) -> None:
    """Hand out only connections the server still holds open. A server that restarted
    or ended the session (or a pooler that closed it) has left its error and the end
    of the stream on the socket, read here without a round trip; a connection idle
    longer than PING_AFTER_IDLE is also pinged. A ping at every checkout
    (`pool_pre_ping`) was a round trip per transaction: a tenth of a daemon's CPU."""
    import time

    from sqlalchemy import event
    from sqlalchemy.exc import DisconnectionError

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None:
            return  # just connected
        usable = _still_open(dbapi_connection)
        if usable and time.monotonic() - idle_since > PING_AFTER_IDLE:
            try:
                usable = bool(engine.dialect.do_ping(dbapi_connection))
            except Exception:
                usable = False
        if not usable:
            raise DisconnectionError("the server closed this connection")  # a fresh one is made


def _still_open(connection: Any) -> bool:
    """Whether a psycopg connection's socket has no closing news from the server: its
    pending input is read (never waiting), and the end of the stream raises."""
    import psycopg
    from psycopg.pq import ConnStatus

    pgconn = connection.pgconn
    try:
        # The server's last words and the end of the stream may take a read each.
        for _ in range(3):
            pgconn.consume_input()
        pgconn.is_busy()
    except psycopg.Error:
        return False
    return bool(pgconn.status == ConnStatus.OK)


def _parse_long_statements_once() -> None:
    """psycopg finds a statement's placeholders once per text, but only for texts up to
    4 KB: a daemon's claim over several platforms is longer, and finding them again at
    each claim cost more CPU than the rest of sending it. The cache stays bounded (128
    texts, none with more than 50 parameters)."""
    from psycopg import _queries

    _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, 64 * 1024)


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
    _tokens_hidden.clear()


def hides_tokens(conn: Any) -> bool:
    """Whether this connection may not read the token columns (a member's role)."""
    from sqlalchemy import text

    if conn.dialect.name != "postgresql":
        return False
    if conn.execute(text("SELECT to_regclass('social_accounts')")).scalar() is None:
        return False
    return not conn.execute(
        text("SELECT has_column_privilege('social_accounts', 'access_token', 'SELECT')")
    ).scalar()


def _defer_tokens(state: Any) -> None:
    """Leave the token columns out of every query of accounts (and password hashes out of
    users): a member's database role may not read them, and naming them would fail the
    whole query. Reading one later asks the database for it, which only a daemon's role
    may do."""
    if not state.is_select:
        return
    from sqlalchemy.orm import defer

    from autopostr.models import SocialAccount, User

    # Only where the whole row is loaded: a query of one column (`User.email`) names none.
    described = getattr(state.statement, "column_descriptions", [])
    classes = {d.get("type") for d in described if d.get("type") in (SocialAccount, User)}
    if SocialAccount in classes:
        state.statement = state.statement.options(
            defer(SocialAccount.access_token),  # type: ignore[arg-type]
            defer(SocialAccount.refresh_token),  # type: ignore[arg-type]
        )
    if User in classes:  # nor anyone's password hash
        state.statement = state.statement.options(defer(User.password_hash))  # type: ignore[arg-type]


def unreachable(db: DatabaseUrl, exc: BaseException) -> DatabaseUnreachable:
    """A message that names the server but never the password or the driver's traceback."""
    reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
    detail = reason[0] if reason else type(exc).__name__
    return DatabaseUnreachable(
        f"cannot reach the database at {db.display}: {detail}. Check AUTOPOSTR_DATABASE_URL "
        "and that the server is running"
    )


def schema_revision(engine: Engine, db: DatabaseUrl) -> str | None:
    """The Alembic revision stamped in the database, or None when it has no schema."""
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import DBAPIError, OperationalError

    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
            return row[0] if row else None
    except (OperationalError, DBAPIError) as exc:
        raise unreachable(db, exc) from None


class Database:
    """The database named by the settings, checked to be reachable and at head."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.url = parse_database_url(settings.database_url)

    @property
    def engine(self) -> Engine:
        return engine_for(self.url)

    def exists(self) -> bool:
        """False for a SQLite file not created yet (connecting would create it)."""
        path = self.url.sqlite_path
        if path is None:
            return True
        from autopostr.dbfaults import not_accessible

        try:
            if path.exists():
                return True
        except OSError as exc:  # a folder on the way that this user may not enter
            raise not_accessible(self.url, exc) from None
        from autopostr.access import reach_problem

        problem = reach_problem(path)  # a file where a folder should be: init cannot help
        if problem is not None:
            raise DatabaseNotAccessible(
                f"cannot open the database {path}: {problem[0]}", problem[1]
            )
        return False  # not created yet: init creates it

    def damage(self, *, full: bool = True) -> list[str]:
        """What is damaged in the database (empty when it reads back whole); see dbfaults."""
        from autopostr.dbfaults import damage

        return damage(self.engine, self.url, full=full)

    def revision(self) -> str | None:
        if not self.exists():
            return None
        return schema_revision(self.engine, self.url)

    def require_schema(self) -> None:
        revision = self.revision()
        if revision is None:
            raise SchemaMissing(
                f"the database at {self.url.display} has no autopostr schema yet: "
                "run `autopostr init`"
            )
        if revision == SCHEMA_HEAD:
            return
        if revision in SCHEMA_HISTORY:
            raise SchemaBehind(
                f"the database schema is at {revision}, this autopostr needs {SCHEMA_HEAD}: "
                "run `autopostr db upgrade`"
            )
        raise SchemaAhead(
            f"the database schema {revision} is newer than this autopostr knows: upgrade autopostr"
        )

    def tokens_hidden(self) -> bool:
        """Whether this connection's role may not read account tokens (a member's role on
        a PostgreSQL set up with `db setup-roles`); False on SQLite."""
        if self.url.dialect != "postgresql":
            return False
        hidden = _tokens_hidden.get(self.url.url)
        if hidden is None:
            from sqlalchemy.exc import DBAPIError

            try:
                with self.engine.connect() as conn:
                    hidden = hides_tokens(conn)
            except DBAPIError as exc:
                raise unreachable(self.url, exc) from None
            if hidden or self.revision() is not None:  # no tables yet: ask again later
                _tokens_hidden[self.url.url] = hidden
        return hidden

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any exception."""
        from sqlalchemy.exc import OperationalError
        from sqlmodel import Session

        with Session(self.engine, expire_on_commit=False) as session:
            if self.tokens_hidden():
                from sqlalchemy import event

                event.listen(session, "do_orm_execute", _defer_tokens)
            try:
                yield session
                session.commit()
            except OperationalError as exc:
                session.rollback()
                if _is_connection_error(exc):
                    raise unreachable(self.url, exc) from None
                raise
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def transaction(self, *, generic_plans: bool = False) -> Iterator[Any]:
        """A unit of work on a bare connection, for the daemon's hot path of Core
        statements: no ORM session to set up per claim or batch of outcomes. Commits on
        success, rolls back on any exception, and fails as `session` does.

        `generic_plans` (PostgreSQL): the transaction's prepared statements keep one plan
        instead of being planned again at every execution (planning cost the server
        more than running them). Only for statements whose generic plan was checked on a
        large table: by primary key or foreign-key index (the outcomes'), never a claim,
        whose due-time filter would then scan every due row."""
        generic = generic_plans and self.url.dialect == "postgresql"
        with self._mapping_errors():
            with engine_for(self.url, generic_plans=generic).begin() as conn:
                yield conn

    @contextmanager
    def statements(self) -> Iterator[Any]:
        """A bare connection whose every statement commits on its own: for a unit of work
        that is one statement (a daemon's claim on PostgreSQL), which then needs no BEGIN
        and COMMIT, each a round trip. Fails as `session` does."""
        claims = self.url.dialect == "postgresql"
        with self._mapping_errors():
            with engine_for(self.url, claims=claims).connect() as conn:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def _mapping_errors(self) -> Iterator[None]:
        from sqlalchemy.exc import OperationalError

        try:
            yield
        except OperationalError as exc:
            if _is_connection_error(exc):
                raise unreachable(self.url, exc) from None
            raise


def _is_connection_error(exc: Any) -> bool:
    return bool(getattr(exc, "connection_invalidated", False)) or "connect" in str(exc).lower()


class ChangeProbe:
    """SQLite: has another connection committed since the last look? (`PRAGMA data_version`)

    The number changes only when another connection commits, so it must be read on a
    connection of its own, kept open: this one never writes, and in autocommit mode it
    holds no read transaction that would keep the WAL from being checkpointed. Reading
    it costs microseconds, where the queue's queries cost milliseconds."""

    def __init__(self, path: Path):
        import sqlite3
        import threading

        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()

    def version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_database(settings: Settings) -> Database:
    """The database, ready for use, or an error that tells the user what to run."""
    db = Database(settings)
    db.require_schema()
    return db
