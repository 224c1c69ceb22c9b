"""The scale check's databases on PostgreSQL (`python -m bench.scale --database postgresql`).

The same todos as the SQLite files (bench/scale.py's `todo_values`, the same random draws),
loaded with COPY into a database migrated like production: the secondary indexes of `todos` and
`todo_tags` are dropped first and built again once the rows are in (the full-text GIN index of
migration 0009 among them), then VACUUM ANALYZE, so the planner has the statistics an
autovacuumed database would. A database of 1M todos seeds in 2-4 minutes on this machine.

The seeded databases stay on the server as a cache, named by size, owners, migration head and
seed version (`todo_scale_*`); a finished seed is marked by a comment on the database, so a
half-seeded one is dropped and seeded again. Only databases of that prefix are ever dropped.
"""

import random
import secrets
import time

import psycopg
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from bench.postgres import ADMIN_URL, CONNECT_TIMEOUT_SECONDS
from bench.scale import (
    SEED_RANDOM,
    SEED_VERSION,
    add_owners,
    todo_values,
)
from todo_api.db import create_engine
from todo_api.domain.tags import tag_key
from todo_api.migrate import head_revision, upgrade_to_head
from todo_api.tables import todos

DATABASE_PREFIX = "todo_scale_"
SEEDED = "seeded"  # the database's comment once its seed finished
# The bench's own cursor-signing key (a server database needs one set: secret_key.py).
SECRET_KEY = "scale-check-" + secrets.token_urlsafe(32)
_TODO_COLUMNS = [column.name for column in todos.columns]
_COPY_TODOS = "COPY todos ({}) FROM STDIN".format(", ".join(f'"{c}"' for c in _TODO_COLUMNS))
_COPY_TAGS = "COPY todo_tags (todo_id, tag_key, owner_id, name) FROM STDIN"
_SECONDARY_INDEXES = """SELECT indexname, indexdef FROM pg_indexes
    WHERE schemaname = 'public' AND tablename IN ('todos', 'todo_tags')
    AND indexname NOT LIKE 'pk_%'"""


def _admin() -> sa.Engine:
    return sa.create_engine(
        ADMIN_URL,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )


def database_url(name: str) -> str:
    return sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def cached_database(rows: int, owners: int = 1) -> tuple[str, float | None]:
    """The URL of the seeded database of `rows` todos (of `owners` users), seeding it first if
    missing; and the seconds seeding took (None when it came from the cache)."""
    head = head_revision()
    name = f"{DATABASE_PREFIX}{rows}_o{owners}_h{head}_s{SEED_VERSION}"
    admin = _admin()
    try:
        with admin.connect() as connection:
            comment = connection.exec_driver_sql(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
                " WHERE datname = %(name)s",
                {"name": name},
            ).scalar()
            if comment == SEEDED:
                return database_url(name), None
            shape = f"^{DATABASE_PREFIX}{rows}_o{owners}_h"  # a regex: `_` is itself
            stale = connection.exec_driver_sql(
                "SELECT datname FROM pg_database WHERE datname ~ %(shape)s", {"shape": shape}
            ).scalars()
            for old in list(stale):  # other heads or seeds of this shape, or a half seed
                connection.exec_driver_sql(f'DROP DATABASE "{old}" WITH (FORCE)')
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        print(f"scale: seeding {rows:,} todos of {owners:,} users into PostgreSQL {name}")
        seconds = seed_database(database_url(name), rows, owners)
        with admin.connect() as connection:
            connection.exec_driver_sql(f"COMMENT ON DATABASE \"{name}\" IS '{SEEDED}'")
        print(f"scale: seeded {rows:,} todos in {seconds:.1f} s", flush=True)
        return database_url(name), seconds
    finally:
        admin.dispose()


def seed_database(url: str, rows: int, owners: int = 1) -> float:
    """Migrate the empty database at `url` and load `rows` todos; returns seconds taken."""
    started = time.perf_counter()
    engine = create_engine(url)
    try:
        upgrade_to_head(engine)
        if owners > 1:
            add_owners(engine, owners)
    finally:
        engine.dispose()
    libpq_url = sa.make_url(url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(libpq_url) as connection:
        list_ids: dict[int, int] = dict(
            connection.execute("SELECT owner_id, id FROM lists WHERE is_default")
        )
        indexes = connection.execute(_SECONDARY_INDEXES).fetchall()
        for name, _definition in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        rng = random.Random(SEED_RANDOM)
        tags: list[tuple[int, str, int, str]] = []
        with connection.cursor().copy(_COPY_TODOS) as copy:
            for n in range(1, rows + 1):
                owner_id = (n - 1) % owners + 1
                values, names = todo_values(rng, n, list_ids[owner_id], owner_id)
                copy.write_row([values[column] for column in _TODO_COLUMNS])
                tags += [(n, tag_key(name), owner_id, name) for name in names]
        with connection.cursor().copy(_COPY_TAGS) as copy:
            for row in tags:
                copy.write_row(row)
        connection.execute("SET maintenance_work_mem = '512MB'")
        for _name, definition in indexes:
            connection.execute(definition)
        connection.execute("SELECT setval('todos_id_seq', (SELECT max(id) FROM todos))")
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE todos")
        connection.execute("VACUUM ANALYZE todo_tags")
    return time.perf_counter() - started


def small_database(rows: int) -> tuple[str, str]:
    """A new database of `rows` todos for this run: its name (for `drop`) and URL."""
    name = f"{DATABASE_PREFIX}run_{rows}_{secrets.token_hex(3)}"
    admin = _admin()
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    seed_database(database_url(name), rows)
    return name, database_url(name)


def drop(name: str) -> None:
    admin = _admin()
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
