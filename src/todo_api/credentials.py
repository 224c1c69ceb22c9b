"""Bearer tokens and session ids: how they are made, recognised and stored (as a hash only).

Both are 256 random bits, so a fast hash is enough to store them: unlike a password, nothing
about them can be guessed, and SHA-256 keeps the per-request check cheap.
"""

import hashlib
import hmac
import secrets

SESSION_COOKIE = "todo_session"  # its value is a session secret, never a bearer token
TOKEN_PREFIX = "todo_"  # noqa: S105  (not a secret) lets secret scanners (GitHub, gitleaks) recognise a leaked token
_SECRET_BYTES = 32
# The non-secret start of a token kept for listings: the prefix and 6 random characters.
DISPLAY_PREFIX_LENGTH = len(TOKEN_PREFIX) + 6
_TOKEN_LENGTH = len(TOKEN_PREFIX) + 43  # token_urlsafe(32) is 43 characters


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)


def new_session_secret() -> str:
    return secrets.token_urlsafe(_SECRET_BYTES)


def is_token_shaped(value: str) -> bool:
    return len(value) == _TOKEN_LENGTH and value.startswith(TOKEN_PREFIX)


def secret_hash(secret: str) -> str:
    """What the database stores of a token, session id or CSRF token."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same_secret(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with a stored hash."""
    return hmac.compare_digest(secret_hash(secret), stored_hash)
