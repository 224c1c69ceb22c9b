"""When a todo is due: an all-day `due_date` or a moment `due_at`, never both.

Pages sort and filter on one derived key, the due moment in UTC, so both kinds compare.
"""

import datetime as dt
from collections.abc import Mapping
from typing import Any

# The key of a todo without a due date: sorts after every date (so the last day is kept free).
NO_DUE = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
BOTH_DUE_FIELDS = "give due_date (all day) or due_at (a moment), not both"


def require_one_due(due_date: dt.date | None, due_at: dt.datetime | None) -> None:
    """A todo given both is ambiguous: a ValueError, which validation reports on the body."""
    if due_date is not None and due_at is not None:
        raise ValueError(BOTH_DUE_FIELDS)


def due_key(due_date: dt.date | None, due_at: dt.datetime | None) -> dt.datetime:
    """The due moment in UTC: due_at, the end of an all-day due_date, or NO_DUE."""
    if due_at is not None:
        return due_at.astimezone(dt.UTC)
    if due_date is not None:
        return dt.datetime.combine(due_date + dt.timedelta(days=1), dt.time(), dt.UTC)
    return NO_DUE


def offset_minutes(due_at: dt.datetime | None) -> int | None:
    """The UTC offset a due moment was given in, kept so it is returned the same way."""
    if due_at is None:
        return None
    offset = due_at.utcoffset()
    return None if offset is None else int(offset.total_seconds() // 60)


def in_given_offset(due_at: dt.datetime | None, minutes: int | None) -> dt.datetime | None:
    """A stored (UTC) due moment in the offset it was given in."""
    if due_at is None:
        return None
    return due_at.astimezone(dt.timezone(dt.timedelta(minutes=minutes or 0)))


def with_due_counterpart(
    changes: Mapping[str, Any], due_date: dt.date | None, due_at: dt.datetime | None
) -> dict[str, Any]:
    """`changes` to a todo due as given, with both due fields once either changes.

    Setting one clears the other, and the derived key needs both.
    """
    if "due_date" not in changes and "due_at" not in changes:
        return dict(changes)
    new_date = changes.get("due_date", due_date)
    new_at = changes.get("due_at", due_at)
    if changes.get("due_date") is not None:
        new_at = None
    if changes.get("due_at") is not None:
        new_date = None
    return {**changes, "due_date": new_date, "due_at": new_at}
