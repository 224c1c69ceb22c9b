"""The /tags resource: your tags with how many todos carry each."""

from fastapi import APIRouter, Request

from todo_api.deps import caller_of, database_of
from todo_api.repository import tags as repository
from todo_api.routes.openapi import AUTHENTICATED
from todo_api.schemas import TagRead

router = APIRouter(prefix="/tags", tags=["tags"], responses=AUTHENTICATED)


@router.get("")
async def list_tags(request: Request) -> list[TagRead]:
    """Your tags (any case counts as one), alphabetically, with their todo counts."""
    caller = caller_of(request)
    counts = await database_of(request).read(
        lambda connection: repository.list_tags(connection, caller.user_id)
    )
    return [TagRead(name=name, count=count) for name, count in counts]
