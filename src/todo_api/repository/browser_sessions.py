"""SQL for browser sessions: stored as hashes of the cookie's secret and of the CSRF token."""

import datetime as dt
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from todo_api.repository.access import Action, reachable
from todo_api.tables import browser_sessions


class BrowserSession(NamedTuple):
    id: int
    owner_id: int
    csrf_hash: str
    last_seen_at: dt.datetime
    expires_at: dt.datetime


_COLUMNS = [browser_sessions.c[name] for name in BrowserSession._fields]


def create_session(
    connection: Connection,
    owner_id: int,
    *,
    session_hash: str,
    csrf_hash: str,
    now: dt.datetime,
    expires_at: dt.datetime,
) -> None:
    connection.execute(
        sa.insert(browser_sessions).values(
            owner_id=owner_id,
            session_hash=session_hash,
            csrf_hash=csrf_hash,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
        )
    )


def find_live_session(
    connection: Connection, session_hash: str, now: dt.datetime, idle_since: dt.datetime
) -> BrowserSession | None:
    """The session, unless past its absolute expiry or idle since before `idle_since`."""
    row = connection.execute(
        sa.select(*_COLUMNS).where(
            browser_sessions.c.session_hash == session_hash,
            browser_sessions.c.expires_at > now,
            browser_sessions.c.last_seen_at > idle_since,
        )
    ).one_or_none()
    return None if row is None else BrowserSession._make(row)


def note_seen(connection: Connection, session_id: int, now: dt.datetime) -> None:
    connection.execute(
        sa.update(browser_sessions)
        .where(browser_sessions.c.id == session_id)
        .values(last_seen_at=now)
    )


def delete_session(connection: Connection, session_hash: str) -> None:
    connection.execute(
        sa.delete(browser_sessions).where(browser_sessions.c.session_hash == session_hash)
    )


def delete_sessions_of(connection: Connection, owner_id: int, *, except_id: int | None) -> None:
    condition = reachable(browser_sessions, owner_id, Action.WRITE)
    if except_id is not None:
        condition = sa.and_(condition, browser_sessions.c.id != except_id)
    connection.execute(sa.delete(browser_sessions).where(condition))
