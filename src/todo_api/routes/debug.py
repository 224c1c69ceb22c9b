"""Routes for tests and demonstrations only; mounted when TODO_DEBUG_ROUTES=true."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

router = APIRouter(prefix="/debug", tags=["debug"], include_in_schema=False)
MAX_SLEEP_SECONDS = 30.0


@router.get("/sleep")
async def sleep(seconds: Annotated[float, Query(ge=0, le=MAX_SLEEP_SECONDS)]) -> dict[str, float]:
    """A slow request on demand, to show that shutdown lets in-flight requests finish."""
    await asyncio.sleep(seconds)
    return {"slept": seconds}
