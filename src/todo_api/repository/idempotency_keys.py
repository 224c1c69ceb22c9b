"""SQL for idempotency keys: the first answer to a POST sent with an Idempotency-Key.

The rules (what a key may be, when an answer is replayed, refused or stored) are
todo_api.idempotency's; this module only stores and finds the answers.
"""

import datetime as dt
from typing import NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from todo_api.errors import IdempotencyKeyInFlight
from todo_api.repository.access import reachable
from todo_api.tables import idempotency_keys


class StoredAnswer(NamedTuple):
    """The first answer given under a key, and a fingerprint of the request it answered."""

    fingerprint: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    expires_at: dt.datetime


_OWNED_KEY = sa.and_(
    reachable(idempotency_keys, sa.bindparam("match_owner_id")),
    idempotency_keys.c.key == sa.bindparam("match_key"),
)
_SELECT = sa.select(
    idempotency_keys.c.fingerprint,
    idempotency_keys.c.status,
    idempotency_keys.c.headers,
    idempotency_keys.c.body,
    idempotency_keys.c.expires_at,
).where(_OWNED_KEY)
_DELETE = sa.delete(idempotency_keys).where(_OWNED_KEY)
_OLDEST_EXPIRED = (
    sa.select(idempotency_keys.c.owner_id, idempotency_keys.c.key)
    .where(idempotency_keys.c.expires_at <= sa.bindparam("now"))
    .order_by(idempotency_keys.c.expires_at)
    .limit(sa.bindparam("limit"))
)
_DELETE_EXPIRED = sa.delete(idempotency_keys).where(
    sa.tuple_(idempotency_keys.c.owner_id, idempotency_keys.c.key).in_(_OLDEST_EXPIRED)
)


def find_answer(connection: Connection, owner_id: int, key: str) -> StoredAnswer | None:
    """The answer stored under the caller's key, expired or not."""
    row = connection.execute(_SELECT, {"match_owner_id": owner_id, "match_key": key}).one_or_none()
    if row is None:
        return None
    headers = [(name, value) for name, value in orjson.loads(row.headers)]
    return StoredAnswer(row.fingerprint, row.status, headers, row.body, row.expires_at)


def store_answer(
    connection: Connection, owner_id: int, key: str, answer: StoredAnswer, now: dt.datetime
) -> None:
    """Keep `answer` under the caller's key until its `expires_at`.

    409 when the key is already taken: a concurrent transaction stored it after our look-up.
    """
    row = {
        "owner_id": owner_id,
        "key": key,
        "fingerprint": answer.fingerprint,
        "status": answer.status,
        "headers": orjson.dumps([list(header) for header in answer.headers]).decode(),
        "body": answer.body,
        "created_at": now,
        "expires_at": answer.expires_at,
    }
    try:
        connection.execute(sa.insert(idempotency_keys), row)
    except sa.exc.IntegrityError:
        # The primary key is the only unique constraint and the caller exists, so this is the key.
        raise IdempotencyKeyInFlight(
            f"Another request with Idempotency-Key {key!r} finished first; "
            "retry to receive its response."
        ) from None


def delete_key(connection: Connection, owner_id: int, key: str) -> None:
    connection.execute(_DELETE, {"match_owner_id": owner_id, "match_key": key})


def delete_expired_keys(connection: Connection, now: dt.datetime, limit: int) -> int:
    """Delete up to `limit` expired keys of any user, oldest first (on the expires_at index)."""
    result = connection.execute(_DELETE_EXPIRED, {"now": now, "limit": limit})
    return result.rowcount
