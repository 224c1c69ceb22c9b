"""Accounts: register (POST /users), and your own account (GET, PATCH, DELETE /me)."""

from fastapi import APIRouter, Request, Response

from todo_api import accounts, credentials
from todo_api.deps import (
    caller_of,
    database_of,
    password_attempts_of,
    settings_of,
    token_cache_of,
)
from todo_api.errors import Forbidden, InvalidField
from todo_api.repository import users as repository
from todo_api.repository.users import User
from todo_api.routes.openapi import AUTHENTICATED, INVALID, Responses
from todo_api.schemas import AccountDelete, PasswordChange, UserCreate, UserRead

router = APIRouter(tags=["accounts"])
TAKEN: Responses = {409: {"description": "The username is taken (usernames ignore case)"}}
MALFORMED: Responses = {400: {"description": "The body is not valid JSON"}}
CLOSED: Responses = {403: {"description": "Registration is closed (TODO_REGISTRATION=closed)"}}


def user_read(user: User) -> UserRead:
    return UserRead(id=user.id, username=user.username, created_at=user.created_at)


@router.post("/users", status_code=201, responses={**INVALID, **TAKEN, **CLOSED})
async def create_user(request: Request, user: UserCreate) -> UserRead:
    """Register. The password: 12+ characters, not on the list of common ones."""
    if settings_of(request).registration == "closed":
        raise Forbidden("Registration is closed; an operator creates accounts (todo-api user).")
    created = await accounts.register(database_of(request), user.username, user.password)
    return user_read(created)


@router.get("/me", responses=AUTHENTICATED)
async def read_me(request: Request) -> UserRead:
    """Your account."""
    caller = caller_of(request)
    user = await database_of(request).read(
        lambda connection: repository.get_user(connection, caller.user_id)
    )
    return user_read(user)


@router.patch("/me", responses={**AUTHENTICATED, **INVALID})
async def change_password(request: Request, change: PasswordChange) -> UserRead:
    """Change your password (the current one is needed); optionally revoke every other token
    and session."""
    caller = caller_of(request)
    database = database_of(request)
    password_attempts_of(request).count_user(caller.user_id)
    user = await accounts.check_password(
        database, caller.user_id, change.current_password, "current_password"
    )
    if change.new_password == change.current_password:
        raise InvalidField("new_password", "must differ from the current password")
    revoke = caller if change.revoke_other_credentials else None
    await accounts.change_password(database, user, change.new_password, revoke_others_than=revoke)
    if revoke is not None:
        token_cache_of(request).forget(user_id=user.id)
    return user_read(user)


@router.delete("/me", status_code=204, responses={**AUTHENTICATED, **INVALID, **MALFORMED})
async def delete_me(request: Request, confirmation: AccountDelete) -> Response:
    """Delete your account and everything in it: lists, todos, tokens, sessions. Needs your
    password."""
    caller = caller_of(request)
    database = database_of(request)
    password_attempts_of(request).count_user(caller.user_id)
    await accounts.check_password(database, caller.user_id, confirmation.password, "password")
    await database.write(
        lambda connection: repository.delete_user(connection, caller.user_id), long=True
    )  # a whole account's rows: never on the event loop
    token_cache_of(request).forget(user_id=caller.user_id)
    response = Response(status_code=204)
    response.delete_cookie(credentials.SESSION_COOKIE, httponly=True, samesite="lax")
    return response
