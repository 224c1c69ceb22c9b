"""The Python ceiling: a raw ASGI callable answering the benchmark's requests with fixed bytes.

No framework: routing is a string comparison and every body is encoded once at import. Nothing
served by uvicorn from Python answers faster, so it bounds what any framework could reach here.
"""

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from bench.sample import sample_page, sample_todo

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _encode(document: Any) -> bytes:
    # The separators Starlette's JSONResponse uses, so the bytes equal the floor app's.
    return json.dumps(document, separators=(",", ":")).encode()


_ONE = _encode(sample_todo(1))
_PAGE = _encode(sample_page())
_HEALTH = _encode({"status": "ok"})


async def app(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    """Route on method and path only; anything else is an empty 404."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    method, path = scope["method"], scope["path"]
    if method == "POST" and path == "/todos":
        await _read_body(receive)  # an honest server consumes the request before answering
        status, body = 201, _ONE
    elif method == "GET" and path == "/todos":
        status, body = 200, _PAGE
    elif method == "GET" and path.startswith("/todos/"):
        status, body = 200, _ONE
    elif method == "GET" and path == "/health":
        status, body = 200, _HEALTH
    else:
        status, body = 404, b""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
