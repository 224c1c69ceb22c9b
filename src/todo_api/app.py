"""The application factory. Nothing happens at import time; the lifespan opens the database."""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from todo_api import __version__, tracing
from todo_api.authentication import AuthenticationMiddleware, warn_when_disabled
from todo_api.change_feed_pruner import pruning
from todo_api.config import Settings
from todo_api.db import open_database, pool_limits
from todo_api.deps import DRAINING_STATE_KEY
from todo_api.metrics_middleware import MetricsMiddleware
from todo_api.middleware import (
    AllowedHostsMiddleware,
    BodySizeLimitMiddleware,
    HeadAsGetMiddleware,
    PublicUrlMiddleware,
    RequestContextMiddleware,
)
from todo_api.migrate import upgrade_to_head
from todo_api.openapi_document import install_openapi
from todo_api.pagination import cursor_signing_key
from todo_api.password_attempts import PasswordAttempts
from todo_api.performance.fast_lane import FastLane
from todo_api.performance.gc_freeze import freeze_after_startup
from todo_api.problems import install_error_handlers
from todo_api.rate_limit import (
    AddressRateLimitMiddleware,
    CallerRateLimitMiddleware,
    RateLimits,
)
from todo_api.routes import (
    debug,
    events,
    health,
    import_export,
    lists,
    session,
    tags,
    todos,
    tokens,
    users,
)
from todo_api.routes.docs import docs_router
from todo_api.routes.web import web_router
from todo_api.secret_key import secret_key
from todo_api.security_headers import SecurityHeadersMiddleware
from todo_api.token_cache import TokenCache
from todo_api.web_assets import WebAssets
from todo_api.worker_process import exit_with_parent

TITLE = "todo-api"
EXPOSED_HEADERS = [
    "Content-Disposition",
    "ETag",
    "Idempotent-Replayed",
    "Link",
    "Location",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
    "WWW-Authenticate",
    "X-Request-ID",
]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the ASGI app. Without `settings`, reads them from the environment (for workers)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        exit_with_parent()
        warn_when_disabled(settings)
        database = open_database(settings.database_url, pool_limits(settings))
        # Idempotent and serialized (SQLite's write lock, PostgreSQL's advisory lock): safe with
        # several workers and replicas.
        upgrade_to_head(database.engine)
        retention = dt.timedelta(hours=settings.events_retention_hours)
        try:
            cursor_key = cursor_signing_key(secret_key(settings))
            async with pruning(database, retention):
                yield {  # become request.state.*
                    "database": database,
                    "cursor_key": cursor_key,
                    DRAINING_STATE_KEY: asyncio.Event(),  # set as the server stops
                }
        finally:
            database.close()

    # The web app's files, read and compressed once per app (web_assets.py); the page knows
    # whether to ask who is there, and whether to offer signing up.
    web = WebAssets.load(auth=settings.auth, registration=settings.registration)
    routers = [
        web_router(web),
        health.router,
        todos.router,
        todos.count_router,
        lists.router,
        tags.router,
        import_export.router,
        docs_router(TITLE),
        users.router,
        tokens.router,
        session.router,
        events.router,
    ]
    if settings.debug_routes:
        routers.append(debug.router)
    app = FastAPI(
        # The routes go in flat: FastAPI matches an included router as a nested branch, which
        # costs ~30 µs a request (docs/performance.md).
        routes=[route for router in routers for route in router.routes],
        title=TITLE,
        version=__version__,
        summary="A todo-list service that runs the same on a laptop and in Kubernetes.",
        lifespan=lifespan,
        # Served by docs_router from local assets instead of FastAPI's CDN-backed pages.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.token_cache = TokenCache()
    app.state.open_streams = events.OpenStreams()
    app.state.password_attempts = PasswordAttempts(settings.password_rate_limit)
    install_error_handlers(app)
    install_openapi(app, auth_required=settings.auth == "required")

    # Added innermost first: the request context wraps everything, so even a 413 has an id;
    # the fast lane sits inside the body limit, CORS and the request context like a route.
    app.add_middleware(FastLane, routes=app.routes)
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    # Who is asking, once, before the fast lane and FastAPI (authentication.py); inside CORS,
    # so a preflight needs no credential, and inside the request context, so a 401 is logged.
    # Rate limits on both sides of it (rate_limit.py): per user inside, once the caller is
    # verified; per address outside, for everything else, before any credential is looked up.
    rate_limits = RateLimits(settings)
    app.add_middleware(CallerRateLimitMiddleware, limits=rate_limits)
    app.add_middleware(
        AuthenticationMiddleware, settings=settings, token_cache=app.state.token_cache
    )
    app.add_middleware(AddressRateLimitMiddleware, limits=rate_limits)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=EXPOSED_HEADERS,
            # No cookies or HTTP auth cross-origin: with `*` that would let any site act as
            # the user. Never turn it on beside a wildcard origin.
            allow_credentials=False,
            # Only on request: it lets public pages (the Todo-Backend spec runner) call a
            # server on the visitor's own machine or network.
            allow_private_network=settings.cors_allow_private_network,
        )
    if settings.public_url:
        app.add_middleware(PublicUrlMiddleware, public_url=settings.public_url)
    # Before CORS: a rebound page's preflight is refused too.
    if (host_names := settings.allowed_host_names()) is not None:
        app.add_middleware(AllowedHostsMiddleware, host_names=host_names)
    # On every answer: a 401, a 429, a CORS preflight and a refused Host included.
    app.add_middleware(SecurityHeadersMiddleware)
    tracing.start_from_environment()
    if tracing.tracer is not None:  # off: not in the app, nor even imported, so it costs nothing
        from todo_api.tracing_middleware import TracingMiddleware

        app.add_middleware(TracingMiddleware, tracer=tracing.tracer)
    app.add_middleware(RequestContextMiddleware, access_log=settings.access_log)
    # Outermost: every request is counted, whichever layer answers it.
    # Metrics are answered before authentication, so the API's port serves them only when it
    # has no accounts; with TODO_AUTH=required they are on TODO_METRICS_PORT (docs/security.md).
    metrics_on_api_port = settings.metrics_port is None and settings.auth == "disabled"
    app.add_middleware(MetricsMiddleware, serve_metrics=metrics_on_api_port)
    return app


def create_served_app(settings: Settings | None = None) -> FastAPI:
    """The app as `todo-api serve` runs it: `create_app`, plus freezing what start-up built
    (performance/gc_freeze.py). Uvicorn's workers call this factory, each in its process."""
    return freeze_after_startup(create_app(settings))
