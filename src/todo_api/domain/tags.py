"""Tags: free-form names that match, and are unique, without regard to case."""

from collections.abc import Iterable


def tag_key(name: str) -> str:
    """What two spellings of one tag have in common ("Home" and "home" are one tag)."""
    return name.casefold()


def unique_tags(names: Iterable[str]) -> list[str]:
    """Each tag once, in the order given; of several spellings the first is kept."""
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(tag_key(name), name)
    return list(seen.values())
