"""GET /events: the caller's changes as Server-Sent Events, as they commit (docs/api.md).

Each process polls the changes table (repository/changes.py) a few times a second for rows
after the last one it sent: every worker and every replica sees every commit, with no
notification channel to configure. A client that reconnects with `Last-Event-ID` gets every
change after that id, or, when changes after it were already pruned
(TODO_EVENTS_RETENTION_HOURS, change_feed_pruner.py), a `reset` event: read everything again.
A comment line every TODO_EVENTS_HEARTBEAT_SECONDS keeps proxies from closing an idle stream;
past TODO_EVENTS_MAX_STREAMS open streams of one user: 429 (a poll, below, is never refused so).

A stream outlives the check of its credential at the edge, so it asks the edge again before
it sends changes and every RECHECK_SECONDS while quiet (deps.credential_check_of: the same
lookups, a token through its cache), and ends once the credential no longer holds: signed
out, token revoked, user deleted, password changed. EventSource then reconnects, and hears 401.
When the server begins to stop, every stream ends at once with a `retry` hint, and EventSource
reconnects (to another replica).

Only a client that asks for `text/event-stream` (as EventSource does) gets the endless stream;
any other gets the changes there are now and the end of the answer (a poll), so generic
clients and tools that read a whole answer never wait forever.
"""

import asyncio
import json
import random
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from todo_api import metrics
from todo_api.deps import (
    caller_of,
    credential_check_of,
    database_of,
    draining_of,
    settings_of,
)
from todo_api.errors import InvalidHeader, TooManyStreams
from todo_api.repository import change_retention
from todo_api.repository import changes as repository
from todo_api.routes.openapi import AUTHENTICATED

router = APIRouter(tags=["events"], responses=AUTHENTICATED)

POLL_SECONDS = 0.2  # how soon a commit reaches the stream: well within the 1 s asked for
BATCH = 500
# How often an open stream asks whether its credential still holds: a token's check is a cache
# lookup (a query once per token_cache.TOKEN_CACHE_SECONDS), a session's one indexed read.
RECHECK_SECONDS = 1.0
# The reconnection delay sent as a stopping server ends its streams, drawn from this range so
# that its clients do not all arrive at the other replicas in the same instant.
DRAINING_RETRY_MS = (250, 1250)
EVENT_STREAM = "text/event-stream"
LAST_EVENT_ID = "Last-Event-ID"
LAST_EVENT_ID_PATTERN = re.compile("[0-9]{1,10}")
# The largest event id there can be: `changes.seq` is an INTEGER (PostgreSQL's is 32 bits).
MAX_EVENT_ID = 2**31 - 1
# Declared here rather than as a FastAPI parameter: an optional header would be documented as
# "string or null", and a header cannot be null.
RESUMABLE: dict[str, Any] = {
    "parameters": [
        {
            "name": LAST_EVENT_ID,
            "in": "header",
            "required": False,
            "description": "The id of the last event received: the stream resumes after it.",
            "schema": {"type": "string", "pattern": f"^{LAST_EVENT_ID_PATTERN.pattern}$"},
        }
    ]
}
# One event as Server-Sent Events frame it (the opening `retry` and `id` lines are no event).
CHANGE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["change", "reset"]},
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": '`change`: `{"seq", "kind": "todo"|"list"|"todos", "id", "action", '
            '"at"}`; `reset` (changes after `Last-Event-ID` were pruned: read everything '
            'again): `{"seq"}`',
        },
    },
    "required": ["event", "id", "data"],
}
RESPONSES = {
    200: {
        "description": "`change` events (a `reset` first when `Last-Event-ID` is older than "
        "what is kept): endless with `Accept: text/event-stream`, else so far",
        "content": {EVENT_STREAM: {"schema": CHANGE_EVENT}},
    },
    429: {"description": "Too many open streams of this user (TODO_EVENTS_MAX_STREAMS)"},
}


class OpenStreams:
    """How many streams each user has open in this process."""

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()

    @contextmanager
    def opened(self, user_id: int, limit: int) -> Iterator[None]:
        if self.counts[user_id] >= limit:
            raise TooManyStreams(limit)
        self.counts[user_id] += 1
        metrics.EVENT_STREAMS.inc()
        try:
            yield
        finally:
            self.counts[user_id] -= 1
            metrics.EVENT_STREAMS.dec()


def open_streams_of(request: Request) -> OpenStreams:
    streams: OpenStreams = request.app.state.open_streams
    return streams


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses=RESPONSES,  # type: ignore[arg-type]
    openapi_extra=RESUMABLE,
)
async def events(request: Request) -> StreamingResponse:
    """Your changes, live: a `change` event per created, updated or deleted todo or list (bulk
    changes and imports as one `todos` event). Resume with `Last-Event-ID`. Without `Accept:
    text/event-stream`, the changes there are now, and the end of the answer. A `reset` event
    instead of the changes after an id that is older than the changes kept: read everything
    again."""
    caller = caller_of(request)
    live = EVENT_STREAM in request.headers.get("accept", "")
    database = database_of(request)
    settings = settings_of(request)
    last_event_id = request.headers.get(LAST_EVENT_ID)
    if last_event_id is not None and not (
        LAST_EVENT_ID_PATTERN.fullmatch(last_event_id) and int(last_event_id) <= MAX_EVENT_ID
    ):
        raise InvalidHeader(LAST_EVENT_ID, "give the id of the last event received")
    position = await database.read(partial(change_retention.feed_position, owner_id=caller.user_id))
    # Resumed from before what was pruned: some changes are gone, so the client reads
    # everything again (the reset) and hears what comes next.
    reset = last_event_id is not None and int(last_event_id) < position.pruned_through
    after = position.current if last_event_id is None or reset else int(last_event_id)
    streams = open_streams_of(request)
    limit = settings.events_max_streams
    heartbeat = settings.events_heartbeat_seconds
    # Only endless streams are capped: a poll ends at once (the rate limit counts it), and is
    # what a client refused a stream falls back to (the web app does).
    if live and streams.counts[caller.user_id] >= limit:
        raise TooManyStreams(limit)
    # A poll ends at once: the edge's check, a moment ago, covers it.
    check = credential_check_of(request) if live else None
    draining = draining_of(request)

    async def stream() -> AsyncIterator[bytes]:
        nonlocal after
        counted: AbstractContextManager[None] = (
            streams.opened(caller.user_id, limit) if live else nullcontext()
        )
        with counted:
            # The id at once, so that a client that reconnects before any change arrives
            # resumes from here (EventSource sends the last id it was given) and misses none.
            yield f"retry: 1000\nid: {after}\n\n".encode()
            if reset:
                reset_data = json.dumps({"seq": after})
                yield f"id: {after}\nevent: reset\ndata: {reset_data}\n\n".encode()
            quiet = 0.0
            recheck_at = time.monotonic() + RECHECK_SECONDS
            while not await request.is_disconnected():
                if live and draining.is_set():
                    yield f"retry: {random.randint(*DRAINING_RETRY_MS)}\n\n".encode()
                    return
                found = await database.read(
                    partial(
                        repository.changes_after,
                        owner_id=caller.user_id,
                        after=after,
                        limit=BATCH,
                    )
                )
                # Asked before anything is sent, and every RECHECK_SECONDS while quiet: a
                # stream never hears a change after the edge would refuse its credential.
                if check is not None and (found or time.monotonic() >= recheck_at):
                    if not await check(request.scope, caller):
                        return  # EventSource reconnects, and hears 401
                    recheck_at = time.monotonic() + RECHECK_SECONDS
                for change in found:
                    data = {
                        "seq": change.seq,
                        "kind": change.kind,
                        "id": change.entity_id,
                        "action": change.action,
                        "at": change.changed_at.isoformat().replace("+00:00", "Z"),
                    }
                    yield f"id: {change.seq}\nevent: change\ndata: {json.dumps(data)}\n\n".encode()
                    after = change.seq
                if not live:
                    return
                if found:
                    quiet = 0.0
                    continue
                await asyncio.sleep(POLL_SECONDS)
                quiet += POLL_SECONDS
                if quiet >= heartbeat:
                    quiet = 0.0
                    yield b": heartbeat\n\n"

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type=EVENT_STREAM, headers=headers)
