"""Compare-and-set: a change applies only to a version its condition allows."""

import pytest

from todo_api.domain.versions import VersionCondition, require_version
from todo_api.errors import PreconditionFailed

ONLY_3_OR_4 = VersionCondition(any_version=False, versions=frozenset({3, 4}))
ANY_VERSION = VersionCondition(any_version=True, versions=frozenset())


def test_no_condition_allows_every_version() -> None:
    require_version(None, 99, "Todo 1")


def test_a_listed_version_is_allowed() -> None:
    require_version(ONLY_3_OR_4, 4, "Todo 1")


def test_any_version_allows_every_version() -> None:
    require_version(ANY_VERSION, 1, "List 2")


def test_another_version_fails_and_names_the_current_one() -> None:
    with pytest.raises(PreconditionFailed) as failed:
        require_version(ONLY_3_OR_4, 5, "Todo 7")

    assert failed.value.detail == "Todo 7 has changed (now version 5)."
    assert failed.value.status == 412


def test_an_empty_condition_allows_nothing() -> None:
    nothing = VersionCondition(any_version=False, versions=frozenset())
    with pytest.raises(PreconditionFailed):
        require_version(nothing, 1, "List 1")
