"""Optimistic concurrency: a change names the versions it was based on, and applies only if
the current version is one of them (compare-and-set). If-Match carries the condition over HTTP.
"""

from dataclasses import dataclass

from todo_api.errors import PreconditionFailed


@dataclass(frozen=True, slots=True)
class VersionCondition:
    """Which versions a change may apply to: any existing one (`*`), or only those listed."""

    any_version: bool
    versions: frozenset[int]

    def allows(self, version: int) -> bool:
        return self.any_version or version in self.versions


def require_version(condition: VersionCondition | None, current_version: int, what: str) -> None:
    """Raise PreconditionFailed unless `condition` (if any) allows `what`'s current version.

    `what` names the resource for the client, e.g. "Todo 7".
    """
    if condition is not None and not condition.allows(current_version):
        raise PreconditionFailed(f"{what} has changed (now version {current_version}).")
