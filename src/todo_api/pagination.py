"""Opaque keyset cursors: where the next page starts, bound to its owner and its query, and
signed (HMAC-SHA256 with a key derived from TODO_SECRET_KEY), so a forged or edited cursor is
refused before anything in it is used."""

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import math
from dataclasses import dataclass

import orjson

from todo_api.domain.ids import is_storable_id, is_storable_integer
from todo_api.errors import InvalidParameter

CURSOR_VERSION = 3
_SIGNATURE_BYTES = 16  # a truncated HMAC-SHA256: 128 bits is far beyond guessing
SortKey = float | int | dt.datetime


@dataclass(frozen=True, slots=True)
class Position:
    """The sort key and id of the last item of a page; the next page starts strictly after it."""

    key: SortKey
    id: int


def query_fingerprint(owner_id: int, query: dict[str, object]) -> str:
    """A short digest of who asks and what; a cursor is only valid for the query that made it."""
    canonical = orjson.dumps([owner_id, query], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:16]


def cursor_signing_key(secret_key: bytes) -> bytes:
    """The key cursors are signed with: derived, so the secret key can serve other purposes."""
    return hmac.new(secret_key, b"todo-api cursor v3", hashlib.sha256).digest()


def _signature(signing_key: bytes, payload: bytes) -> bytes:
    return hmac.new(signing_key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def encode_cursor(position: Position, fingerprint: str, signing_key: bytes) -> str:
    key = position.key.isoformat() if isinstance(position.key, dt.datetime) else position.key
    payload = orjson.dumps([CURSOR_VERSION, key, position.id, fingerprint])
    signed = payload + _signature(signing_key, payload)
    return base64.urlsafe_b64encode(signed).rstrip(b"=").decode("ascii")


def decode_cursor(
    cursor: str, fingerprint: str, signing_key: bytes, *, key_is_datetime: bool
) -> Position:
    """The position in `cursor`, or a 422 naming `cursor` when it is malformed, unsigned,
    signed with another key, or made for another query or user."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        signed = base64.urlsafe_b64decode(padded.encode("ascii"))
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidParameter("cursor", "not a cursor this server issued") from None
    payload, signature = signed[:-_SIGNATURE_BYTES], signed[-_SIGNATURE_BYTES:]
    if len(signed) <= _SIGNATURE_BYTES or not hmac.compare_digest(
        signature, _signature(signing_key, payload)
    ):
        raise InvalidParameter("cursor", "not a cursor this server issued")
    try:
        version, key, item_id, cursor_fingerprint = orjson.loads(payload)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidParameter("cursor", "not a cursor this server issued") from None
    if version != CURSOR_VERSION:
        raise InvalidParameter("cursor", "not a cursor this server issued")
    if cursor_fingerprint != fingerprint:
        raise InvalidParameter("cursor", "this cursor belongs to a different query; start over")
    return Position(_parse_key(key, key_is_datetime), _parse_id(item_id))


def _parse_key(key: object, key_is_datetime: bool) -> SortKey:
    """The cursor's sort key, only if the database could hold it (a forged one may not)."""
    if key_is_datetime and isinstance(key, str):
        try:
            moment = dt.datetime.fromisoformat(key)
            if moment.tzinfo is not None:
                moment.astimezone(dt.UTC)  # overflows near year 1 or 9999
                return moment
        except (ValueError, OverflowError):
            pass
    elif isinstance(key, int) and not isinstance(key, bool) and not key_is_datetime:
        if is_storable_integer(key):
            return key
    elif isinstance(key, float) and not key_is_datetime and math.isfinite(key):
        return key
    raise InvalidParameter("cursor", "not a cursor this server issued")


def _parse_id(item_id: object) -> int:
    if isinstance(item_id, int) and not isinstance(item_id, bool) and is_storable_id(item_id):
        return item_id
    raise InvalidParameter("cursor", "not a cursor this server issued")
