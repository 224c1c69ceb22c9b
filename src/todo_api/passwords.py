"""Password hashing (Argon2id) and the password policy (length, not a common password).

The parameters are argon2-cffi's defaults, RFC 9106's second recommended choice: time cost 3,
64 MiB of memory, parallelism 4 (~50 ms a hash). When they change, a stored hash is redone at
the next successful login (`needs_rehash`). Hashing runs on a thread: never on the event loop.
"""

import functools
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from todo_api.domain.accounts import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

_HASHER = PasswordHasher()  # Argon2id
COMMON_PASSWORDS_FILE = "common_passwords.txt"


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches. Without a stored hash (an unknown user, the local user)
    a dummy hash is checked, so a wrong username costs as long as a wrong password."""
    try:
        return _HASHER.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)


def password_problem(password: str, username: str) -> str | None:
    """Why `password` is refused, or None."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"must be at least {PASSWORD_MIN_LENGTH} characters"
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"must be at most {PASSWORD_MAX_LENGTH} characters"
    lowered = password.lower()
    if lowered in common_passwords() or lowered == username.lower():
        return "is too common (it is on a list of leaked passwords); choose another"
    return None


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list (common_passwords.txt says where it comes from), read once."""
    text = resources.files("todo_api").joinpath(COMMON_PASSWORDS_FILE).read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash("not a password anyone has: equalises the cost of unknown users")
