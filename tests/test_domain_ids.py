"""Storable ids and integers: the 64-bit signed range both databases hold."""

import pytest

from todo_api.domain.ids import MAX_ID, is_storable_id, is_storable_integer


@pytest.mark.parametrize("value", [1, 7, 2**63 - 1])
def test_positive_int64_values_are_storable_ids(value: int) -> None:
    assert is_storable_id(value)


@pytest.mark.parametrize("value", [0, -1, 2**63, 10**30])
def test_others_name_nothing(value: int) -> None:
    assert not is_storable_id(value)


def test_max_id_is_the_largest_int64() -> None:
    assert MAX_ID == 9_223_372_036_854_775_807


@pytest.mark.parametrize(("value", "storable"), [(-(2**63), True), (-(2**63) - 1, False)])
def test_integers_reach_down_to_the_smallest_int64(value: int, storable: bool) -> None:
    assert is_storable_integer(value) is storable
    assert is_storable_integer(MAX_ID) and not is_storable_integer(MAX_ID + 1)
