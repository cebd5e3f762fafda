"""Faults of the database itself, as errors that name their fix.

A damaged file, a file this user may not open and a number too large for a
column all surface from the driver as generic exceptions, wherever the
statement happened to run. One `handle_error` hook on every engine turns them
into `DatabaseCorrupt` (exit 1), `DatabaseNotAccessible` (exit 4) and
`InvalidInput` (exit 5), so each command, doctor and the daemon say the same
thing. `damage()` looks for damage on purpose, for doctor and the daemon.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopostr.access import access_problem, reach_problem
from autopostr.errors import AutopostrError, DatabaseCorrupt, DatabaseNotAccessible, InvalidInput

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine, ExceptionContext

    from autopostr.db import DatabaseUrl

# SQLite primary result codes (the low byte of an extended code).
SQLITE_PERM, SQLITE_READONLY, SQLITE_CORRUPT, SQLITE_CANTOPEN, SQLITE_NOTADB = 3, 8, 11, 14, 26
SQLITE_DAMAGED = {SQLITE_CORRUPT, SQLITE_NOTADB}
SQLITE_NO_ACCESS = {SQLITE_PERM, SQLITE_READONLY, SQLITE_CANTOPEN}
# PostgreSQL: data_corrupted, index_corrupted; and numeric_value_out_of_range.
PG_DAMAGED = {"XX001", "XX002"}
PG_OUT_OF_RANGE = "22003"
SQLITE_MAX_INTEGER = 2**63 - 1


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def corrupt(db: DatabaseUrl, detail: str) -> DatabaseCorrupt:
    if db.sqlite_path is not None:
        path = db.sqlite_path
        recovered = path.with_name(f"{path.stem}-recovered{path.suffix or '.db'}")
        return DatabaseCorrupt(
            f"the database {path} is damaged ({detail})",
            f"restore it from a backup, or save what is still readable with "
            f'`sqlite3 {path} ".recover" | sqlite3 {recovered}` and point '
            f"AUTOPOSTR_DATABASE_URL at sqlite:///{recovered}",
            detail,
        )
    return DatabaseCorrupt(
        f"the database at {db.display} is damaged ({detail})",
        "restore it from a backup (pg_restore), or ask the server's administrator; "
        "the server's log has the details",
        detail,
    )


def sqlite_access_problem(path: Path) -> tuple[str, str] | None:
    """What keeps this user from reading and writing a SQLite file, and its fix, if anything.

    SQLite needs the folder too: it creates the -wal and -shm files beside the database.
    """
    folder = path.parent
    problem = reach_problem(path)
    if problem is not None:
        return problem
    if not folder.exists():
        return None
    problem = access_problem(folder, os.R_OK | os.X_OK, "cannot be read")
    if problem is None and path.exists():
        problem = access_problem(path, os.R_OK | os.W_OK, "is not a file you can read and write")
    for side in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if problem is not None:
            break
        if side.exists():
            problem = access_problem(
                side, os.R_OK | os.W_OK, "is not a file you can read and write"
            )
        else:
            problem = access_problem(
                folder, os.W_OK, f"is read-only, and SQLite must create {side.name} in it"
            )
    return problem


def not_accessible(db: DatabaseUrl, exc: BaseException) -> DatabaseNotAccessible:
    path = db.sqlite_path
    problem = sqlite_access_problem(path) if path is not None else None
    if problem is None:
        where = path if path is not None else db.display
        return DatabaseNotAccessible(
            f"cannot open the database {where}: {_first_line(exc)}",
            "check that you may read and write it and its folder, or point AUTOPOSTR_HOME "
            "at a folder of yours",
        )
    detail, fix = problem
    return DatabaseNotAccessible(f"cannot open the database {path}: {detail}", fix)


def _integers(parameters: Any) -> Iterator[int]:
    """Every integer bound to a statement, whatever shape the driver got them in."""
    if isinstance(parameters, dict):
        parameters = list(parameters.values())
    if isinstance(parameters, list | tuple):
        for item in parameters:
            yield from _integers(item)
    elif isinstance(parameters, int) and not isinstance(parameters, bool):
        yield parameters


def _out_of_range_value(parameters: Any, limit: int) -> int | None:
    return next((v for v in _integers(parameters) if abs(v) > limit), None)


def out_of_range(parameters: Any, limit: int) -> InvalidInput:
    value = _out_of_range_value(parameters, limit)
    number = str(value) if value is not None else "a number you gave"
    return InvalidInput(
        f"{number} is too large for the database: check the id or number (ids are listed by "
        "each group's list command)"
    )


def translate(db: DatabaseUrl, exc: BaseException, parameters: Any = None) -> AutopostrError | None:
    """Our error for a driver exception that is a fault of the database itself, else None."""
    if isinstance(exc, OverflowError):  # sqlite3 refuses integers beyond 64 bits
        return out_of_range(parameters, SQLITE_MAX_INTEGER)
    if db.dialect == "sqlite":
        code = getattr(exc, "sqlite_errorcode", None)
        if code is None:
            return None
        if code & 0xFF in SQLITE_DAMAGED:
            return corrupt(db, _first_line(exc))
        if code & 0xFF in SQLITE_NO_ACCESS:
            return not_accessible(db, exc)
        return None
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate in PG_DAMAGED:
        return corrupt(db, _first_line(exc))
    if sqlstate == PG_OUT_OF_RANGE:
        return out_of_range(parameters, 2**31 - 1)
    return None


def install(engine: Engine, db: DatabaseUrl) -> None:
    """Every statement and connection of `engine` raises our errors for these faults."""
    from sqlalchemy import event

    def on_error(context: ExceptionContext) -> BaseException | None:
        if context.is_pre_ping:
            return None  # a dead pooled connection: SQLAlchemy reconnects
        return translate(db, context.original_exception, context.parameters)

    event.listen(engine, "handle_error", on_error)


def damage(engine: Engine, db: DatabaseUrl, *, full: bool = True) -> list[str]:
    """What is damaged in the database; empty when it reads back whole.

    SQLite: `PRAGMA quick_check` reads every page (about 3 ms per MB). PostgreSQL: every
    table is read by a sequential scan, so a damaged heap page cannot hide behind an
    index; in full for doctor, only its first rows for a starting daemon, which meets
    any other damage as an error that stops it.
    """
    if db.dialect == "sqlite":
        return _sqlite_damage(engine, db)
    return _postgres_damage(engine, full)


def _sqlite_damage(engine: Engine, db: DatabaseUrl) -> list[str]:
    # A raw connection: no transaction, so the check holds no write lock meanwhile.
    try:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            rows = [str(r[0]) for r in cursor.execute("PRAGMA quick_check(10)").fetchall()]
            cursor.close()
        finally:
            raw.close()
    except DatabaseCorrupt as exc:
        return [exc.reason]
    except AutopostrError:
        raise
    except Exception as exc:
        translated = translate(db, exc)
        if translated is None:
            raise
        if isinstance(translated, DatabaseCorrupt):
            return [translated.reason]
        raise translated from None
    if rows == ["ok"]:
        return []
    # A row may hold several lines, headed by the schema's name ("*** in database main ***").
    lines = [line.strip() for row in rows for line in row.splitlines()]
    return [line for line in lines if line and not line.startswith("***")]


def _postgres_damage(engine: Engine, full: bool) -> list[str]:
    from sqlalchemy import inspect
    from sqlalchemy.exc import DBAPIError

    from autopostr.models import all_tables

    present = set(inspect(engine).get_table_names())
    problems: list[str] = []
    for table in all_tables():
        if table.name not in present:
            problems.append(f"table {table.name} is missing")
            continue
        try:
            with engine.begin() as conn:
                for setting in ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan"):
                    conn.exec_driver_sql(f"SET LOCAL {setting} = off")
                read = "SELECT count(*) FROM {}" if full else "SELECT 1 FROM {} LIMIT 1"
                conn.exec_driver_sql(read.format(f'"{table.name}"')).all()
        except DatabaseCorrupt as exc:
            problems.append(f"table {table.name}: {exc.reason}")
        except DBAPIError as exc:
            if getattr(exc, "connection_invalidated", False):
                raise
            problems.append(f"table {table.name}: {_first_line(exc.orig or exc)}")
    return problems
