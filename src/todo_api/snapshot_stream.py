"""A long read streamed to the event loop: produced on a thread of its own, one chunk at a time.

Why: an export of a big account is seconds of work and tens of megabytes if built whole. Here
a thread runs the read inside its transaction (`open_snapshot`), and hands the loop at most
`CHUNKS_AHEAD` chunks ahead of what the client has taken: memory stays a few pages, the loop
only forwards bytes, and a slow client slows the thread rather than filling memory.

The transaction always ends: when the stream is finished, when the client goes away (the
consumer is closed or cancelled, which stops the thread at its next chunk), and when the client
takes no chunk for `STALL_SECONDS` (the thread gives up and the response is cut short: a
truncated download, never a transaction held open without end).
"""

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import AsyncGenerator, Callable, Generator
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

T = TypeVar("T")
CHUNKS_AHEAD = 2  # produced but not yet sent: the memory an export holds, in pages
STALL_SECONDS = 60.0  # a client that takes nothing for this long loses its export
THREAD_NAME = "todo-api-stream"


class ClientStalled(Exception):
    """The client took no chunk for STALL_SECONDS: the read's transaction was ended."""


class _End:
    """Queued once the producer is done: the stream's end, or the error that ended it."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


async def stream_off_loop(
    open_snapshot: Callable[[], AbstractContextManager[Connection]],
    work: Callable[[Connection], Generator[T]],
) -> AsyncGenerator[T]:
    """Yield what `work` yields, run on its own thread in the transaction `open_snapshot` opens."""
    loop = asyncio.get_running_loop()
    handed: asyncio.Queue[Any] = asyncio.Queue()  # bounded by `room`, not by the queue
    room = threading.Semaphore(CHUNKS_AHEAD)
    stopped = threading.Event()

    def hand(item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
            loop.call_soon_threadsafe(handed.put_nowait, item)

    def produce() -> None:
        try:
            with open_snapshot() as connection, contextlib.closing(work(connection)) as chunks:
                for chunk in chunks:
                    if not room.acquire(timeout=STALL_SECONDS):
                        raise ClientStalled(f"no chunk was taken for {STALL_SECONDS:.0f} s")
                    if stopped.is_set():
                        return
                    hand(chunk)
        except BaseException as error:  # handed to the consumer, which raises it
            hand(_End(error))
        else:
            hand(_End(None))

    # In the caller's context: its request id and trace span go on with the read.
    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(produce,), name=THREAD_NAME, daemon=True).start()
    try:
        while True:
            item = await handed.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            room.release()
            yield item
    finally:
        stopped.set()
        room.release()  # wakes a producer waiting for room, so it sees `stopped` and ends
