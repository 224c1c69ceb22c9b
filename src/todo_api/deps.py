"""What a route needs besides its parameters, read off the request: database, caller, conditions.

These are plain accessors, not `Depends()` dependencies: FastAPI spends ~20 µs solving each
dependency, which on a point read is as much as the query itself (see docs/performance.md).
The lifespan puts the database in the request state; the caller is resolved once per request
by the authentication middleware at the edge (authentication.py), which leaves it in the scope.
"""

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.types import Scope

from todo_api.config import Settings
from todo_api.db import Database
from todo_api.domain.accounts import Caller
from todo_api.domain.versions import VersionCondition
from todo_api.errors import PreconditionRequired, Unauthenticated
from todo_api.etags import if_none_match_names, parse_if_match
from todo_api.password_attempts import PasswordAttempts
from todo_api.token_cache import TokenCache

CALLER_SCOPE_KEY = "todo_api.caller"  # set by authentication.AuthenticationMiddleware
# Beside the caller: whether the request's credential still holds, asked again by an answer
# that outlives the moment it was checked (GET /events). The edge's own lookup, not a second one.
CREDENTIAL_CHECK_SCOPE_KEY = "todo_api.credential_check"
# In the lifespan state: set when the server begins to stop (connection_limits.py), so that
# endless answers end at once instead of holding the shutdown until its timeout.
DRAINING_STATE_KEY = "draining"

CredentialCheck = Callable[[Scope, Caller], Awaitable[bool]]


def database_of(request: Request) -> Database:
    database: Database = request.state.database
    return database


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def caller_of(request: Request) -> Caller:
    """The caller the authentication middleware resolved (the local user when disabled)."""
    caller: Caller | None = request.scope.get(CALLER_SCOPE_KEY)
    if caller is None:  # a public route: only those run without a caller
        raise Unauthenticated("This needs a credential: a bearer token or a session.")
    return caller


def credential_check_of(request: Request) -> CredentialCheck | None:
    """How to ask whether this request's credential still holds (None: no credential was
    asked, as under TODO_AUTH=disabled)."""
    check: CredentialCheck | None = request.scope.get(CREDENTIAL_CHECK_SCOPE_KEY)
    return check


def draining_of(request: Request) -> asyncio.Event:
    """Set once the server has begun to shut down."""
    draining: asyncio.Event = getattr(request.state, DRAINING_STATE_KEY)
    return draining


def cursor_key_of(request: Request) -> bytes:
    """The key cursors are signed with (the lifespan derives it from TODO_SECRET_KEY)."""
    key: bytes = request.state.cursor_key
    return key


def token_cache_of(request: Request) -> TokenCache:
    cache: TokenCache = request.app.state.token_cache
    return cache


def password_attempts_of(request: Request) -> PasswordAttempts:
    attempts: PasswordAttempts = request.app.state.password_attempts
    return attempts


def version_condition(request: Request) -> VersionCondition | None:
    """The If-Match condition of a change; 428 when TODO_REQUIRE_IF_MATCH demands one."""
    header = request.headers.get("if-match")
    if header is None:
        if settings_of(request).require_if_match:
            raise PreconditionRequired(
                "Send If-Match with the ETag you last read (this server requires it)."
            )
        return None
    return parse_if_match(header)


def unchanged_for_client(request: Request, version: int) -> bool:
    """True when If-None-Match already names this version: answer 304."""
    header = request.headers.get("if-none-match")
    return header is not None and if_none_match_names(header, version)
