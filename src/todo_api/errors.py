"""One error hierarchy: what went wrong, with the HTTP status and problem type it answers as.

Domain and repository code raise an `AppError` subclass; `todo_api.problems` renders it (and
request-validation and Starlette's HTTP errors) as RFC 9457 problem+json in one place. This
module imports no web framework, so every layer can raise these.
"""

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any


def dotted_location(loc: Sequence[Any]) -> str:
    """Where an error is, as a client reads it: `body.todos.3.title`."""
    return ".".join(str(part) for part in loc)


class AppError(Exception):
    """An error a client caused or must know about; subclasses fix the status and type."""

    status = HTTPStatus.BAD_REQUEST
    slug = "bad-request"
    title = "Bad request"
    # True for an error raised because a concurrent transaction committed first, which the same
    # unit run again in a new transaction would not meet (db_postgres retries those).
    retry_in_new_transaction = False

    def __init__(self, detail: str, *, errors: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)

    @property
    def headers(self) -> dict[str, str]:
        """Response headers the error's status calls for (Retry-After on a 503, say)."""
        return {}


class NotFound(AppError):
    status = HTTPStatus.NOT_FOUND
    slug = "not-found"
    title = "Not found"


class TodoNotFound(NotFound):
    def __init__(self, todo_id: int) -> None:
        super().__init__(f"There is no todo with id {todo_id}.")


class ListNotFound(NotFound):
    def __init__(self, list_id: int) -> None:
        super().__init__(f"There is no list with id {list_id}.")


class Conflict(AppError):
    status = HTTPStatus.CONFLICT
    slug = "conflict"
    title = "Conflict"


class PreconditionFailed(AppError):
    """If-Match named a version that is no longer current: someone else changed it first."""

    status = HTTPStatus.PRECONDITION_FAILED
    slug = "precondition-failed"
    title = "Precondition failed"


class PreconditionRequired(AppError):
    """TODO_REQUIRE_IF_MATCH is on and the request changes a resource without If-Match."""

    status = HTTPStatus.PRECONDITION_REQUIRED
    slug = "precondition-required"
    title = "Precondition required"


class DatabaseBusy(AppError):
    """Another process held the database's write lock for longer than a writer waits."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    slug = "database-busy"
    title = "Database busy"
    RETRY_AFTER_SECONDS = 1

    def __init__(self) -> None:
        super().__init__(
            "The database is busy with another writer; nothing was changed. Retry shortly."
        )

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.RETRY_AFTER_SECONDS)}


class DatabaseUnavailable(AppError):
    """PostgreSQL cannot be reached, has no free connection, or a statement ran past its timeout."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    slug = "database-unavailable"
    title = "Database unavailable"
    RETRY_AFTER_SECONDS = 1

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.RETRY_AFTER_SECONDS)}


class StorageFull(AppError):
    """The disk holding the database is full: the write was rolled back whole."""

    status = HTTPStatus.INSUFFICIENT_STORAGE
    slug = "storage-full"
    title = "Storage full"

    def __init__(self) -> None:
        super().__init__(
            "The disk holding the database is full; nothing was changed. Retry once an "
            "operator has freed space."
        )


class DatabaseFileReplaced(AppError):
    """The database file was deleted or replaced under the running service."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    slug = "database-file-replaced"
    title = "Database file replaced"


class InvalidField(AppError):
    """A body field that parsed but refers to something that does not exist (a list id, say)."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    slug = "validation-error"
    title = "Invalid request"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            f"body.{field}: {message}",
            errors=[{"loc": ["body", field], "msg": message, "type": "value_error"}],
        )


class InvalidParameter(AppError):
    """A query parameter that parsed but makes no sense (a tampered cursor, say)."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    slug = "validation-error"
    title = "Invalid request"

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(
            f"Query parameter {parameter!r}: {message}",
            errors=[{"loc": ["query", parameter], "msg": message, "type": "value_error"}],
        )


class InvalidHeader(AppError):
    """A request header that the route reads itself, malformed (Last-Event-ID, say)."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    slug = "validation-error"
    title = "Invalid request"

    def __init__(self, header: str, message: str) -> None:
        super().__init__(
            f"Header {header!r}: {message}",
            errors=[{"loc": ["header", header], "msg": message, "type": "value_error"}],
        )


class InvalidIdempotencyKey(AppError):
    """The Idempotency-Key header is empty, too long, repeated or not printable ASCII."""

    slug = "invalid-idempotency-key"
    title = "Invalid Idempotency-Key"

    def __init__(self, message: str) -> None:
        super().__init__(
            f"Header 'Idempotency-Key': {message}",
            errors=[{"loc": ["header", "Idempotency-Key"], "msg": message, "type": "value_error"}],
        )


class IdempotencyKeyReused(AppError):
    """The key already answered a different request (another body, path or query)."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    slug = "idempotency-key-reused"
    title = "Idempotency-Key reused"


class IdempotencyKeyInFlight(Conflict):
    """Another request with the same key committed while this one ran; retry to get its answer."""

    slug = "idempotency-key-in-flight"
    title = "Idempotency-Key in use"
    # Run in a new transaction, the unit sees the other request's answer and replays it: a
    # database that can meet this (PostgreSQL; not SQLite, whose writes are serial) does so.
    retry_in_new_transaction = True


class DefaultListMadeConcurrently(Conflict):
    """A user's first writes ran at once and another made their default list first."""

    # Run in a new transaction, the unit finds that list and uses it: only PostgreSQL can meet
    # this (SQLite's writes are serial). A 409 only if it kept happening, which it cannot.
    retry_in_new_transaction = True


class InvalidDocument(AppError):
    """An import document that parsed but does not validate; `errors` locates each problem."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    slug = "validation-error"
    title = "Invalid import document"


class MalformedDocument(AppError):
    """An import body that is not JSON at all (as for every other JSON body: 400)."""

    status = HTTPStatus.BAD_REQUEST
    slug = "malformed-json"
    title = "Malformed JSON"


class UnsupportedMediaType(AppError):
    """A body in a media type the route does not read: not JSON on a JSON route, neither a
    todo-api export nor a calendar on POST /import."""

    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    slug = "unsupported-media-type"
    title = "Unsupported media type"


# --- accounts: who is asking, and may they ---------------------------------------------------


class Unauthenticated(AppError):
    """No credential, or one that is unknown, expired or revoked (RFC 6750: 401 + challenge)."""

    status = HTTPStatus.UNAUTHORIZED
    slug = "unauthenticated"
    title = "Authentication required"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="todo-api"'}


class InvalidCredentials(Unauthenticated):
    """A username and password that do not match (the same answer for an unknown user)."""

    slug = "invalid-credentials"
    title = "Invalid credentials"

    def __init__(self) -> None:
        super().__init__("The username or the password is wrong.")


class Forbidden(AppError):
    """The caller is known and the resource is theirs, but this credential may not do this."""

    status = HTTPStatus.FORBIDDEN
    slug = "forbidden"
    title = "Forbidden"


class TooManyAttempts(AppError):
    """Too many password attempts on one account in the window (password_attempts.py)."""

    status = HTTPStatus.TOO_MANY_REQUESTS
    slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many password attempts on this account; retry in {retry_after} s.")
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class TooManyStreams(AppError):
    """Past the bound on open change feeds (GET /events) of one user in one process."""

    status = HTTPStatus.TOO_MANY_REQUESTS
    slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"At most {limit} open change feeds per user (TODO_EVENTS_MAX_STREAMS); close one."
        )

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}


class UsernameTaken(Conflict):
    def __init__(self, username: str) -> None:
        super().__init__(f"The username {username!r} is taken (usernames ignore case).")


class UserNotFound(NotFound):
    def __init__(self, username: str) -> None:
        super().__init__(f"There is no user {username!r}.")


class TokenNotFound(NotFound):
    def __init__(self, token_id: int) -> None:
        super().__init__(f"There is no token with id {token_id}.")
