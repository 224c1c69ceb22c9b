"""Liveness and readiness. (`/`, the service's front door, is routes/web.py.)"""

from fastapi import APIRouter, Request, Response

from todo_api.deps import database_of
from todo_api.migrate import has_every_migration
from todo_api.problems import problem_response
from todo_api.schemas import Health

router = APIRouter(tags=["service"])


@router.get("/health")
async def health() -> Health:
    """Liveness: the process answers. Touches nothing else."""
    return Health(status="ok")


@router.get("/ready", response_model=Health, responses={503: {"description": "Not ready"}})
async def ready(request: Request) -> Response | Health:
    """Readiness: the database answers, is the file the service opened, has every migration
    applied (or a newer release's too, mid rolling upgrade) and room to write."""
    reason = await database_of(request).not_ready_because(has_every_migration)
    if reason is not None:
        return problem_response(503, detail=reason)
    return Health(status="ready")
