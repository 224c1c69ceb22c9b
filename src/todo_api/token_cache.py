"""Verified API tokens, remembered by hash for a few seconds: the hot path costs no query.

Revoking a token evicts it at once in the process that revoked it (`forget`); every other
process (worker, replica) stops accepting it when its entry expires, `TOKEN_CACHE_SECONDS`
after the moment the verifying read began (`verified_at`, taken before the read): so at most
`TOKEN_CACHE_SECONDS` after the revocation's commit, the bound docs/security.md promises.
"""

import datetime as dt
import time
from dataclasses import dataclass

from todo_api.domain.accounts import Caller

TOKEN_CACHE_SECONDS = 5.0
_MAX_ENTRIES = 10_000


@dataclass(slots=True)
class _CachedToken:
    caller: Caller
    expires_at: float  # the token's own expiry, epoch seconds
    cached_until: float  # monotonic


class TokenCache:
    """Verified tokens by hash, for a few seconds. One per process (per app)."""

    def __init__(self, ttl_seconds: float = TOKEN_CACHE_SECONDS) -> None:
        self.ttl_seconds = ttl_seconds
        self._entries: dict[str, _CachedToken] = {}

    def get(self, token_hash: str) -> Caller | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry.cached_until < time.monotonic() or entry.expires_at <= time.time():
            del self._entries[token_hash]
            return None
        return entry.caller

    def put(
        self, token_hash: str, caller: Caller, expires_at: dt.datetime, *, verified_at: float
    ) -> None:
        """Remember a token verified by a read that began at `verified_at` (time.monotonic)."""
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.clear()  # rare; dropping everything only costs a query per token
        self._entries[token_hash] = _CachedToken(
            caller, expires_at.timestamp(), verified_at + self.ttl_seconds
        )

    def forget(self, *, user_id: int, token_id: int | None = None) -> None:
        """Evict a revoked token (or, without `token_id`, every token of the user)."""
        for token_hash, entry in list(self._entries.items()):
            caller = entry.caller
            if caller.user_id == user_id and token_id in (None, caller.credential_id):
                del self._entries[token_hash]
