"""Idempotency-Key on POST: a retried request gets the first answer instead of acting twice.

A client may send `Idempotency-Key: <1-255 printable ASCII characters>` with a POST. The key is
scoped to the caller and remembers a fingerprint of the request (method, path, query, canonical
body) with the first successful response. Until the key expires (`RETENTION` after that answer):

- same key, same fingerprint: the stored status, headers and body, plus `Idempotent-Replayed: true`;
- same key, other fingerprint: 422 `idempotency-key-reused`, nothing done;
- the key committed by another transaction between our look-up and our insert: 409
  `idempotency-key-in-flight`, nothing done (impossible on SQLite; see `run_once`).

Everything happens in one unit of work: look up the key, run the route's work, render its
response, store it. On SQLite the unit holds the write lock throughout, so a duplicate waits for the
first to commit and then replays it, and a request that fails rolls back with its key: the key stays
free for a corrected retry. Only 2xx responses are stored. Without the header, a route's unit runs
exactly as before: no statement is added. docs/idempotency.md describes all this to clients;
the SQL is in repository/idempotency_keys.py.
"""

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy.engine import Connection
from starlette.requests import Request
from starlette.responses import Response

from todo_api.deps import database_of
from todo_api.domain import clock
from todo_api.errors import IdempotencyKeyReused, InvalidIdempotencyKey
from todo_api.repository import idempotency_keys as repository
from todo_api.repository.idempotency_keys import StoredAnswer
from todo_api.tables import IDEMPOTENCY_KEY_MAX_LENGTH

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
RETENTION_HOURS = 24
RETENTION = dt.timedelta(hours=RETENTION_HOURS)  # a stored answer is replayed at least this long
# Expired keys deleted by each request that stores a new key: more than one per insert, so the
# table shrinks back to the last RETENTION's keys; bounded, so no request pays for a backlog.
EXPIRED_SWEEP_LIMIT = 100

_HEADER_NAME = IDEMPOTENCY_KEY_HEADER.lower().encode("ascii")
_PRINTABLE_ASCII = re.compile(rb"[\x20-\x7e]+")
_NOT_STORED_HEADERS = {b"content-length"}  # recomputed from the body on replay

ResponseWork = Callable[[Connection], Response]
"""A unit of work that makes a POST's change and renders its response (with the same bytes a
client would get). `idempotent_write` runs it at most once per key."""

# For a route decorator: `@router.post(..., openapi_extra=IDEMPOTENT_POST)`.
IDEMPOTENT_POST: dict[str, Any] = {
    "parameters": [
        {
            "name": IDEMPOTENCY_KEY_HEADER,
            "in": "header",
            "required": False,
            "description": (
                "Makes the POST safe to retry: the same key with the same request replays the "
                "first answer (with `Idempotent-Replayed: true`) for at least "
                f"{RETENTION_HOURS} hours; with a "
                "different request, 422. Keys are per user. See docs/idempotency.md."
            ),
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
                "pattern": "^[\\x20-\\x7e]+$",
            },
        }
    ],
    "responses": {
        "400": {
            "description": "The Idempotency-Key header is not "
            f"1-{IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII"
        },
        "409": {"description": "A concurrent request with the same Idempotency-Key won; retry"},
    },
}


def idempotency_key(request: Request) -> str | None:
    """The request's Idempotency-Key, None without one; 400 when it is malformed.

    Read off the raw headers: building `request.headers` costs more than the scan.
    """
    values = [value for name, value in request.scope["headers"] if name == _HEADER_NAME]
    if not values:
        return None
    if len(values) > 1:
        raise InvalidIdempotencyKey("send one key, not several")
    value: bytes = values[0]
    if not 0 < len(value) <= IDEMPOTENCY_KEY_MAX_LENGTH:
        raise InvalidIdempotencyKey(f"must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters")
    if not _PRINTABLE_ASCII.fullmatch(value):
        raise InvalidIdempotencyKey("must be printable ASCII (a UUID, say)")
    return value.decode("ascii")


def canonical_body(body: bytes) -> bytes:
    """A JSON body re-serialized compactly with sorted keys, so whitespace and key order do not
    make a retry look like a different request; any other body as sent."""
    try:
        return orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        return body


def request_fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """sha256 over the parts that make two requests "the same"; each part length-prefixed so no
    two different requests hash the same bytes."""
    digest = hashlib.sha256()
    for part in (method.encode("ascii"), path.encode("utf-8"), query, canonical_body(body)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def replay(answer: StoredAnswer) -> Response:
    """The stored answer again, marked `Idempotent-Replayed: true`."""
    response = Response(answer.body, status_code=answer.status)
    response.raw_headers.extend(
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers
    )
    response.raw_headers.append((REPLAYED_HEADER.lower().encode("ascii"), b"true"))
    return response


def answer_to_store(fingerprint: str, response: Response, now: dt.datetime) -> StoredAnswer:
    """What is kept of a response: status, headers (but Content-Length) and body, until expiry."""
    headers = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in response.raw_headers
        if name not in _NOT_STORED_HEADERS
    ]
    return StoredAnswer(
        fingerprint, response.status_code, headers, bytes(response.body), now + RETENTION
    )


def run_once(
    connection: Connection,
    owner_id: int,
    key: str,
    fingerprint: str,
    work: ResponseWork,
    now: dt.datetime,
) -> Response:
    """The body of a keyed request's unit of work: replay, refuse, or run `work` and store it.

    On SQLite the unit holds the write lock from its first statement, so no other writer can
    store this key between the look-up and the insert; `store_answer`'s 409 covers databases
    without that lock, where two transactions can both miss the key.
    """
    stored = repository.find_answer(connection, owner_id, key)
    if stored is not None and stored.expires_at <= now:
        repository.delete_key(connection, owner_id, key)  # expired, not swept: the key is free
        stored = None
    if stored is not None:
        if stored.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                f"Idempotency-Key {key!r} was already used for a different request "
                "(another body, path or query); use a new key for a new request."
            )
        return replay(stored)
    response = work(connection)
    if 200 <= response.status_code < 300:  # a refusal is not stored: a corrected retry may run
        repository.delete_expired_keys(connection, now, EXPIRED_SWEEP_LIMIT)
        answer = answer_to_store(fingerprint, response, now)
        repository.store_answer(connection, owner_id, key, answer, now)
    return response


async def idempotent_write(
    request: Request, owner_id: int, work: ResponseWork, *, long: bool = False
) -> Response:
    """Run a POST's unit of work once per Idempotency-Key (as a plain write without one).

    Wrap a route by moving its change *and* its response into `work`, then
    `return await idempotent_write(request, caller.user_id, work)`; `long` as for
    `Database.write`.
    """
    key = idempotency_key(request)
    if key is None:
        return await database_of(request).write(work, long=long)
    scope = request.scope
    body = await request.body()  # already read (and cached) by FastAPI to parse the model
    fingerprint = request_fingerprint(scope["method"], scope["path"], scope["query_string"], body)
    now = clock.now()
    return await database_of(request).write(
        lambda connection: run_once(connection, owner_id, key, fingerprint, work, now), long=long
    )
