"""Strong ETags from row versions, and the If-Match / If-None-Match headers that use them."""

from dataclasses import dataclass

ANY = "*"


def etag(version: int) -> str:
    return f'"{version}"'


@dataclass(frozen=True, slots=True)
class VersionCondition:
    """What If-Match allows: any existing version (`*`), or only the versions listed."""

    any_version: bool
    versions: frozenset[int]

    def allows(self, version: int) -> bool:
        return self.any_version or version in self.versions


def _entity_tags(header: str) -> list[str]:
    return [part.strip() for part in header.split(",") if part.strip()]


def _version(tag: str) -> int | None:
    """The version in a strong tag like `"7"`; weak (`W/"7"`) or foreign tags name none."""
    if len(tag) >= 3 and tag[0] == tag[-1] == '"' and tag[1:-1].isdigit():
        return int(tag[1:-1])
    return None


def parse_if_match(header: str) -> VersionCondition:
    tags = _entity_tags(header)
    if ANY in tags:
        return VersionCondition(any_version=True, versions=frozenset())
    versions = {version for tag in tags if (version := _version(tag)) is not None}
    return VersionCondition(any_version=False, versions=frozenset(versions))


def none_match(header: str, version: int) -> bool:
    """True when If-None-Match does *not* name this version (so the full answer is due).

    GET compares weakly (RFC 9110 §13.1.2), so `W/"7"` matches version 7 too.
    """
    for tag in _entity_tags(header):
        if tag == ANY or _version(tag.removeprefix("W/")) == version:
            return False
    return True
