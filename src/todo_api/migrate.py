"""Applying the Alembic migrations shipped inside the package, and checking they are applied.

Processes starting together migrate one at a time: on SQLite the upgrade's transaction holds the
write lock (`BEGIN IMMEDIATE`), on PostgreSQL a transaction-level advisory lock
(`take_migration_lock`); the later ones then find the work done.

A database may also be *past* this code's head: a newer release migrated it during a rolling
upgrade, or this is the release rolled back to. Expand/contract (docs/deploy.md, "Upgrades and
rollbacks") keeps such a schema usable by this code, so it is served as it is: never "migrated"
(Alembic cannot go from a revision it does not know) and never reported as not ready.
"""

import logging
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from todo_api.db import BEGIN_OPTION

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
WRITE_LOCK_OPTION = {BEGIN_OPTION: "BEGIN IMMEDIATE"}
# The full-text index lives in what the migrations create by hand, per database: SQLite's
# tables (todos_fts*), PostgreSQL's GIN index (todos_fts_gin; since 0009 todos_fts_owned_gin)
# and, since 0009, its generated column todos.todos_fts_vector.
SEARCH_INDEX_PREFIX = "todos_fts"
# pg_advisory_xact_lock's key: any constant no other application on the database uses.
MIGRATION_LOCK_KEY = 0x70D0_A91  # "todo api"

logger = logging.getLogger(__name__)


def is_modelled(name: str | None, type_: str, _parent_names: object) -> bool:
    """Alembic `include_name` hook: skip the full-text index, which tables.py omits."""
    return not (
        type_ in ("table", "index", "column")
        and name is not None
        and name.startswith(SEARCH_INDEX_PREFIX)
    )


def migration_options(connection: Connection) -> dict[str, str]:
    """Execution options of the upgrade's connection, set before its transaction begins.

    SQLite: begin with the write lock. PostgreSQL: READ COMMITTED, so that a process that waited
    for the advisory lock then sees what the one before it committed (the service's REPEATABLE
    READ would keep the snapshot of before the wait, and migrate again).
    """
    if connection.dialect.name == "postgresql":
        return {"isolation_level": "READ COMMITTED"}
    return WRITE_LOCK_OPTION


def take_migration_lock(connection: Connection) -> None:
    """On PostgreSQL, wait for any other process's upgrade, and hold off others until commit.

    (On SQLite the transaction's `BEGIN IMMEDIATE` already is that lock.)
    """
    if connection.dialect.name == "postgresql":
        # Rebuilding an index of a large table may take longer than a request's statement may.
        connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
        )


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed at runtime)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
        config.attributes["engine"] = engine
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Apply every pending migration. Concurrent callers queue on the database's write lock."""
    with engine.connect() as connection:
        if is_at_head(connection):
            # The usual start: one read, instead of Alembic's environment and a write lock.
            return
        newer = newer_revisions(connection)
        if newer:
            logger.warning(
                "database is past this release's migrations: served as it is",
                extra={"database_revisions": sorted(newer), "code_head": head_revision()},
            )
            return
    command.upgrade(alembic_config(engine), "head")


@cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@cache
def known_revisions() -> frozenset[str]:
    """Every revision this release's migrations know, head or not."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return frozenset(script.revision for script in scripts.walk_revisions())


def is_at_head(connection: Connection) -> bool:
    """True when the database is at exactly this version of the code's newest migration."""
    current = MigrationContext.configure(connection).get_current_heads()
    return set(current) == {head_revision()}


def newer_revisions(connection: Connection) -> set[str]:
    """The database's revisions when all are unknown to this release (applied by a newer one);
    else the empty set (at or behind this head, or never migrated)."""
    current = set(MigrationContext.configure(connection).get_current_heads())
    return current if current and not current & known_revisions() else set()


def has_every_migration(connection: Connection) -> bool:
    """Readiness: the database is at this code's head, or past it (a newer release's expand
    migrations, which this code ignores). Behind, or never migrated: not ready."""
    return is_at_head(connection) or bool(newer_revisions(connection))
