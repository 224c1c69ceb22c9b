"""Account work of several steps: register, log in, issue tokens and sessions, change or drop
a password. Password hashing (~160 ms of CPU) runs on a thread; the database work in units of
work."""

import asyncio
import datetime as dt
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from todo_api import credentials, passwords
from todo_api.db import Database
from todo_api.domain import clock
from todo_api.domain.accounts import Caller, CredentialKind, Scope
from todo_api.errors import InvalidCredentials, InvalidField
from todo_api.repository import api_tokens, browser_sessions, users
from todo_api.repository.api_tokens import ApiToken
from todo_api.repository.users import User


def check_new_password(password: str, username: str, field: str = "password") -> None:
    problem = passwords.password_problem(password, username)
    if problem is not None:
        raise InvalidField(field, problem)


async def register(database: Database, username: str, password: str) -> User:
    check_new_password(password, username)
    password_hash = await asyncio.to_thread(passwords.hash_password, password)
    now = clock.now()
    return await database.write(
        lambda connection: users.create_user(connection, username, password_hash, now)
    )


async def log_in(database: Database, username: str, password: str) -> User:
    """The user these credentials name; InvalidCredentials (401) otherwise. An unknown user
    costs the same hashing as a wrong password, so timing does not tell which usernames exist."""
    user = await database.read(lambda connection: users.find_by_username(connection, username))
    stored = user.password_hash if user is not None else None
    if not await asyncio.to_thread(passwords.verify_password, stored, password):
        raise InvalidCredentials
    assert user is not None and stored is not None  # verify_password is False without a hash
    if passwords.needs_rehash(stored):  # the parameters changed since it was hashed
        fresh = await asyncio.to_thread(passwords.hash_password, password)
        await database.write(lambda connection: users.set_password_hash(connection, user.id, fresh))
    return user


async def check_password(database: Database, user_id: int, password: str, field: str) -> User:
    """For a change that needs the current password: a wrong one is a 422 on `field`."""
    user = await database.read(lambda connection: users.get_user(connection, user_id))
    if not await asyncio.to_thread(passwords.verify_password, user.password_hash, password):
        raise InvalidField(field, "is not the current password")
    return user


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: the secret is here, and nowhere else, ever again."""

    secret: str
    token: ApiToken


async def issue_token(
    database: Database,
    user: User,
    *,
    name: str | None,
    scopes: frozenset[Scope],
    expires_at: dt.datetime,
) -> IssuedToken:
    secret = credentials.new_token()
    now = clock.now()
    token = await database.write(
        lambda connection: api_tokens.create_token(
            connection,
            user.id,
            token_hash=credentials.secret_hash(secret),
            prefix=secret[: credentials.DISPLAY_PREFIX_LENGTH],
            name=name,
            scopes=scopes,
            now=now,
            expires_at=expires_at,
        )
    )
    return IssuedToken(secret, token)


@dataclass(frozen=True, slots=True)
class OpenedSession:
    session_secret: str  # the cookie's value
    csrf_token: str  # sent back in X-CSRF-Token on unsafe requests
    expires_at: dt.datetime


async def open_session(database: Database, user: User, lifetime: dt.timedelta) -> OpenedSession:
    opened = OpenedSession(
        credentials.new_session_secret(), credentials.new_session_secret(), clock.now() + lifetime
    )
    now = clock.now()
    await database.write(
        lambda connection: browser_sessions.create_session(
            connection,
            user.id,
            session_hash=credentials.secret_hash(opened.session_secret),
            csrf_hash=credentials.secret_hash(opened.csrf_token),
            now=now,
            expires_at=opened.expires_at,
        )
    )
    return opened


async def change_password(
    database: Database, user: User, new_password: str, *, revoke_others_than: Caller | None
) -> None:
    """Set a new password. With `revoke_others_than`, every token and session of the user but
    that caller's own credential is revoked too (after a suspected leak)."""
    check_new_password(new_password, user.username, "new_password")
    fresh = await asyncio.to_thread(passwords.hash_password, new_password)
    now = clock.now()

    def change(connection: Connection) -> None:
        users.set_password_hash(connection, user.id, fresh)
        if revoke_others_than is not None:
            kind, kept = revoke_others_than.kind, revoke_others_than.credential_id
            api_tokens.revoke_all_tokens(
                connection, user.id, now, except_id=kept if kind == CredentialKind.TOKEN else None
            )
            browser_sessions.delete_sessions_of(
                connection, user.id, except_id=kept if kind == CredentialKind.SESSION else None
            )

    await database.write(change)
