"""Uvicorn's httptools protocol with the limits it lacks: request header size and count, header
and body read timeouts, and a cap on open connections.

httptools buffers a header until it ends, however long, and uvicorn waits for a request's bytes
forever: one client could grow the process by gigabytes, and a few hundred slow ones could hold
every file descriptor. Each connection here is bounded in bytes and in time, and past the cap a
new connection closes the oldest one that is not being answered (an idle client, or one slow to
send its request), so a fresh client always gets in. `todo-api serve` plugs it in as
uvicorn's `http=` protocol (cli.py); the ASGI app never sees what it refuses.

It also tells the app when the server begins to stop: uvicorn then asks each open connection
to shut down, in one process or in each worker alike, and waits for every answer to finish.
An endless answer (GET /events) never would, so the protocol sets the lifespan state's
draining event (`deps.DRAINING_STATE_KEY`), which the streams watch and end on.
"""

import asyncio
import itertools
import logging
import resource
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from todo_api.deps import DRAINING_STATE_KEY
from todo_api.logs import LOGGER_NAME
from todo_api.problems import PROBLEM_CONTENT_TYPE, problem_document

MAX_HEADER_BYTES = 64 * 1024  # request line and headers together
MAX_HEADER_COUNT = 100
# Descriptors kept free under the automatic connection cap: the database, its WAL and shared
# memory files, the log, worker pipes, the thread pool's and the listening sockets.
RESERVED_FILE_DESCRIPTORS = 64
MIN_AUTOMATIC_CAP = 16
_HEADER_LINE_OVERHEAD = 4  # ": " and CRLF

logger = logging.getLogger(f"{LOGGER_NAME}.connections")
# Orders connections by arrival; the loop's clock is the same for all accepted in one iteration.
_arrivals = itertools.count()


@dataclass(frozen=True)
class ConnectionLimits:
    """What one server process allows each connection, and how many it keeps open."""

    header_timeout: float
    body_timeout: float
    max_connections: int
    max_header_bytes: int = MAX_HEADER_BYTES
    max_header_count: int = MAX_HEADER_COUNT


def automatic_connection_cap() -> int:
    """The open-file limit less what the process needs besides connections."""
    soft_limit, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft_limit == resource.RLIM_INFINITY:
        soft_limit = 65536
    return max(MIN_AUTOMATIC_CAP, soft_limit - RESERVED_FILE_DESCRIPTORS)


def limited_protocol(limits: ConnectionLimits) -> Any:
    """What to pass uvicorn as `http=`: it calls this for each connection. A `partial` of a
    module-level class, so that uvicorn can hand it to worker processes (pickled)."""
    return partial(LimitedHttpToolsProtocol, limits=limits)


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """One connection, bounded in header bytes, header count and read time.

    Each request costs three overridden callbacks and no timer when it arrives in one read,
    as nearly all do: only a request still incomplete after a read arms its deadline.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self.refused = False
        self.arrival = next(_arrivals)  # the oldest waiting connection is closed first
        self.reading_body = False
        self.head_bytes = 0  # bytes of reads that ended inside a request head
        self.read_bytes = 0  # the last read's
        self.read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.header_timeout, "header")  # a client that never sends a byte
        if len(self.connections) > self.limits.max_connections and self._open_count() > (
            self.limits.max_connections
        ):
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """The server begins to stop (SIGTERM): open streams end now, not at the timeout."""
        draining: asyncio.Event | None = self.app_state.get(DRAINING_STATE_KEY)
        if draining is not None:
            draining.set()
        super().shutdown()

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        self.read_bytes = len(data)
        HttpToolsProtocol.data_received(self, data)  # not super(): this runs for every read
        if self.refused or self.parser is None:
            return
        if self.reading_body:
            if self.read_deadline is None:
                self._arm(self.limits.body_timeout, "body")
        elif self.waiting_for_request():  # the read ended inside a request head
            # httptools buffers a header until its line ends: count what it holds so far.
            self.head_bytes += len(data)
            if self.head_bytes > self.limits.max_header_bytes:
                self._refuse_large_head()
            elif self.read_deadline is None:
                self._arm(self.limits.header_timeout, "header")

    def on_headers_complete(self) -> None:
        if self.refused:
            return
        if len(self.headers) > self.limits.max_header_count or (
            self.head_bytes + self.read_bytes > self.limits.max_header_bytes
            and self._parsed_head_bytes() > self.limits.max_header_bytes
        ):
            self._refuse_large_head()
            return
        self.head_bytes = 0
        self.reading_body = True
        if self.read_deadline is not None:
            self._disarm()
        HttpToolsProtocol.on_headers_complete(self)

    def on_body(self, body: bytes) -> None:
        if not self.refused:  # the rest of a read whose head was refused
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self.refused:
            return
        self.reading_body = False
        if self.read_deadline is not None:
            self._disarm()
        HttpToolsProtocol.on_message_complete(self)

    def waiting_for_request(self) -> bool:
        """Between requests or in a head: no request of this connection is being answered."""
        return not self.reading_body and (self.cycle is None or self.cycle.response_complete)

    def _parsed_head_bytes(self) -> int:
        return len(self.url) + sum(
            len(name) + len(value) + _HEADER_LINE_OVERHEAD for name, value in self.headers
        )

    def _arm(self, seconds: float, part: str) -> None:
        self._disarm()
        self.read_deadline = self.loop.call_later(seconds, self._read_timed_out, part)

    def _disarm(self) -> None:
        if self.read_deadline is not None:
            self.read_deadline.cancel()
            self.read_deadline = None

    def _read_timed_out(self, part: str) -> None:
        self.read_deadline = None
        if not self.transport.is_closing():
            logger.info("closed a connection: request %s not received in time", part)
            self.refused = True
            self.transport.close()

    def _refuse_large_head(self) -> None:
        self.refused = True
        self._disarm()
        status = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
        body = problem_document(
            status,
            detail=(
                f"The request headers are larger than {self.limits.max_header_bytes} bytes "
                f"or more than {self.limits.max_header_count} fields."
            ),
        )
        head = (
            f"HTTP/1.1 {status.value} {status.phrase}\r\n"
            f"content-type: {PROBLEM_CONTENT_TYPE}\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        logger.info("refused a request: headers too large")
        self.transport.write(head.encode("ascii") + body)
        self.transport.close()

    def _open_count(self) -> int:
        """Connections not yet closing (a closed one stays in the set until its loss is seen)."""
        return sum(1 for connection in self.connections if not connection.transport.is_closing())

    def _make_room(self) -> None:
        """Close the oldest connection that is waiting for a request (idle, or slow to send
        one); when every other one is being answered, this newest one."""
        waiting = [
            connection
            for connection in self.connections
            if isinstance(connection, LimitedHttpToolsProtocol)
            and connection is not self
            and connection.waiting_for_request()
            and not connection.transport.is_closing()
        ]
        victim = min(waiting, key=_arrival) if waiting else self
        logger.info("closed a connection: %d open, the cap", self.limits.max_connections)
        victim.refused = True
        victim.transport.close()


def _arrival(connection: LimitedHttpToolsProtocol) -> int:
    return connection.arrival
