"""Rate limits at the edge (pure ASGI), with the `limits` library's fixed windows in memory.

Every request counts against TODO_RATE_LIMIT, per user when the authentication middleware
(outside this one) resolved a caller, else per client address. Password attempts (POST /users,
/tokens, /session; PATCH and DELETE /me) count besides against TODO_PASSWORD_RATE_LIMIT per
address. Past a limit: 429 problem with Retry-After. Every limited answer carries the IETF
draft's `RateLimit-Policy` and `RateLimit` fields.

The counters live in each process: with N workers or replicas a client gets up to N times the
limit. A shared storage (`limits` speaks Redis, Memcached, MongoDB) makes them exact; the
PostgreSQL and replicas work is where that lands (docs/security.md).
"""

import time
from http import HTTPStatus

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_api.config import Settings
from todo_api.deps import CALLER_SCOPE_KEY
from todo_api.domain.accounts import Caller
from todo_api.problems import problem_response

RATE_LIMIT_OFF = "off"
_PASSWORD_ROUTES = frozenset(
    {
        ("POST", "/users"),
        ("POST", "/tokens"),
        ("POST", "/session"),
        ("PATCH", "/me"),
        ("DELETE", "/me"),
    }
)


class _Policy:
    """One limit, its name in the RateLimit fields, and its counters."""

    def __init__(self, name: str, limit: RateLimitItem, limiter: FixedWindowRateLimiter) -> None:
        self.name = name
        self.limit = limit
        self.limiter = limiter
        self.policy_field = f'"{name}";q={limit.amount};w={limit.get_expiry()}'.encode()

    def hit(self, key: str) -> tuple[bool, bytes, int]:
        """(allowed, the RateLimit field, seconds until the window resets)."""
        allowed = self.limiter.hit(self.limit, key)
        reset_at, remaining = self.limiter.get_window_stats(self.limit, key)
        seconds = max(1, round(reset_at - time.time()))
        return allowed, f'"{self.name}";r={remaining};t={seconds}'.encode(), seconds


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        limiter = FixedWindowRateLimiter(MemoryStorage())
        self.requests = _policy("requests", settings.rate_limit, limiter)
        self.passwords = _policy("passwords", settings.password_rate_limit, limiter)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.requests is None and self.passwords is None):
            await self.app(scope, receive, send)
            return
        caller: Caller | None = scope.get(CALLER_SCOPE_KEY)
        client = scope.get("client")
        address = client[0] if client else "unknown"
        checks = []
        if self.requests is not None:
            key = f"user:{caller.user_id}" if caller is not None else f"address:{address}"
            checks.append((self.requests, key))
        if self.passwords is not None and (scope["method"], scope["path"]) in _PASSWORD_ROUTES:
            checks.append((self.passwords, f"address:{address}"))
        headers: list[tuple[bytes, bytes]] = []
        refused_for = 0
        for policy, key in checks:
            allowed, field, seconds = policy.hit(key)
            headers += [(b"ratelimit-policy", policy.policy_field), (b"ratelimit", field)]
            if not allowed:
                refused_for = max(refused_for, seconds)
        if refused_for:
            response = problem_response(
                HTTPStatus.TOO_MANY_REQUESTS,
                slug="rate-limited",
                title="Too many requests",
                detail=f"Rate limit reached; retry in {refused_for} s.",
                headers={"Retry-After": str(refused_for)},
            )
            response.raw_headers += headers
            await response(scope, receive, send)
            return

        async def send_with_fields(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_fields)


def _policy(name: str, setting: str, limiter: FixedWindowRateLimiter) -> _Policy | None:
    return None if setting == RATE_LIMIT_OFF else _Policy(name, parse(setting), limiter)
