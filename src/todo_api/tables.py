"""The database schema as SQLAlchemy Core tables; Alembic migrations are written against it."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
TITLE_MAX_LENGTH = 500
DESCRIPTION_MAX_LENGTH = 10_000
LOCAL_USER_ID = 1  # the one implicit user while TODO_AUTH=disabled

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC datetime on every database (SQLite stores no offset; we add it back)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], dt.datetime | None] | None:
        if dialect.name == "sqlite":
            # SQLite hands back ISO text; the C parser is ~10x faster than the generic regex path.
            return _parse_sqlite_utc
        return super().result_processor(dialect, coltype)


def _parse_sqlite_utc(value: str | None) -> dt.datetime | None:
    # Appending the offset is ~7x cheaper than datetime.replace(tzinfo=...).
    return None if value is None else dt.datetime.fromisoformat(value + "+00:00")


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(100), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

todos = sa.Table(
    "todos",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("title", sa.String(TITLE_MAX_LENGTH), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("completed", sa.Boolean, nullable=False, default=False),
    sa.Column("completed_at", UTCDateTime, nullable=True),
    sa.Column("order", sa.Float, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # Keyset pagination walks (owner, created_at, id) newest first: a page costs O(limit).
    sa.Index(None, "owner_id", "created_at", "id"),
    sa.Index(None, "owner_id", "completed", "created_at", "id"),
)
