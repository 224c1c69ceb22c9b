"""Strong ETags from row versions, and the If-Match / If-None-Match headers that carry them.

This module is HTTP syntax only; what a version condition means is `todo_api.domain.versions`.
"""

from todo_api.domain.ids import LARGEST_STORABLE_INTEGER
from todo_api.domain.versions import VersionCondition

ANY = "*"
# A longer tag names no stored version; checking the length first also keeps int() from parsing
# thousands of digits (Python refuses past 4,300 with ValueError).
_MAX_VERSION_DIGITS = len(str(LARGEST_STORABLE_INTEGER))


def etag(version: int) -> str:
    return f'"{version}"'


def _entity_tags(header: str) -> list[str]:
    return [part.strip() for part in header.split(",") if part.strip()]


def _version(tag: str) -> int | None:
    """The version in a strong tag like `"7"`; weak (`W/"7"`) or foreign tags name none."""
    digits = tag[1:-1]
    if (
        3 <= len(tag) <= _MAX_VERSION_DIGITS + 2
        and tag[0] == tag[-1] == '"'
        and digits.isascii()
        and digits.isdigit()
    ):
        version = int(digits)
        return version if version <= LARGEST_STORABLE_INTEGER else None
    return None


def parse_if_match(header: str) -> VersionCondition:
    tags = _entity_tags(header)
    if ANY in tags:
        return VersionCondition(any_version=True, versions=frozenset())
    versions = {version for tag in tags if (version := _version(tag)) is not None}
    return VersionCondition(any_version=False, versions=frozenset(versions))


def if_none_match_names(header: str, version: int) -> bool:
    """Whether an If-None-Match header names this version (or `*`): the client has it already.

    GET compares weakly (RFC 9110 §13.1.2), so `W/"7"` names version 7 too.
    """
    return any(
        tag == ANY or _version(tag.removeprefix("W/")) == version for tag in _entity_tags(header)
    )
