"""The server's clock stamps UTC moments."""

import datetime as dt
import time

from todo_api.domain import clock


def test_now_is_an_aware_utc_moment_of_this_instant() -> None:
    now = clock.now()

    assert now.tzinfo is dt.UTC
    assert abs(now.timestamp() - time.time()) < 5
