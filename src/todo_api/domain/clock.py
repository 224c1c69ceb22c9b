"""The server's clock: every timestamp it writes (created, updated, completed) is UTC."""

import datetime as dt


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
