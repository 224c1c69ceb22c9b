"""API tokens: create one with your password (POST), list yours (GET), revoke one (DELETE)."""

import datetime as dt

from fastapi import APIRouter, Request, Response

from todo_api import accounts
from todo_api.deps import (
    caller_of,
    database_of,
    password_attempts_of,
    settings_of,
    token_cache_of,
)
from todo_api.domain import clock
from todo_api.errors import InvalidField
from todo_api.repository import api_tokens as repository
from todo_api.repository.api_tokens import ApiToken
from todo_api.routes.openapi import AUTHENTICATED, INVALID, LOGIN, Responses
from todo_api.schemas import TokenCreate, TokenCreated, TokenRead

router = APIRouter(prefix="/tokens", tags=["accounts"])
NOT_FOUND: Responses = {404: {"description": "No such token (or not yours, or revoked)"}}


def token_read(token: ApiToken) -> TokenRead:
    return TokenRead(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        scopes=sorted(token.scopes),
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
    )


def expiry(requested: dt.datetime | None, default_days: int, max_days: int) -> dt.datetime:
    now = clock.now()
    if requested is None:
        return now + dt.timedelta(days=default_days)
    if requested <= now:
        raise InvalidField("expires_at", "must be in the future")
    if requested > now + dt.timedelta(days=max_days):
        raise InvalidField("expires_at", f"must be at most {max_days} days away")
    return requested


@router.post("", status_code=201, responses={**INVALID, **LOGIN})
async def create_token(request: Request, login: TokenCreate) -> TokenCreated:
    """A new token for `Authorization: Bearer …`. The secret `token` is shown only here."""
    settings = settings_of(request)
    expires_at = expiry(login.expires_at, settings.token_default_days, settings.token_max_days)
    database = database_of(request)
    password_attempts_of(request).count(login.username)
    user = await accounts.log_in(database, login.username, login.password)
    issued = await accounts.issue_token(
        database, user, name=login.name, scopes=frozenset(login.scopes), expires_at=expires_at
    )
    return TokenCreated(**token_read(issued.token).model_dump(), token=issued.secret)


@router.get("", responses=AUTHENTICATED)
async def list_tokens(request: Request) -> list[TokenRead]:
    """Your tokens that still work (without their secrets), oldest first."""
    caller = caller_of(request)
    found = await database_of(request).read(
        lambda connection: repository.list_tokens(connection, caller.user_id)
    )
    return [token_read(token) for token in found]


@router.delete("/{token_id}", status_code=204, responses={**AUTHENTICATED, **NOT_FOUND})
async def revoke_token(request: Request, token_id: int) -> Response:
    """Revoke a token: refused at once here, within 5 seconds by every other server process."""
    caller = caller_of(request)
    now = clock.now()
    await database_of(request).write(
        lambda connection: repository.revoke_token(connection, caller.user_id, token_id, now)
    )
    token_cache_of(request).forget(user_id=caller.user_id, token_id=token_id)
    return Response(status_code=204)
