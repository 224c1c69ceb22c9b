"""Fixed-window counters: the arithmetic of the rate limits, on a clock the test moves."""

from todo_api.fixed_windows import FixedWindows, Hit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_window_opens_at_the_first_hit_and_refused_hits_count() -> None:
    clock = Clock()
    windows = FixedWindows(2, 60, clock)
    first = windows.hit("a")
    clock.now += 20
    hits = [windows.hit("a") for _ in range(3)]
    assert first == Hit(allowed=True, remaining=1, reset_seconds=60)
    assert hits == [
        Hit(allowed=True, remaining=0, reset_seconds=40),
        Hit(allowed=False, remaining=0, reset_seconds=40),
        Hit(allowed=False, remaining=0, reset_seconds=40),
    ]


def test_the_next_hit_after_the_window_opens_a_new_one() -> None:
    clock = Clock()
    windows = FixedWindows(1, 60, clock)
    assert windows.hit("a").allowed
    assert not windows.hit("a").allowed
    clock.now += 59.9
    assert windows.hit("a") == Hit(allowed=False, remaining=0, reset_seconds=1)
    clock.now += 0.1
    assert windows.hit("a") == Hit(allowed=True, remaining=0, reset_seconds=60)


def test_keys_count_apart() -> None:
    windows = FixedWindows(1, 60, Clock())
    assert windows.hit(("user", 1)).allowed
    assert windows.hit(("address", "1")).allowed
    assert not windows.hit(("user", 1)).allowed


def test_ended_windows_are_swept_once_a_period() -> None:
    clock = Clock()
    windows = FixedWindows(5, 60, clock)
    for number in range(100):
        windows.hit(number)
    clock.now += 30
    windows.hit("late")
    assert len(windows) == 101  # nothing ended yet
    clock.now += 31  # the first 100 ended; the sweep is due
    windows.hit("later")
    assert len(windows) == 2


def test_peek_sees_a_spent_window_without_counting() -> None:
    clock = Clock()
    windows = FixedWindows(2, 60, clock)
    assert windows.peek("a") == Hit(allowed=True, remaining=2, reset_seconds=60)
    windows.hit("a")
    clock.now += 10
    assert windows.peek("a") == Hit(allowed=True, remaining=1, reset_seconds=50)
    windows.hit("a")
    assert windows.peek("a") == Hit(allowed=False, remaining=0, reset_seconds=50)
    assert windows.peek("a") == Hit(allowed=False, remaining=0, reset_seconds=50)  # not counted
    clock.now += 50
    assert windows.peek("a").allowed
