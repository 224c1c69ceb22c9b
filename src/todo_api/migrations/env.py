"""Alembic environment: runs every pending migration in one transaction under the write lock.

The engine is the one todo_api.migrate hands over; without one (Alembic's own command line with
a `sqlalchemy.url`), an engine is made from that URL.
"""

from alembic import context
from sqlalchemy import Engine

from todo_api.db import create_engine
from todo_api.migrate import is_modelled, migration_options, take_migration_lock
from todo_api.tables import metadata

config = context.config
engine: Engine = config.attributes.get("engine") or create_engine(
    config.get_main_option("sqlalchemy.url") or ""
)

# The whole upgrade is one transaction begun with BEGIN IMMEDIATE (SQLite) or holding an advisory
# lock (PostgreSQL), so processes starting together migrate one at a time and the later ones find
# the work already done. On SQLite a waiting process waits at most busy_timeout
# (db.BUSY_TIMEOUT_MS) before it fails; on PostgreSQL as long as the migrating one takes.
with engine.connect() as connection:
    connection.execution_options(**migration_options(connection))
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_name=is_modelled,
        render_as_batch=True,  # SQLite alters tables by copying them
        transactional_ddl=True,  # both roll back DDL too: a failed upgrade changes nothing
        transaction_per_migration=False,  # one transaction, so the lock is taken once
    )
    with context.begin_transaction():
        take_migration_lock(connection)  # before Alembic reads which revision the database is at
        context.run_migrations()
