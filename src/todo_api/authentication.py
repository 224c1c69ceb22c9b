"""The one enforcement point: who is asking, resolved once at the edge for every request.

A pure-ASGI middleware reads `Authorization: Bearer todo_…` or the session cookie, checks it,
and puts the `Caller` in the ASGI scope (`CALLER_SCOPE_KEY`); `deps.caller_of` reads it there.
The fast lane and FastAPI both sit inside, so neither has auth code of its own. Everything a
credential may not do is answered here: 401 (no valid credential), 403 (a read-only token
writing, or a cookie-authenticated change without its CSRF token). The public routes
(`domain.accounts.PUBLIC_ROUTES`) pass without their credentials being looked at.

Verified tokens are cached by hash for a few seconds (token_cache.py), so the hot path costs
no query.

An answer that outlives its request's check (GET /events, an endless stream) asks again through
`still_holds`, left in the scope beside the caller: the same lookups, so signing out, a revoked
token, a deleted user or a changed password ends it too (docs/security.md gives the bounds).
"""

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Iterable
from http.cookies import CookieError, SimpleCookie

from starlette.types import ASGIApp, Receive, Scope, Send

from todo_api import credentials
from todo_api.config import Settings
from todo_api.db import Database, UnitOfWork
from todo_api.deps import CALLER_SCOPE_KEY, CREDENTIAL_CHECK_SCOPE_KEY
from todo_api.domain import clock
from todo_api.domain.accounts import SAFE_METHODS, Caller, CredentialKind, is_public, permits
from todo_api.errors import Forbidden, Unauthenticated
from todo_api.logs import LOGGER_NAME
from todo_api.problems import problem_response
from todo_api.repository import api_tokens, browser_sessions
from todo_api.tables import LOCAL_USER_ID
from todo_api.token_cache import TokenCache

CSRF_HEADER = b"x-csrf-token"
# last_used_at and a session's last_seen_at are written at most this often: a write per request
# would serialize every read behind the write lock.
USE_NOTE_INTERVAL = dt.timedelta(minutes=1)
LOCAL_CALLER = Caller(user_id=LOCAL_USER_ID)

MISSING_CREDENTIAL = Unauthenticated(
    "Send `Authorization: Bearer <token>` (POST /tokens) or log in (POST /session)."
)
READ_ONLY = Forbidden("This token's scope does not allow changes; it is read-only.")
logger = logging.getLogger(f"{LOGGER_NAME}.auth")


class AuthenticationMiddleware:
    """Resolves the caller (TODO_AUTH=required) or names the local user (disabled)."""

    def __init__(self, app: ASGIApp, *, settings: Settings, token_cache: TokenCache) -> None:
        self.app = app
        self.required = settings.auth == "required"
        self.token_cache = token_cache
        self.session_idle = dt.timedelta(minutes=settings.session_idle_minutes)
        self._notes: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.required:
            scope[CALLER_SCOPE_KEY] = LOCAL_CALLER
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if is_public(method, path):
            # Not even looked up: a stale or read-only credential must not stop a new login,
            # a registration or a logout, and costs no query.
            await self.app(scope, receive, send)
            return
        try:
            caller = await self._caller(scope)
        except (Unauthenticated, Forbidden) as error:
            await _refuse(error, scope, receive, send)
            return
        if caller is None:
            await _refuse(MISSING_CREDENTIAL, scope, receive, send)
            return
        if not permits(caller, method, path):
            await _refuse(READ_ONLY, scope, receive, send)
            return
        # Only a caller that may pass is in the scope: rate_limit.py counts every other
        # request against its address.
        scope[CALLER_SCOPE_KEY] = caller
        scope[CREDENTIAL_CHECK_SCOPE_KEY] = self.still_holds
        await self.app(scope, receive, send)

    async def still_holds(self, scope: Scope, caller: Caller) -> bool:
        """Whether the credential `scope` came with is still accepted, as `caller`: the edge's
        own lookups again (a token through the cache), without noting a use, so that an open
        stream is not activity that keeps a session from going idle."""
        try:
            again = await self._caller(scope, note_use=False)
        except (Unauthenticated, Forbidden):
            return False
        return again == caller

    def _note(self, database: Database, work: UnitOfWork[None]) -> None:
        """Record a use without making the request wait for the write lock: a GET must not
        queue behind writers, nor fail when the lock is busy. Best effort, by design."""
        task = asyncio.create_task(_best_effort(database, work))
        self._notes.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._notes.discard)

    async def _caller(self, scope: Scope, *, note_use: bool = True) -> Caller | None:
        authorization, cookie, csrf = _credential_headers(scope["headers"])
        database: Database = scope["state"]["database"]
        if authorization is not None:
            return await self._token_caller(database, authorization, note_use)
        if cookie is not None:
            return await self._session_caller(database, cookie, csrf, scope["method"], note_use)
        return None

    async def _token_caller(
        self, database: Database, authorization: bytes, note_use: bool
    ) -> Caller:
        scheme, _, value = authorization.decode("latin-1").partition(" ")
        token = value.strip()
        if scheme.lower() != "bearer" or not credentials.is_token_shaped(token):
            raise Unauthenticated("The Authorization header must be `Bearer todo_…`.")
        token_hash = credentials.secret_hash(token)
        cached = self.token_cache.get(token_hash)
        if cached is not None:
            return cached
        now = clock.now()
        # Taken before the read: the cache entry's 5 s count from before the snapshot, so a
        # revocation committed during the read is refused within 5 s of its commit.
        read_at = time.monotonic()
        found = await database.read(
            lambda connection: api_tokens.find_live_token(connection, token_hash, now)
        )
        if found is None:
            raise Unauthenticated("The token is unknown, expired or revoked.")
        caller = Caller(found.owner_id, found.scopes, CredentialKind.TOKEN, found.id)
        self.token_cache.put(token_hash, caller, found.expires_at, verified_at=read_at)
        if note_use and (
            found.last_used_at is None or now - found.last_used_at > USE_NOTE_INTERVAL
        ):
            self._note(database, lambda connection: api_tokens.note_use(connection, found.id, now))
        return caller

    async def _session_caller(
        self, database: Database, cookie: bytes, csrf: bytes | None, method: str, note_use: bool
    ) -> Caller | None:
        session_secret = _cookie_value(cookie, credentials.SESSION_COOKIE)
        if session_secret is None:
            return None
        now = clock.now()
        found = await database.read(
            lambda connection: browser_sessions.find_live_session(
                connection, credentials.secret_hash(session_secret), now, now - self.session_idle
            )
        )
        if found is None:
            raise Unauthenticated("The session has expired or ended; log in again.")
        if method not in SAFE_METHODS and not (
            csrf is not None and credentials.same_secret(csrf.decode("latin-1"), found.csrf_hash)
        ):
            raise Forbidden(
                "A change made with the session cookie needs the session's CSRF token in "
                "the X-CSRF-Token header (docs/security.md)."
            )
        if note_use and now - found.last_seen_at > USE_NOTE_INTERVAL:
            self._note(
                database, lambda connection: browser_sessions.note_seen(connection, found.id, now)
            )
        return Caller(found.owner_id, kind=CredentialKind.SESSION, credential_id=found.id)


async def _best_effort(database: Database, work: UnitOfWork[None]) -> None:
    try:
        await database.write(work)
    except Exception:  # a busy or full database: the next use notes it again
        logger.debug("could not note a credential's use", exc_info=True)


async def _refuse(
    error: Unauthenticated | Forbidden, scope: Scope, receive: Receive, send: Send
) -> None:
    response = problem_response(
        error.status, slug=error.slug, title=error.title, detail=error.detail, headers=error.headers
    )
    await response(scope, receive, send)


def _credential_headers(
    headers: Iterable[tuple[bytes, bytes]],
) -> tuple[bytes | None, bytes | None, bytes | None]:
    authorization = cookie = csrf = None
    for name, value in headers:
        if name == b"authorization":
            authorization = value
        elif name == b"cookie":
            cookie = value
        elif name == CSRF_HEADER:
            csrf = value
    return authorization, cookie, csrf


def _cookie_value(header: bytes, name: str) -> str | None:
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(header.decode("latin-1"))
    except CookieError:
        return None
    morsel = cookies.get(name)
    return None if morsel is None else morsel.value


def warn_when_disabled(settings: Settings) -> None:
    """TODO_AUTH=disabled hands everything to whoever can reach the port: say so loudly."""
    if settings.auth != "disabled":
        return
    if settings.binds_loopback_only():
        logger.warning(
            "TODO_AUTH=disabled: no credentials are asked; every request acts as the local "
            "user. Fine on this machine only."
        )
    else:
        logger.error(
            "TODO_AUTH=disabled while listening on %s: ANYONE WHO CAN REACH THIS PORT CAN READ, "
            "CHANGE AND DELETE EVERY TODO. Set TODO_AUTH=required (docs/security.md).",
            settings.host,
        )
