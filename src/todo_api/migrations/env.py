"""Alembic environment: runs migrations on the engine handed over by todo_api.migrate."""

from alembic import context
from sqlalchemy import Engine

from todo_api.db import create_engine
from todo_api.migrate import WRITE_LOCK_OPTION, is_modelled
from todo_api.tables import metadata

config = context.config
engine: Engine = config.attributes.get("engine") or create_engine(
    config.get_main_option("sqlalchemy.url") or ""
)

# Each migration runs under the write lock, so processes starting together migrate one at a time
# and the later ones find the work already done.
with engine.connect() as connection:
    connection.execution_options(**WRITE_LOCK_OPTION)
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_name=is_modelled,
        render_as_batch=True,  # SQLite alters tables by copying them
        transactional_ddl=True,  # SQLite and PostgreSQL roll back DDL: all or nothing
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()
