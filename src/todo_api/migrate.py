"""Applying the Alembic migrations shipped inside the package, and checking they are applied."""

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from todo_api.db import BEGIN_OPTION

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
WRITE_LOCK_OPTION = {BEGIN_OPTION: "BEGIN IMMEDIATE"}
# SQLite's full-text index lives in tables the migrations create by hand (todos_fts*).
SEARCH_INDEX_PREFIX = "todos_fts"


def is_modelled(name: str | None, type_: str, _parent_names: object) -> bool:
    """Alembic `include_name` hook: skip the full-text index tables, which tables.py omits."""
    return not (type_ == "table" and name is not None and name.startswith(SEARCH_INDEX_PREFIX))


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
    command.upgrade(alembic_config(engine), "head")


@cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def is_at_head(connection: Connection) -> bool:
    """True when the database has every migration this version of the code expects."""
    current = MigrationContext.configure(connection).get_current_heads()
    return set(current) == {head_revision()}
