"""Alembic environment: runs every pending migration in one transaction under the write lock.

The engine is the one todo_api.migrate hands over; without one (Alembic's own command line with
a `sqlalchemy.url`), an engine is made from that URL.
"""

from alembic import context
from sqlalchemy import Engine

from todo_api.db import create_engine
from todo_api.migrate import WRITE_LOCK_OPTION, is_modelled
from todo_api.tables import metadata

config = context.config
engine: Engine = config.attributes.get("engine") or create_engine(
    config.get_main_option("sqlalchemy.url") or ""
)

# The whole upgrade is one transaction begun with BEGIN IMMEDIATE, so processes starting together
# migrate one at a time and the later ones find the work already done. A waiting process waits at
# most busy_timeout (db.BUSY_TIMEOUT_MS) before it fails.
with engine.connect() as connection:
    connection.execution_options(**WRITE_LOCK_OPTION)
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_name=is_modelled,
        render_as_batch=True,  # SQLite alters tables by copying them
        transactional_ddl=True,  # SQLite rolls back DDL too: a failed upgrade changes nothing
        transaction_per_migration=False,  # one transaction, so the lock is taken once
    )
    with context.begin_transaction():
        context.run_migrations()
