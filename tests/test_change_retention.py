"""The change feed's retention, on SQLite and PostgreSQL: pruning deletes the oldest changes in
batches and never the newest row; each user's horizon is kept; GET /events answers a
`Last-Event-ID` older than the horizon with a `reset`; the app prunes by itself."""

import datetime as dt
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from support import API_BASE_URL, TEMPLATE_AUTH, post_created
from todo_api.app import create_app
from todo_api.change_feed_pruner import MAX_SWEEP_SECONDS, MIN_SWEEP_SECONDS, sweep_seconds
from todo_api.config import Settings
from todo_api.db import create_engine
from todo_api.domain import clock
from todo_api.repository import changes as change_feed
from todo_api.repository import users
from todo_api.repository.change_retention import (
    FeedPosition,
    _raise_horizons,
    feed_position,
    prune_changes,
)
from todo_api.tables import LOCAL_USER_ID, changes

OWNER = LOCAL_USER_ID  # the template's account (support.add_template_account)
LATER = dt.timedelta(hours=1)
PRUNED_WITHIN_SECONDS = 10.0


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A second way into the test's database, beside the app's."""
    made = create_engine(database_url)
    try:
        yield made
    finally:
        made.dispose()


def seqs(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(changes.c.seq).order_by(changes.c.seq)).scalars())


def prune(engine: Engine, before: dt.datetime, limit: int = 1000) -> int:
    with engine.begin() as connection:
        return prune_changes(connection, before, limit)


def position(engine: Engine) -> FeedPosition:
    with engine.connect() as connection:
        return feed_position(connection, OWNER)


@pytest.fixture
def recorded(client: TestClient, engine: Engine) -> list[int]:
    """Three todos made through the API: the seqs of their changes."""
    for number in range(3):
        post_created(client, "/todos", title=f"todo {number}")
    found = seqs(engine)
    assert len(found) == 3
    return found


def poll(client: TestClient, **headers: str) -> str:
    """GET /events without `Accept: text/event-stream`: what there is now, then the end."""
    response = client.get("/events", headers=headers)
    assert response.status_code == 200
    return response.text


def test_pruning_deletes_all_but_the_newest_row(engine: Engine, recorded: list[int]) -> None:
    assert position(engine) == FeedPosition(recorded[-1], 0)
    assert prune(engine, clock.now() + LATER) == 2
    assert seqs(engine) == recorded[-1:]
    assert position(engine) == FeedPosition(recorded[-1], recorded[-2])
    assert position(engine).current == recorded[-1]
    assert prune(engine, clock.now() + LATER) == 0
    assert seqs(engine) == recorded[-1:]


def test_pruning_goes_in_batches_and_stops_at_a_recent_change(
    engine: Engine, recorded: list[int]
) -> None:
    with engine.connect() as connection:
        third_made_at = connection.execute(
            sa.select(changes.c.changed_at).where(changes.c.seq == recorded[2])
        ).scalar_one()
    assert prune(engine, third_made_at, limit=1) == 1
    assert seqs(engine) == recorded[1:]
    assert position(engine).pruned_through == recorded[0]
    assert prune(engine, third_made_at, limit=1) == 1
    assert prune(engine, third_made_at, limit=1) == 0  # the third is not older than itself
    assert seqs(engine) == recorded[2:]
    assert position(engine).pruned_through == recorded[1]


def test_the_horizon_never_moves_back(engine: Engine, recorded: list[int]) -> None:
    """Two processes may prune at once; whichever writes last, the higher horizon stays."""
    prune(engine, clock.now() + LATER)
    with engine.begin() as connection:
        _raise_horizons(connection, [(OWNER, recorded[0])])
    assert position(engine).pruned_through == recorded[-2]


def test_resuming_before_the_horizon_is_a_reset(
    client: TestClient, engine: Engine, recorded: list[int]
) -> None:
    first, *_, second_last, last = recorded
    prune(engine, clock.now() + LATER)
    assert poll(client, **{"Last-Event-ID": str(first)}) == (
        f'retry: 1000\nid: {last}\n\nid: {last}\nevent: reset\ndata: {{"seq": {last}}}\n\n'
    )
    # From the horizon on, nothing was missed: the changes after it, no reset.
    resumed = poll(client, **{"Last-Event-ID": str(second_last)})
    assert resumed.startswith(f"retry: 1000\nid: {second_last}\n\nid: {last}\nevent: change\n")
    assert "reset" not in resumed
    # Without an id, the stream starts at the newest: the id at once, nothing else.
    assert poll(client) == f"retry: 1000\nid: {last}\n\n"


def test_a_user_whose_changes_were_all_pruned_resumes_without_a_reset(
    client: TestClient, engine: Engine, recorded: list[int]
) -> None:
    """A quiet account: its last change is pruned (another user's is newer), and its clients,
    which saw that change, lose nothing."""
    last = recorded[-1]
    with engine.begin() as connection:
        other = users.create_user(connection, "other", "not a hash", clock.now())
        change_feed.record(connection, other.id, "list", None, "created")
    prune(engine, clock.now() + LATER)
    assert position(engine) == FeedPosition(0, last)
    assert poll(client, **{"Last-Event-ID": str(last)}) == f"retry: 1000\nid: {last}\n\n"
    assert poll(client) == f"retry: 1000\nid: {last}\n\n"


def test_sweeps_come_a_tenth_of_the_retention_apart_within_bounds() -> None:
    assert sweep_seconds(dt.timedelta(minutes=30)) == 180.0
    assert sweep_seconds(dt.timedelta(seconds=50)) == 5.0
    assert sweep_seconds(dt.timedelta(seconds=1)) == MIN_SWEEP_SECONDS
    assert sweep_seconds(dt.timedelta(days=7)) == MAX_SWEEP_SECONDS


@pytest.mark.slow
def test_the_app_prunes_by_itself(database_url: str, engine: Engine) -> None:
    settings = Settings(
        database_url=database_url,
        rate_limit="off",
        events_retention_hours=1 / 3600,  # a second: a sweep every MIN_SWEEP_SECONDS
    )
    app = create_app(settings)
    with TestClient(app, base_url=API_BASE_URL, headers=TEMPLATE_AUTH) as client:
        for number in range(3):
            post_created(client, "/todos", title=f"todo {number}")
        made = seqs(engine)
        deadline = time.monotonic() + PRUNED_WITHIN_SECONDS
        while position(engine).pruned_through < made[-2]:
            assert time.monotonic() < deadline, "nothing was pruned"
            time.sleep(0.1)  # polling interval; the loop checks the condition
    assert seqs(engine) == made[-1:]
