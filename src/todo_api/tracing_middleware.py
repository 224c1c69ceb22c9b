"""A span for each request, when tracing is on (tracing.py); not in the app at all when off.

Inside the request context (so the request id is known) and outside everything else: the span
covers the fast lane and FastAPI's routes alike, and the database spans of the request's units
of work become its children (OpenTelemetry's context travels in contextvars, which the writer
thread and the export threads carry over).
"""

from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_api.logs import request_id_var
from todo_api.tracing import REQUEST_ID_ATTRIBUTE

SERVER_ERROR = 500


class TracingMiddleware:
    """Opens a SERVER span per request: method, route template, status, request id."""

    def __init__(self, app: ASGIApp, *, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        attributes = {"http.request.method": method, "url.path": scope["path"]}
        if request_id := request_id_var.get():
            attributes[REQUEST_ID_ATTRIBUTE] = request_id
        with self.tracer.start_as_current_span(
            method, kind=SpanKind.SERVER, attributes=attributes
        ) as span:

            async def send_noting_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                    if message["status"] >= SERVER_ERROR:
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            try:
                await self.app(scope, receive, send_noting_status)
            finally:
                if (route := getattr(scope.get("route"), "path", None)) is not None:
                    span.set_attribute("http.route", route)
                    span.update_name(f"{method} {route}")
