"""Which rows a caller reaches: the one place queries are scoped to the caller.

Every query that reads or changes a user's rows (todos, lists, tags, tokens, sessions,
idempotency keys, the export) takes its WHERE clause from `reachable`, so another user's
anything is simply not there: not found (404), never forbidden. Today a user reaches exactly
their own rows, whatever the action. Sharing lists (ROADMAP) changes this function (a list's
rows also reachable by its members, `READ` for viewers, `WRITE` for editors), not the queries.

The other half of authorization, what a credential may do at all (a `read` token writing), is
`domain.accounts.permits`, checked once at the edge.
"""

from enum import StrEnum
from typing import Any

import sqlalchemy as sa


class Action(StrEnum):
    READ = "read"
    WRITE = "write"


def reachable(
    table: sa.Table, caller_id: "int | sa.BindParameter[Any]", action: Action = Action.READ
) -> sa.ColumnElement[bool]:
    """The rows of `table` the user `caller_id` (an id, or a bind parameter) may `action`."""
    del action  # every action reaches the same rows until lists are shared
    clause: sa.ColumnElement[bool] = table.c.owner_id == caller_id
    return clause
