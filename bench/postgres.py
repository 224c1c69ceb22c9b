"""The PostgreSQL database the benchmark's todo-api-pg contender serves from, made and dropped
by the run on the machine's server (TODO_BENCH_POSTGRES_URL names another)."""

import contextlib
import os
import secrets
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

ADMIN_URL = os.environ.get(
    "TODO_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CONNECT_TIMEOUT_SECONDS = 3


@contextlib.contextmanager
def bench_database(admin_url: str = ADMIN_URL) -> Iterator[str | None]:
    """The URL of a new, empty database for the run, dropped at its end; None (and a note on
    stderr's neighbour, stdout) when no PostgreSQL answers: the run goes on without it.

    `admin_url` names a database on the server to connect to while creating and dropping it."""
    admin = sa.create_engine(
        sa.make_url(admin_url).set(drivername="postgresql+psycopg"),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )
    name = f"todo_bench_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as error:
        print(f"bench: no PostgreSQL at {admin.url!r}, todo-api-pg skipped ({error.orig})")
        admin.dispose()
        yield None
        return
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()
