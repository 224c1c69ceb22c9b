"""Password hashing (Argon2id) and the password policy (length, not guessable).

The parameters are argon2-cffi's defaults, RFC 9106's second recommended choice: time cost 3,
64 MiB of memory, parallelism 4 (~160 ms of CPU a hash on the test machine: docs/security.md
has the measurement). When they change, a stored hash is redone at the next successful login
(`needs_rehash`). Hashing runs on a thread: never on the event loop.
"""

import functools
import string
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from todo_api.domain.accounts import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

_HASHER = PasswordHasher()  # Argon2id
COMMON_PASSWORDS_FILE = "common_passwords.txt"
# Stripped from both ends before the common-passwords list is consulted: `Password1234!` is
# `password` with the decoration everyone adds.
_DECORATION = string.digits + string.punctuation + string.whitespace
# Rows a sequence runs along: the alphabet and the digits (both wrapping: ...890123...), and
# the keyboard's rows.
_SEQUENCES = (
    string.ascii_lowercase,
    string.digits,
    "`1234567890-=",
    "qwertyuiop[]\\",
    "asdfghjkl;'",
    "zxcvbnm,./",
)
_WRAPPING = (string.ascii_lowercase, string.digits)


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
    """Why `password` is refused, or None. Twelve characters are only as strong as what they
    hold, so besides the length: not blank, not containing the username, not a short unit
    repeated, not a run along the alphabet, the digits or a keyboard row, and not a common
    password give or take case and digits or symbols at its ends."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"must be at least {PASSWORD_MIN_LENGTH} characters"
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"must be at most {PASSWORD_MAX_LENGTH} characters"
    if not password.strip():
        return "must not be only whitespace"
    lowered = password.lower()
    if username and username.lower() in lowered:
        return "must not contain the username"
    if _repeats_a_short_unit(lowered):
        return "must not repeat a short pattern (like 'aaaa…' or 'abcabc…'); choose another"
    if _is_a_sequence(lowered):
        return "must not be a sequence (like '1234…', 'abcd…' or 'qwer…'); choose another"
    common = common_passwords()
    if lowered in common or lowered.strip(_DECORATION) in common:
        return (
            "is too common (on a list of leaked passwords, give or take case, digits and "
            "symbols); choose another"
        )
    return None


def _repeats_a_short_unit(password: str) -> bool:
    """`aaaaaaaaaaaa`, `passwordpassword`: a unit shorter than the minimum length, twice or
    more (a long passphrase said twice is as strong as the passphrase, so it passes)."""
    length = len(password)
    return any(
        length % size == 0 and password == password[:size] * (length // size)
        for size in range(1, min(PASSWORD_MIN_LENGTH, length // 2 + 1))
    )


def _is_a_sequence(password: str) -> bool:
    """`123456789012`, `abcdefghijkl`, `qwertyuiop[]`, or one backwards."""
    for candidate in (password, password[::-1]):
        for row in _SEQUENCES:
            haystack = row * (len(candidate) // len(row) + 2) if row in _WRAPPING else row
            if candidate in haystack:
                return True
    return False


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list (common_passwords.txt says where it comes from), read once."""
    text = resources.files("todo_api").joinpath(COMMON_PASSWORDS_FILE).read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash("not a password anyone has: equalises the cost of unknown users")
