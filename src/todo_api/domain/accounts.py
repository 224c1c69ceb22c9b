"""The rules of accounts: what a username and a password may be, who a caller is, what a
token's scopes allow, which routes need no credential. Written once; request models, the CLI,
the edge and the OpenAPI document all apply them."""

import re
from dataclasses import dataclass
from enum import StrEnum

USERNAME_MIN_LENGTH = 3
USERNAME_MAX_LENGTH = 64
# ASCII letters, digits and . _ - : safe in URLs, logs and shells, and case-folds predictably.
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9._-]+")
USERNAME_ALPHABET = "ASCII letters, digits, '.', '_' and '-'"
_LETTER_OR_DIGIT = re.compile(r"[A-Za-z0-9]")
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 1024  # hashing cost grows with length: a bound keeps it predictable
LOCAL_USERNAME = "local"  # the implicit user of TODO_AUTH=disabled (tables.LOCAL_USER_ID)


class Scope(StrEnum):
    """What a token may do: `read` answers safe methods, `write` everything else."""

    READ = "read"
    WRITE = "write"


ALL_SCOPES = frozenset(Scope)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKENS_PATH = "/tokens"

# Reachable without a credential: liveness and docs, and the routes that hand credentials out.
# A credential sent to one of them is not even looked at: a stale or read-only one must not stop
# a new login, a registration or a logout.
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/"),
        ("GET", "/health"),
        ("GET", "/ready"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"),
        ("GET", "/openapi.json"),
        ("POST", "/users"),
        ("POST", TOKENS_PATH),
        ("POST", "/session"),
        ("DELETE", "/session"),
    }
)
_PUBLIC_PREFIXES = ("/docs/", "/app/")  # the Swagger UI's and the web app's own files


class CredentialKind(StrEnum):
    LOCAL = "local"  # TODO_AUTH=disabled: nobody is asked who they are
    TOKEN = "token"  # noqa: S105  (a kind, not a secret): Authorization: Bearer todo_…
    SESSION = "session"  # the browser session cookie


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, and through what. Every repository call is scoped to `user_id`."""

    user_id: int
    scopes: frozenset[Scope] = ALL_SCOPES
    kind: CredentialKind = CredentialKind.LOCAL
    credential_id: int | None = None  # the token's or session's id


def username_key(username: str) -> str:
    """The form usernames are compared and stored unique in: without regard to case."""
    return username.lower()


def username_problem(username: str) -> str | None:
    """Why `username` cannot be one, or None."""
    if not USERNAME_MIN_LENGTH <= len(username) <= USERNAME_MAX_LENGTH:
        return f"must be {USERNAME_MIN_LENGTH} to {USERNAME_MAX_LENGTH} characters"
    if not USERNAME_PATTERN.fullmatch(username):
        return f"may contain only {USERNAME_ALPHABET}"
    if not _LETTER_OR_DIGIT.search(username):
        return "must contain at least one letter or digit"
    return None


def is_public(method: str, path: str) -> bool:
    """True for the routes that take no credential (PUBLIC_ROUTES; HEAD as GET)."""
    method = "GET" if method == "HEAD" else method
    return (method, path) in PUBLIC_ROUTES or (
        method == "GET" and path.startswith(_PUBLIC_PREFIXES)
    )


def permits(caller: Caller, method: str, path: str) -> bool:
    """Authorization, in one place: may `caller` make this request at all?

    A token's scope decides: `read` answers safe methods, `write` everything. One exception: any
    token may revoke itself (`DELETE /tokens/{its own id}`), so a leaked read-only token can be
    killed with nothing but itself. Whose resource it is needs no check here: every query is
    scoped to the caller's id, so another user's resource is not found (404). Sharing lists
    (docs/security.md) will add the resource to this function, not owner comparisons to the
    routes.
    """
    needed = Scope.READ if method in SAFE_METHODS else Scope.WRITE
    if needed in caller.scopes:
        return True
    return (
        method == "DELETE"
        and caller.kind == CredentialKind.TOKEN
        and path == f"{TOKENS_PATH}/{caller.credential_id}"
    )
