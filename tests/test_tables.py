"""Timestamps are stored on SQLite exactly as SQLAlchemy's own DATETIME would store them."""

import datetime as dt

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from todo_api.tables import UTCDateTime

_DIALECT = sqlite.dialect()
_OFFSETS = st.builds(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes)), st.integers(-1439, 1439)
)
_MOMENTS = st.datetimes(
    min_value=dt.datetime(1, 1, 2),
    max_value=dt.datetime(9999, 12, 30),
    timezones=st.one_of(st.none(), st.just(dt.UTC), _OFFSETS),
)


def _sqlalchemy_text(value: dt.datetime) -> str:
    """What the generic path writes: our UTC conversion, then SQLite DATETIME's own format."""
    as_utc = UTCDateTime().process_bind_param(value, _DIALECT)
    process = sa.DateTime().dialect_impl(_DIALECT).bind_processor(_DIALECT)
    assert process is not None
    text: str = process(as_utc)
    return text


def _store(value: dt.datetime | None) -> str | None:
    process = UTCDateTime().bind_processor(_DIALECT)
    assert process is not None
    return process(value)


def _read(text: str | None) -> dt.datetime | None:
    process = UTCDateTime().result_processor(_DIALECT, None)
    assert process is not None
    return process(text)


@given(_MOMENTS)
def test_stored_text_is_what_sqlalchemy_writes_and_reads_back_as_the_same_moment(
    value: dt.datetime,
) -> None:
    stored = _store(value)
    read = _read(stored)

    assert stored == _sqlalchemy_text(value)
    assert read == (value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC))
    assert read is not None and read.tzinfo is dt.UTC


def test_none_stays_none() -> None:
    assert _store(None) is None
