"""What a route needs besides its parameters, read off the request: database, caller, conditions.

These are plain accessors, not `Depends()` dependencies: FastAPI spends ~20 µs solving each
dependency, which on a point read is as much as the query itself (see docs/performance.md).
The lifespan puts the database in the request state; the caller is resolved here once per
request, so accounts can later resolve it from a token in one place.
"""

from dataclasses import dataclass

from starlette.requests import Request

from todo_api.config import Settings
from todo_api.db import Database
from todo_api.domain.versions import VersionCondition
from todo_api.errors import PreconditionRequired
from todo_api.etags import if_none_match_names, parse_if_match
from todo_api.tables import LOCAL_USER_ID


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking. Every repository call is scoped to `user_id`."""

    user_id: int


LOCAL_CALLER = Caller(user_id=LOCAL_USER_ID)


def database_of(request: Request) -> Database:
    database: Database = request.state.database
    return database


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def caller_of(request: Request) -> Caller:
    # TODO_AUTH=disabled (the only mode until accounts land): one implicit local user.
    return LOCAL_CALLER


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
