"""Due dates: one of due_date / due_at, a UTC key both sort on, and setting one clears the other."""

import datetime as dt
import re

import pytest

from todo_api.domain.due import (
    BOTH_DUE_FIELDS,
    NO_DUE,
    due_key,
    require_one_due,
    with_due_counterpart,
)

DAY = dt.date(2027, 3, 14)
MOMENT = dt.datetime(2027, 3, 14, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))


def test_both_due_fields_are_refused_with_one_message() -> None:
    with pytest.raises(ValueError, match=re.escape(BOTH_DUE_FIELDS)):
        require_one_due(DAY, MOMENT)


@pytest.mark.parametrize(("due_date", "due_at"), [(DAY, None), (None, MOMENT), (None, None)])
def test_one_or_no_due_field_is_fine(due_date: dt.date | None, due_at: dt.datetime | None) -> None:
    require_one_due(due_date, due_at)


def test_a_moment_keys_on_itself_in_utc() -> None:
    assert due_key(None, MOMENT) == dt.datetime(2027, 3, 14, 7, 30, tzinfo=dt.UTC)


def test_an_all_day_date_keys_on_the_end_of_that_day() -> None:
    key = due_key(DAY, None)

    assert key == dt.datetime(2027, 3, 15, tzinfo=dt.UTC)
    assert due_key(None, dt.datetime(2027, 3, 14, 23, 59, tzinfo=dt.UTC)) < key


def test_no_due_date_sorts_after_the_last_allowed_day() -> None:
    assert due_key(None, None) == NO_DUE
    assert due_key(dt.date(9999, 12, 30), None) <= NO_DUE


def test_changes_without_due_fields_stay_as_they_are() -> None:
    assert with_due_counterpart({"title": "x"}, DAY, None) == {"title": "x"}


def test_setting_due_at_clears_due_date() -> None:
    changes = with_due_counterpart({"due_at": MOMENT}, DAY, None)

    assert changes == {"due_at": MOMENT, "due_date": None}


def test_setting_due_date_clears_due_at() -> None:
    changes = with_due_counterpart({"due_date": DAY}, None, MOMENT)

    assert changes == {"due_date": DAY, "due_at": None}


def test_clearing_one_keeps_the_other_as_it_was() -> None:
    assert with_due_counterpart({"due_date": None}, None, MOMENT) == {
        "due_date": None,
        "due_at": MOMENT,
    }
