"""Why a database should get no traffic now: the part of `/ready` both databases share.

Each `Database.not_ready_because` adds its own checks around it (SQLite: the file is the one
opened, the disk has room)."""

from collections.abc import Awaitable, Callable

from sqlalchemy.engine import Connection

from todo_api.errors import AppError

NOT_MIGRATED = "Database migrations are not applied."


async def migration_not_ready_because(
    read: Callable[[Callable[[Connection], bool]], Awaitable[bool]],
    migrated: Callable[[Connection], bool],
) -> str | None:
    """None when a read answers and finds the schema `migrated`; else the reason, in words a
    probe's log can show (any failure means "not ready", never a 500)."""
    try:
        if not await read(migrated):
            return NOT_MIGRATED
    except AppError as error:
        return error.detail
    except Exception as error:
        return f"Database unavailable: {type(error).__name__}."
    return None
