"""Records every request in the Prometheus metrics, and answers `GET /metrics`.

One pure-ASGI layer at the edge, outside everything else: FastAPI's routes and the fast lane
alike are counted, 500s included. The route label is the route's template, as in the access
log (`/todos/{todo_id}`), so the number of series stays bounded; a path no route matched is
counted as `UNMATCHED_ROUTE`, never by its own text.

Cheap by design (docs/operations.md#metrics): the labelled children are looked up once per
(method, route, status) and kept, so a request costs a clock read, a dict lookup, a counter
increment, a histogram observation and the in-flight gauge: about 4 µs.
"""

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_api import metrics

METRICS_PATH = "/metrics"
UNMATCHED_ROUTE = "(unmatched)"  # a 404 for a path no route knows


class MetricsMiddleware:
    """Counts and times each request by method, route template and status."""

    def __init__(self, app: ASGIApp, *, serve_metrics: bool) -> None:
        """`serve_metrics`: answer GET /metrics here (False when TODO_METRICS_PORT serves it)."""
        self.app = app
        self.serve_metrics = serve_metrics
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.serve_metrics and scope["path"] == METRICS_PATH and scope["method"] == "GET":
            await _send_exposition(send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: the inner layers answer even an exception
        metrics.IN_FLIGHT.inc()

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            metrics.IN_FLIGHT.dec()
            route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
            key = (scope["method"], route, status)
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = (
                    metrics.REQUESTS.labels(*key),
                    metrics.REQUEST_SECONDS.labels(*key),
                )
            children[0].inc()
            children[1].observe(time.perf_counter() - started)


async def _send_exposition(send: Send) -> None:
    body = metrics.exposition()
    headers = [
        (b"content-type", metrics.CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
