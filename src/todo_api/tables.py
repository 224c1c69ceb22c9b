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

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], str | None] | None:
        if dialect.name == "sqlite":
            # The same text SQLAlchemy's SQLite DATETIME writes, at under half the cost.
            return _format_sqlite_utc
        return super().bind_processor(dialect)

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], dt.datetime | None] | None:
        if dialect.name == "sqlite":
            # SQLite hands back ISO text; the C parser is ~10x faster than the generic regex path.
            return _parse_sqlite_utc
        return super().result_processor(dialect, coltype)


def _format_sqlite_utc(value: dt.datetime | None) -> str | None:
    """`YYYY-MM-DD HH:MM:SS.ffffff` in UTC; a naive value is taken to be UTC already."""
    if value is None:
        return None
    if value.tzinfo is not None and value.tzinfo is not dt.UTC:
        value = value.astimezone(dt.UTC)
    return value.isoformat(" ", "microseconds")[:26]  # without the "+00:00"


def _parse_sqlite_utc(value: str | None) -> dt.datetime | None:
    # Appending the offset is ~7x cheaper than datetime.replace(tzinfo=...).
    return None if value is None else dt.datetime.fromisoformat(value + "+00:00")


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(100), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # domain.accounts.username_key(username): usernames are unique without regard to case.
    sa.Column("username_key", sa.String(64), nullable=False),
    # Argon2id (todo_api.passwords); NULL for the implicit local user, who cannot log in.
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Index(None, "username_key", unique=True),
)

# Only a SHA-256 of each secret is stored (todo_api.credentials): a stolen database file holds
# nothing a client could send. `prefix` is the token's non-secret start, shown in listings.
API_TOKEN_NAME_MAX_LENGTH = 100
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("name", sa.String(API_TOKEN_NAME_MAX_LENGTH), nullable=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("scopes", sa.String(32), nullable=False),  # space-separated, as in OAuth
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime, nullable=True),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Index(None, "owner_id", "created_at", "id"),
)

browser_sessions = sa.Table(
    "browser_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("session_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("csrf_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),  # for the idle limit
    sa.Column("expires_at", UTCDateTime, nullable=False),  # the absolute limit
    sa.Index(None, "owner_id"),
)

LIST_NAME_MAX_LENGTH = 200
TAG_MAX_LENGTH = 50
DEFAULT_LIST_NAME = "Inbox"

# The unique index of each user's one default list (repository/lists.py meets it by name).
DEFAULT_LIST_INDEX = "uq_lists_owner_id_default"

lists = sa.Table(
    "lists",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("name", sa.String(LIST_NAME_MAX_LENGTH), nullable=False),
    sa.Column("order", sa.Float, nullable=True),
    sa.Column("is_default", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index(None, "owner_id", "created_at", "id"),
    # One default list ("Inbox") per user: todos created without list_id land there.
    sa.Index(
        DEFAULT_LIST_INDEX,
        "owner_id",
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    ),
    # Ids are never handed out twice (migration 0010): see `todos`.
    sqlite_autoincrement=True,
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
    sa.Column("list_id", sa.Integer, sa.ForeignKey("lists.id", ondelete="CASCADE"), nullable=False),
    sa.Column("priority", sa.SmallInteger, nullable=False),
    sa.Column("due_date", sa.Date, nullable=True),
    sa.Column("due_at", UTCDateTime, nullable=True),
    # The offset due_at was given with, so it is returned as given (stored in UTC).
    sa.Column("due_offset_minutes", sa.SmallInteger, nullable=True),
    # The tag names as given, a JSON array: reads need no join. todo_tags indexes them.
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("order_key", sa.Float, nullable=False),
    # The due moment in UTC (the end of the day for an all-day due_date): domain.due.due_key.
    sa.Column("due_key", UTCDateTime, nullable=False),
    sa.CheckConstraint("priority BETWEEN 0 AND 3", name="priority_range"),
    # Keyset pagination walks (owner, sort key, id): a page costs O(limit) for every sort.
    sa.Index(None, "owner_id", "created_at", "id"),
    sa.Index(None, "owner_id", "completed", "created_at", "id"),
    sa.Index(None, "owner_id", "order_key", "id"),
    sa.Index(None, "owner_id", "due_key", "id"),
    sa.Index(None, "owner_id", "priority", "id"),
    sa.Index(None, "owner_id", "updated_at", "id"),
    sa.Index(None, "list_id", "created_at", "id"),
    # SQLite would otherwise give a deleted newest todo's id to the next one, and a client still
    # holding that todo's ETag (its version, "1") could change the new one (migration 0010).
    # PostgreSQL's sequences never go back anyway.
    sqlite_autoincrement=True,
)

todo_tags = sa.Table(
    "todo_tags",
    metadata,
    sa.Column(
        "todo_id", sa.Integer, sa.ForeignKey("todos.id", ondelete="CASCADE"), primary_key=True
    ),
    # Lower-cased name: tags are unique per todo and matched without regard to case.
    sa.Column("tag_key", sa.String(4 * TAG_MAX_LENGTH), primary_key=True),  # casefold may grow
    sa.Column("owner_id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(TAG_MAX_LENGTH), nullable=False),
    sa.Index(None, "owner_id", "tag_key", "todo_id"),
)

IDEMPOTENCY_KEY_MAX_LENGTH = 255

# The first 2xx answer to a POST sent with an Idempotency-Key, replayed when the key comes again
# (todo_api.idempotency owns the rules; docs/idempotency.md describes them to clients).
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column(
        "owner_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("key", sa.String(IDEMPOTENCY_KEY_MAX_LENGTH), primary_key=True),
    # sha256 hex of method, path, query and canonical body: tells a retry from a different request.
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status", sa.SmallInteger, nullable=False),
    sa.Column("headers", sa.Text, nullable=False),  # JSON array of [name, value] pairs
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    # The sweep of expired keys walks this index oldest first.
    sa.Index(None, "expires_at"),
)


# One row per change to a user's todos and lists, in commit order: the change feed of
# GET /events (repository/changes.py records every write here, in the write's transaction).
changes = sa.Table(
    "changes",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column(
        "owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("kind", sa.String(8), nullable=False),  # todo, list, todos (bulk, import)
    sa.Column("entity_id", sa.Integer, nullable=True),
    sa.Column("action", sa.String(8), nullable=False),  # created, updated, deleted
    sa.Column("changed_at", UTCDateTime, nullable=False),
    sa.Index(None, "owner_id", "seq"),
)


# How far each user's changes were pruned (change_retention.py): a client that resumes from an
# older id may have missed some, and GET /events tells it to read everything again.
change_horizons = sa.Table(
    "change_horizons",
    metadata,
    sa.Column(
        "owner_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("pruned_through", sa.Integer, nullable=False),  # the last pruned seq of this user
)

# SQLite gives a new row max(id) + 1, so the id of a deleted newest account would go to the next
# one registered, while another worker may still hold the deleted account's token in its cache
# (token_cache.py, up to 5 s): the highest deleted id is kept here (one row), and a new account
# on SQLite takes an id above it (repository/users.py). PostgreSQL's sequence never goes back.
# (AUTOINCREMENT, as todos and lists have, would rebuild every table: all refer to users.)
USER_ID_FLOOR_ROW = 1
user_id_floor = sa.Table(
    "user_id_floor",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("highest_deleted", sa.Integer, nullable=False),
    sa.CheckConstraint(f"id = {USER_ID_FLOOR_ROW}", name="one_row"),
)
