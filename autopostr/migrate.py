"""Schema migrations, run programmatically so users never need an alembic.ini."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autopostr.db import Database

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


def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate to `revision`; returns the revisions before and after."""
    from alembic import command
    from sqlalchemy.exc import OperationalError

    if db.url.sqlite_path is not None:
        from autopostr.secretstore import ensure_private_dir

        ensure_private_dir(db.url.sqlite_path.parent)
    before = db.revision()
    try:
        with db.engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
    except OperationalError as exc:
        from autopostr.db import unreachable

        raise unreachable(db.url, exc) from None
    return before, db.revision()
