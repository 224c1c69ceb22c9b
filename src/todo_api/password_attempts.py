"""Password attempts per account: the per-username half of TODO_PASSWORD_RATE_LIMIT.

The edge (rate_limit.py) counts password attempts per client address before a body is read.
A login names its account only in the body, so the routes count it here, before any hashing:
at most TODO_PASSWORD_RATE_LIMIT attempts per username per window, from every address together,
so spreading a guessing run over many addresses does not help. Unknown usernames are counted
the same way (the answer does not tell which exist). PATCH and DELETE /me count against the
caller's account. Past the limit: 429 (`TooManyAttempts`) with Retry-After.

The counters live in each process, like the edge's (docs/security.md has the arithmetic).
"""

from limits import parse

from todo_api.errors import TooManyAttempts
from todo_api.fixed_windows import FixedWindows

LIMIT_OFF = "off"


class PasswordAttempts:
    """Counts password attempts per account name; one per process (per app)."""

    def __init__(self, setting: str) -> None:
        limit = None if setting == LIMIT_OFF else parse(setting)
        self._windows = None if limit is None else FixedWindows(limit.amount, limit.get_expiry())

    def count(self, account: str) -> None:
        """Count an attempt on `account` (a username, case ignored, or `id:<user id>`);
        TooManyAttempts when the window's budget is spent."""
        if self._windows is None:
            return
        allowed, _remaining, reset_seconds = self._windows.hit(account.casefold())
        if not allowed:
            raise TooManyAttempts(reset_seconds)

    def count_user(self, user_id: int) -> None:
        """Count an attempt on the account with this id (a password change or deletion)."""
        self.count(f"id:{user_id}")
