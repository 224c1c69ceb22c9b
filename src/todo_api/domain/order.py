"""Where a todo or list without an `order` sorts: after every one that has one.

Pages sort on a key that is never NULL, so keyset pagination compares plain tuples on an index.
"""

NO_ORDER = 1e300  # the key of a null `order`: larger than any order a client can send


def order_key(order: float | None) -> float:
    return NO_ORDER if order is None else order
