"""Pure ASGI middleware: request ids and access log, the Host check, the public URL, HEAD
requests, the request body size limit.

Pure ASGI rather than `BaseHTTPMiddleware`, which costs about three times the throughput.
"""

import logging
import os
import re
import time
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_api.logs import LOGGER_NAME, request_id_var
from todo_api.problems import problem_response
from todo_api.representation import PUBLIC_URL_SCOPE_KEY

REQUEST_ID_HEADER = b"x-request-id"
HOST_HEADER = b"host"
# No answer was sent because the client went away (nginx's code for it, in the access log only).
CLIENT_CLOSED_REQUEST = 499
_SERVER_ERROR = HTTPStatus.INTERNAL_SERVER_ERROR.value  # an enum's .value costs a call per use
# Probes address a pod or container by its IP, whatever the allowed names: these answer any Host.
_PROBE_PATHS = frozenset({"/health", "/ready"})
# No route reads a body for these methods, so there is nothing to limit (and GET stays cheap).
# DELETE is limited: DELETE /me reads the password from its body.
_UNREAD_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# An incoming id is echoed into logs and headers, so only short, plain ids are accepted.
_SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")

access_logger = logging.getLogger(f"{LOGGER_NAME}.access")
error_logger = logging.getLogger(f"{LOGGER_NAME}.error")


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER and _SAFE_REQUEST_ID.fullmatch(value):
            return str(value, "ascii")
    return os.urandom(16).hex()  # as unique as uuid4().hex, at a fifth of the cost


class RequestContextMiddleware:
    """Gives each request an id (echoed in `X-Request-ID` and every log line), writes the access
    log line, and turns an unexpected exception into a logged, generic 500 problem."""

    def __init__(self, app: ASGIApp, *, access_log: bool) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = _SERVER_ERROR
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
            if not response_started:  # the client left before its request was read whole
                status = CLIENT_CLOSED_REQUEST
        except Exception:
            error_logger.exception("unhandled error", extra={"path": scope["path"]})
            if not response_started:
                response = problem_response(
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    detail=f"An unexpected error occurred; quote request id {request_id}.",
                )
                await response(scope, receive, send_with_request_id)
        finally:
            if self.access_log:
                route = scope.get("route")
                access_logger.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "route": getattr(route, "path", None) or scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
            request_id_var.reset(token)


class BodySizeLimitMiddleware:
    """Answers 413 once a request body passes `max_bytes`: at once when Content-Length says so,
    otherwise as soon as the bytes read so far exceed it — the body is never buffered whole."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _UNREAD_BODY_METHODS:
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._too_large()(scope, receive, send)
                return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI re-raises HTTPException from body reading; the error handler answers.
                    raise HTTPException(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, self._detail())
            return message

        await self.app(scope, limited_receive, send)

    def _detail(self) -> str:
        return f"The request body is larger than the limit of {self.max_bytes} bytes."

    def _too_large(self) -> ASGIApp:
        return problem_response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, detail=self._detail())


class HeadAsGetMiddleware:
    """Answers `HEAD` as `GET` without the body, as RFC 9110 asks of every GET resource.

    FastAPI routes declared with GET answer HEAD with 405; this runs them as GET and drops the
    body, so headers (Content-Length, ETag, Link) are exactly the GET's.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        as_get = {**scope, "method": "GET"}
        try:
            await self.app(as_get, receive, send_headers_only)
        finally:
            if "route" in as_get:  # for the access log line
                scope["route"] = as_get["route"]


class AllowedHostsMiddleware:
    """Answers 400 to a request whose Host is not an allowed name (TODO_ALLOWED_HOSTS).

    A page whose DNS name is rebound to 127.0.0.1 reaches a local server with its own name in
    Host; refusing that name keeps the page from reading or changing the todos, and keeps a
    spoofed Host out of the URLs this service builds (`Location`, `url`, `Link`).
    Added only when the names are restricted; per request it costs one set lookup.
    """

    def __init__(self, app: ASGIApp, *, host_names: frozenset[str]) -> None:
        self.app = app
        self.host_names = frozenset(name.lower().encode("idna") for name in host_names)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = _host_name(scope["headers"])
            if host not in self.host_names and scope["path"] not in _PROBE_PATHS:
                await self._refused(host)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refused(self, host: bytes | None) -> ASGIApp:
        shown = "no Host header" if host is None else f"Host {host.decode('latin-1')!r}"
        return problem_response(
            HTTPStatus.BAD_REQUEST,
            slug="host-not-allowed",
            title="Host not allowed",
            detail=f"This server does not answer {shown}; its operator lists the names it "
            "answers in TODO_ALLOWED_HOSTS.",
        )


def _host_name(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The Host header's name, lower case, without its port (`[::1]` keeps its brackets).

    A "port" that is not digits (`localhost:1@evil`, `localhost:80/x?`) is no port: the whole
    value is the name, which no allowed name equals, so it never reaches the URLs we build."""
    for name, value in headers:
        if name == HOST_HEADER:
            host, colon, port = value.rpartition(b":")
            no_port = not colon or b"]" in port  # or an IPv6 literal without one
            not_a_port = bool(port) and not port.isdigit()  # RFC 9110: port = *DIGIT
            if no_port or not_a_port:
                host = value
            return host.lower()
    return None


class PublicUrlMiddleware:
    """Hands TODO_PUBLIC_URL to `representation.base_url` through the scope, so that absolute
    URLs (`Location`, `url`, `Link`) name the service as clients reach it behind a proxy."""

    def __init__(self, app: ASGIApp, *, public_url: str) -> None:
        self.app = app
        self.public_url = public_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[PUBLIC_URL_SCOPE_KEY] = self.public_url
        await self.app(scope, receive, send)
