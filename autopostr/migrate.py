"""Schema migrations, run programmatically so users never need an alembic.ini."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from autopostr.db import Database
from autopostr.errors import DatabaseCorrupt

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "autopostr:migrations")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


@contextmanager
def migrating(db: Database) -> Iterator[Connection]:
    """One transaction for a migration, committed when the block ends.

    On SQLite, foreign keys are off meanwhile, as SQLite's own procedure for altering a
    table asks: a batch-mode table copy drops the old table, and with them on, that DROP
    deletes or nulls every row that points at it. They are checked before the commit.
    The pragma is a no-op inside a transaction, so it is set on the bare connection first.
    """
    from sqlalchemy.exc import OperationalError

    from autopostr.db import unreachable

    try:
        with db.engine.connect() as connection:
            if db.url.dialect != "sqlite":
                with connection.begin():
                    yield connection
                return
            raw = connection.connection.dbapi_connection
            assert raw is not None
            raw.execute("PRAGMA foreign_keys=OFF")
            try:
                with connection.begin():
                    yield connection
                    _check_foreign_keys(connection)
            finally:
                try:
                    raw.execute("PRAGMA foreign_keys=ON")
                except Exception:
                    connection.invalidate()  # never hand a connection without them back
                    raise
    except OperationalError as exc:
        raise unreachable(db.url, exc) from None


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        tables = sorted({f"{row[0]} → {row[2]}" for row in broken})
        raise DatabaseCorrupt(
            f"{len(broken)} rows point at rows that do not exist ({', '.join(tables)}), "
            "so the schema was left as it was",
            "restore a backup, or delete those rows (PRAGMA foreign_key_check lists them)",
        )


def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate to `revision`; returns the revisions before and after."""
    from alembic import command

    if db.url.sqlite_path is not None:
        from autopostr.secretstore import ensure_private_dir

        ensure_private_dir(db.url.sqlite_path.parent)
    before = db.revision()
    with migrating(db) as connection:
        command.upgrade(alembic_config(connection), revision)
    return before, db.revision()


def downgrade(db: Database, revision: str) -> None:
    """Return the schema to an older `revision` ("base": no schema), as an older autopostr
    left it."""
    from alembic import command

    with migrating(db) as connection:
        command.downgrade(alembic_config(connection), revision)
