"""SQL for API tokens: stored as a SHA-256 of the secret, found by that hash."""

import datetime as dt
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from todo_api.domain.accounts import Scope
from todo_api.domain.ids import is_storable_id
from todo_api.errors import TokenNotFound
from todo_api.repository.access import Action, reachable
from todo_api.tables import api_tokens


class ApiToken(NamedTuple):
    id: int
    owner_id: int
    name: str | None
    prefix: str
    scopes: frozenset[Scope]
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None


_COLUMNS = [api_tokens.c[name] for name in ApiToken._fields]
_LIVE = api_tokens.c.revoked_at.is_(None)


def _token(row: sa.Row[tuple[object, ...]]) -> ApiToken:
    values = row._asdict()
    values["scopes"] = frozenset(Scope(scope) for scope in str(values["scopes"]).split())
    return ApiToken(**values)


def create_token(
    connection: Connection,
    owner_id: int,
    *,
    token_hash: str,
    prefix: str,
    name: str | None,
    scopes: frozenset[Scope],
    now: dt.datetime,
    expires_at: dt.datetime,
) -> ApiToken:
    row = connection.execute(
        sa.insert(api_tokens)
        .values(
            owner_id=owner_id,
            token_hash=token_hash,
            prefix=prefix,
            name=name,
            scopes=" ".join(sorted(scopes)),
            created_at=now,
            expires_at=expires_at,
        )
        .returning(*_COLUMNS)
    ).one()
    return _token(row)


def find_live_token(connection: Connection, token_hash: str, now: dt.datetime) -> ApiToken | None:
    """The token with this hash, unless it was revoked or has expired."""
    row = connection.execute(
        sa.select(*_COLUMNS).where(
            api_tokens.c.token_hash == token_hash, _LIVE, api_tokens.c.expires_at > now
        )
    ).one_or_none()
    return None if row is None else _token(row)


def list_tokens(connection: Connection, owner_id: int) -> list[ApiToken]:
    rows = connection.execute(
        sa.select(*_COLUMNS)
        .where(reachable(api_tokens, owner_id), _LIVE)
        .order_by(api_tokens.c.created_at, api_tokens.c.id)
    )
    return [_token(row) for row in rows]


def revoke_token(connection: Connection, owner_id: int, token_id: int, now: dt.datetime) -> None:
    """Another user's token, or one already revoked, is not found."""
    if is_storable_id(token_id):
        revoked = connection.execute(
            sa.update(api_tokens)
            .where(
                api_tokens.c.id == token_id, reachable(api_tokens, owner_id, Action.WRITE), _LIVE
            )
            .values(revoked_at=now)
        ).rowcount
        if revoked:
            return
    raise TokenNotFound(token_id)


def revoke_all_tokens(
    connection: Connection, owner_id: int, now: dt.datetime, *, except_id: int | None
) -> None:
    condition = sa.and_(reachable(api_tokens, owner_id, Action.WRITE), _LIVE)
    if except_id is not None:
        condition = sa.and_(condition, api_tokens.c.id != except_id)
    connection.execute(sa.update(api_tokens).where(condition).values(revoked_at=now))


def note_use(connection: Connection, token_id: int, now: dt.datetime) -> None:
    connection.execute(
        sa.update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now)
    )
