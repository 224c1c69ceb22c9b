"""Exempting a served process's start-up objects from the cyclic garbage collector.

The objects built at start-up (the app, its routes, models, SQLAlchemy's compiled statements)
live as long as the process, yet each full collection scanned all of them again: freezing them
once start-up is done took a POST from 467 µs to 437 µs (docs/performance.md). Only `serve`
asks for this; the collection before the freeze costs ~0.1 s in a big process, which tests that
start hundreds of apps should not pay.
"""

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI

Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


def freeze_after_startup(app: FastAPI) -> FastAPI:
    """Make `app`'s lifespan freeze what start-up built, and unfreeze it at shutdown.

    Start-up garbage is collected first, so none of it is kept; the lifespan runs in each worker
    process, after that worker has built its own app and opened its database.
    """
    startup: Lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(lifespan_app: Any) -> AsyncIterator[Any]:
        async with startup(lifespan_app) as state:
            gc.collect()
            gc.freeze()
            try:
                yield state
            finally:
                gc.unfreeze()  # what was frozen becomes collectable again with the app gone

    app.router.lifespan_context = lifespan
    return app
