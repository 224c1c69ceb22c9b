"""Ids and integers the databases can store: 64-bit signed (SQLite INTEGER, PostgreSQL bigint)."""

SMALLEST_STORABLE_INTEGER = -(2**63)
LARGEST_STORABLE_INTEGER = 2**63 - 1
# Ids are positive; one beyond the bound names nothing, and would overflow the driver.
MAX_ID = LARGEST_STORABLE_INTEGER


def is_storable_id(value: int) -> bool:
    """Whether `value` could be a stored id; any other names no resource."""
    return 0 < value <= MAX_ID


def is_storable_integer(value: int) -> bool:
    return SMALLEST_STORABLE_INTEGER <= value <= LARGEST_STORABLE_INTEGER
