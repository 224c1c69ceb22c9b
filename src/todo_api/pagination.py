"""Opaque keyset cursors: where the next page starts, bound to its owner and its query."""

import base64
import binascii
import datetime as dt
import hashlib
from dataclasses import dataclass

import orjson

from todo_api.errors import InvalidParameter

CURSOR_VERSION = 1
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@dataclass(frozen=True, slots=True)
class Position:
    """The sort key of the last item of a page; the next page starts strictly after it."""

    created_at: dt.datetime
    id: int


def query_fingerprint(owner_id: int, filters: dict[str, object]) -> str:
    """A short digest of who asks and what; a cursor is only valid for the query that made it."""
    canonical = orjson.dumps([owner_id, filters], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:16]


def encode_cursor(position: Position, fingerprint: str) -> str:
    payload = orjson.dumps(
        [CURSOR_VERSION, position.created_at.isoformat(), position.id, fingerprint]
    )
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, fingerprint: str) -> Position:
    """The position in `cursor`, or a 422 naming `cursor` when it is malformed or foreign."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        version, created_at, todo_id, cursor_fingerprint = orjson.loads(
            base64.urlsafe_b64decode(padded.encode("ascii"))
        )
        position = Position(dt.datetime.fromisoformat(created_at), int(todo_id))
    except (ValueError, TypeError, UnicodeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidParameter("cursor", "not a cursor this server issued") from None
    if version != CURSOR_VERSION or position.created_at.tzinfo is None:
        raise InvalidParameter("cursor", "not a cursor this server issued")
    if cursor_fingerprint != fingerprint:
        raise InvalidParameter("cursor", "this cursor belongs to a different query; start over")
    return position
