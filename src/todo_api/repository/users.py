"""SQL for user accounts. A user is found by id (the caller) or by username without case.

An account's id is never given to another account: on SQLite a new one takes an id above both
the largest present and the highest ever deleted (`user_id_floor`, tables.py says why)."""

import datetime as dt
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from todo_api.domain.accounts import username_key
from todo_api.errors import Conflict, Unauthenticated, UsernameTaken, UserNotFound
from todo_api.tables import LOCAL_USER_ID, USER_ID_FLOOR_ROW, user_id_floor, users


class User(NamedTuple):
    id: int
    username: str
    created_at: dt.datetime
    password_hash: str | None


_COLUMNS = [users.c[name] for name in User._fields]


def find_by_username(connection: Connection, username: str) -> User | None:
    row = connection.execute(
        sa.select(*_COLUMNS).where(users.c.username_key == username_key(username))
    ).one_or_none()
    return None if row is None else User._make(row)


def get_by_username(connection: Connection, username: str) -> User:
    found = find_by_username(connection, username)
    if found is None:
        raise UserNotFound(username)
    return found


def find_user(connection: Connection, user_id: int) -> User | None:
    row = connection.execute(sa.select(*_COLUMNS).where(users.c.id == user_id)).one_or_none()
    return None if row is None else User._make(row)


def get_user(connection: Connection, user_id: int) -> User:
    """The caller's own account. Gone: it was deleted while another worker still held its
    token in the cache (≤ 5 s), and the credential is as good as revoked."""
    found = find_user(connection, user_id)
    if found is None:
        raise Unauthenticated("The account no longer exists.")
    return found


def list_users(connection: Connection) -> list[User]:
    rows = connection.execute(sa.select(*_COLUMNS).order_by(users.c.username_key))
    return [User._make(row) for row in rows]


_SQLITE = "sqlite"
_NEXT_SQLITE_USER_ID = sa.select(
    sa.func.max(
        sa.func.coalesce(sa.select(sa.func.max(users.c.id)).scalar_subquery(), 0),
        sa.func.coalesce(sa.select(user_id_floor.c.highest_deleted).scalar_subquery(), 0),
    )
    + 1
)


def create_user(
    connection: Connection, username: str, password_hash: str, now: dt.datetime
) -> User:
    if find_by_username(connection, username) is not None:
        raise UsernameTaken(username)
    values = {
        "username": username,
        "username_key": username_key(username),
        "password_hash": password_hash,
        "created_at": now,
    }
    if connection.dialect.name == _SQLITE:  # a write transaction: nobody takes it meanwhile
        values["id"] = connection.execute(_NEXT_SQLITE_USER_ID).scalar_one()
    row = connection.execute(sa.insert(users).values(**values).returning(*_COLUMNS)).one()
    return User._make(row)


def set_password_hash(connection: Connection, user_id: int, password_hash: str) -> None:
    connection.execute(
        sa.update(users).where(users.c.id == user_id).values(password_hash=password_hash)
    )


def delete_user(connection: Connection, user_id: int) -> None:
    """Deletes the account; its lists, todos, tags, tokens, sessions and keys cascade. On SQLite
    its id is noted, so that no later account is given it."""
    connection.execute(sa.delete(users).where(users.c.id == user_id))
    if connection.dialect.name == _SQLITE:
        connection.execute(
            sqlite.insert(user_id_floor)
            .values(id=USER_ID_FLOOR_ROW, highest_deleted=user_id)
            .on_conflict_do_update(
                index_elements=[user_id_floor.c.id],
                set_={"highest_deleted": sa.func.max(user_id_floor.c.highest_deleted, user_id)},
            )
        )


def adopt_local_user(connection: Connection, username: str, password_hash: str) -> User:
    """Give the implicit local user (and so every todo made without accounts) a name and a
    password: it becomes an account like any other."""
    local = get_user(connection, LOCAL_USER_ID)
    if local.password_hash is not None:
        raise Conflict(f"The local user was already adopted, as {local.username!r}.")
    taken = find_by_username(connection, username)
    if taken is not None and taken.id != LOCAL_USER_ID:
        raise UsernameTaken(username)
    connection.execute(
        sa.update(users)
        .where(users.c.id == LOCAL_USER_ID)
        .values(username=username, username_key=username_key(username), password_hash=password_hash)
    )
    return get_user(connection, LOCAL_USER_ID)
