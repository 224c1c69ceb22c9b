"""Rate limits at the edge (pure ASGI), in fixed windows counted in memory (fixed_windows.py).

Two layers around the authentication middleware share one set of counters (`RateLimits`):

- `AddressRateLimitMiddleware`, outside authentication: every request that does not reach
  the routes as a verified caller counts against TODO_RATE_LIMIT per client address, in one of
  two budgets: requests without a credential (the public routes, 401s for a missing one), and
  requests whose credential was refused (401 unknown, expired, revoked; 403 scope or CSRF).
  Once a budget is spent, the address's requests of that kind get 429 *before* anything is
  looked up: a storm of made-up tokens costs neither a query each nor an answer. The budgets
  are apart so that anonymous traffic (a browser on /docs) cannot spend the one that verified
  callers sharing the address need. Password attempts (POST /users, /tokens, /session; PATCH
  and DELETE /me) count besides against TODO_PASSWORD_RATE_LIMIT per address, first.
- `CallerRateLimitMiddleware`, inside authentication: a verified caller's requests count
  against TODO_RATE_LIMIT per user (from every address together), as the fast lane and the
  FastAPI routes see them.

An import weighs what it carries: `POST /import` counts one request per IMPORT_BYTES_PER_REQUEST
of its declared body (Content-Length; a body without one, chunked, counts as the largest body
TODO_MAX_BODY_BYTES allows), at most a whole window, so one 1 MiB import (up to ~55,000 todos)
is not one request among 600.

Health and readiness probes are never limited (a kubelet or load balancer polls them from one
address, often through a proxy). Past a limit: 429 problem with Retry-After. Every limited
answer carries the IETF draft's `RateLimit-Policy` and `RateLimit` fields.

The counters live in each process: with N workers or replicas a client gets up to N times the
limit. A shared storage (`limits` speaks Redis, Memcached, MongoDB) makes them exact; the
PostgreSQL and replicas work is where that lands (docs/security.md). Keys are tuples, so no
string is built per request and the kinds (user, address, refused) cannot collide.
"""

from collections.abc import Hashable
from http import HTTPStatus

from limits import parse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_api.config import Settings
from todo_api.deps import CALLER_SCOPE_KEY
from todo_api.domain.accounts import Caller, is_public
from todo_api.fixed_windows import FixedWindows, Hit
from todo_api.problems import problem_response

RATE_LIMIT_OFF = "off"
# Liveness and readiness probes: never limited, never counted.
PROBE_PATHS = frozenset({"/health", "/ready"})
_PASSWORD_ROUTES = frozenset(
    {
        ("POST", "/users"),
        ("POST", "/tokens"),
        ("POST", "/session"),
        ("PATCH", "/me"),
        ("DELETE", "/me"),
    }
)
Fields = list[tuple[bytes, bytes]]
_CREDENTIAL_HEADERS = frozenset({b"authorization", b"cookie"})
_USER, _ADDRESS, _REFUSED = "user", "address", "refused"  # what a counter's key counts
IMPORT_ROUTE = ("POST", "/import")
IMPORT_BYTES_PER_REQUEST = 16 * 1024  # ~300 todos of an export document


class _Policy:
    """One limit, its name in the RateLimit fields, and its counters."""

    def __init__(self, name: str, setting: str) -> None:
        limit = parse(setting)
        self.name = name
        self.windows = FixedWindows(limit.amount, limit.get_expiry())
        self.policy_field = (
            b"ratelimit-policy",
            f'"{name}";q={limit.amount};w={limit.get_expiry()}'.encode(),
        )

    def hit(self, key: Hashable, cost: int = 1) -> tuple[bool, Fields, int]:
        """Count a request that weighs `cost` (at most the whole limit): (allowed, the
        RateLimit fields, seconds until the window resets)."""
        window = self.windows.hit(key, min(cost, self.windows.limit))
        return window.allowed, self._fields(window), window.reset_seconds

    def spent(self, key: Hashable) -> tuple[Fields, int] | None:
        """Without counting: the fields and the wait when `key`'s window is spent, else None."""
        window = self.windows.peek(key)
        if window.allowed:
            return None
        return self._fields(window), window.reset_seconds

    def _fields(self, window: Hit) -> Fields:
        field = f'"{self.name}";r={window.remaining};t={window.reset_seconds}'.encode()
        return [self.policy_field, (b"ratelimit", field)]


class RateLimits:
    """The policies and their counters, one set per process (per app), for both layers."""

    def __init__(self, settings: Settings) -> None:
        self.requests = _policy("requests", settings.rate_limit)
        self.passwords = _policy("passwords", settings.password_rate_limit)
        # TODO_AUTH=disabled: every request is the local user's, counted per user.
        self.anonymous_possible = settings.auth == "required"
        self.max_body_bytes = settings.max_body_bytes


class AddressRateLimitMiddleware:
    """Outside authentication: counts per client address what has no verified caller."""

    def __init__(self, app: ASGIApp, *, limits: RateLimits) -> None:
        self.app = app
        self.passwords = limits.passwords
        self.requests = limits.requests if limits.anonymous_possible else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or (self.requests is None and self.passwords is None)
            or scope["path"] in PROBE_PATHS
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        method, path = scope["method"], scope["path"]
        fields: Fields = []
        if self.passwords is not None and (method, path) in _PASSWORD_ROUTES:
            allowed, password_fields, seconds = self.passwords.hit((_ADDRESS, address))
            if not allowed:
                await _too_many(seconds, password_fields, scope, receive, send)
                return
            fields += password_fields
        requests = self.requests
        # Which budget: a credential on a public route is not looked at (authentication.py).
        credentialed = not is_public(method, path) and _has_credential(scope["headers"])
        key = (_REFUSED if credentialed else _ADDRESS, address)
        if requests is not None and (spent := requests.spent(key)) is not None:
            request_fields, seconds = spent
            await _too_many(seconds, fields + request_fields, scope, receive, send)
            return
        if requests is None and not fields:
            await self.app(scope, receive, send)
            return

        async def send_counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = fields
                # No verified caller by now: anonymous, or its credential was refused.
                if requests is not None and scope.get(CALLER_SCOPE_KEY) is None:
                    _allowed, request_fields, _seconds = requests.hit(key)
                    extra = extra + request_fields
                if extra:  # a verified caller's fields come from the caller layer
                    message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_counted)


class CallerRateLimitMiddleware:
    """Inside authentication: counts a verified caller's requests per user."""

    def __init__(self, app: ASGIApp, *, limits: RateLimits) -> None:
        self.app = app
        self.requests = limits.requests
        self.max_body_bytes = limits.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        caller: Caller | None = scope.get(CALLER_SCOPE_KEY)
        if (
            scope["type"] != "http"
            or self.requests is None
            or caller is None
            or scope["path"] in PROBE_PATHS
        ):
            await self.app(scope, receive, send)
            return
        cost = 1
        if (scope["method"], scope["path"]) == IMPORT_ROUTE:
            cost += (
                _declared_length(scope["headers"], self.max_body_bytes) // IMPORT_BYTES_PER_REQUEST
            )
        allowed, fields, seconds = self.requests.hit((_USER, caller.user_id), cost)
        if not allowed:
            await _too_many(seconds, fields, scope, receive, send)
            return

        async def send_with_fields(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *fields]
            await send(message)

        await self.app(scope, receive, send_with_fields)


async def _too_many(
    seconds: int, fields: Fields, scope: Scope, receive: Receive, send: Send
) -> None:
    response = problem_response(
        HTTPStatus.TOO_MANY_REQUESTS,
        slug="rate-limited",
        title="Too many requests",
        detail=f"Rate limit reached; retry in {seconds} s.",
        headers={"Retry-After": str(seconds)},
    )
    response.raw_headers += fields
    await response(scope, receive, send)


def _policy(name: str, setting: str) -> _Policy | None:
    return None if setting == RATE_LIMIT_OFF else _Policy(name, setting)


def _declared_length(headers: list[tuple[bytes, bytes]], otherwise: int) -> int:
    """The body's Content-Length, or `otherwise` when it has none (or an unreadable one)."""
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else otherwise
    return otherwise


def _has_credential(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name in _CREDENTIAL_HEADERS for name, _value in headers)
