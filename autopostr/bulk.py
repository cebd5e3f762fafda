"""Bulk writes for imports: ids allocated up front, rows sent with the driver's fastest path.

The ORM costs ~100 µs a row; an import of 100k rows must not. SQLite gets one
`executemany` (its C loop) and PostgreSQL a `COPY`. Ids come first so rows of
child tables can point at their parents without a RETURNING per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel import Session


def allocate_ids(session: Session, table: str, count: int) -> list[int]:
    """`count` fresh primary keys for `table`, reserved for this transaction."""
    from sqlalchemy import text

    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table, "n": count},
        )
        return [int(r[0]) for r in rows]
    # SQLite: the transaction began with BEGIN IMMEDIATE, so no one else can insert meanwhile.
    start = session.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")).scalar_one()
    return list(range(int(start) + 1, int(start) + 1 + count))


def _sqlite_datetime(value: datetime) -> str:
    # The same text SQLAlchemy's SQLite DateTime stores: UTC without an offset.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _row_security(session: Session, table: str) -> bool:
    """Whether row-level security applies to this connection's role on `table` (a member's
    role on a shared database): COPY FROM is refused there, plain INSERTs are checked."""
    from sqlalchemy import text

    return bool(session.execute(text("SELECT row_security_active(:t)"), {"t": table}).scalar())


def insert_rows(
    session: Session, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    if not rows:
        return
    connection = session.connection()
    driver = connection.connection.driver_connection
    assert driver is not None
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        if _row_security(session, table):
            with driver.cursor() as cursor:
                marks = ", ".join("%s" for _ in columns)
                cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
            return
        with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    placeholders = ", ".join("?" for _ in columns)
    # Convert only the columns that hold datetimes (seen in the first row); most rows share `now`.
    sample = rows[0]
    datetime_positions = [i for i, value in enumerate(sample) if isinstance(value, datetime)]
    nullable = [i for i, value in enumerate(sample) if value is None]
    formatted: dict[datetime, str] = {}

    def convert(value: Any) -> Any:
        if not isinstance(value, datetime):
            return value
        text = formatted.get(value)
        if text is None:
            text = formatted[value] = _sqlite_datetime(value)
        return text

    if nullable:
        # A None in the first row hides whether the column holds datetimes: check every value there.
        datetime_positions = sorted(set(datetime_positions) | set(nullable))

    def prepared() -> Any:
        for row in rows:
            values = list(row)
            for i in datetime_positions:
                values[i] = convert(values[i])
            yield values

    cursor = driver.cursor()
    try:
        cursor.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({placeholders})",
            prepared(),
        )
    finally:
        cursor.close()
