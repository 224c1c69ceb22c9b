"""Search across several owners, against a model: each plan (gather, walk, prefix left to FTS5)
finds exactly the caller's matches, each once across keyset pages, with writes between pages."""

import datetime as dt
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from todo_api.db import create_engine
from todo_api.pagination import Position
from todo_api.repository import search_index
from todo_api.repository import todos as repository
from todo_api.repository.users import create_user

WORDS = ("buy", "buyer", "bus", "milk", "mild", "café")
QUERIES = ("bu", "buy", "buye", "mil", "buy mi", "bus milk", "b", "caf", "zzz")
SORTS = tuple(repository.SORTS)
OWNERS = 3
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
# Forced plans: every count gathers, or every search with many matches walks; one prefix term
# at most sends most prefixes to FTS5 (the fallback).
PLANS = {
    "gather": {"GATHER_LIMIT": 10**9},
    "walk": {"GATHER_LIMIT": 0},
    "prefix_left_to_fts5": {"GATHER_LIMIT": 0, "MAX_PREFIX_TERMS": 1},
}


@pytest.fixture(params=list(PLANS))
def plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    chosen: str = request.param
    for constant, value in PLANS[chosen].items():
        monkeypatch.setattr(search_index, constant, value)
    return chosen


_usernames = itertools.count()


def _matches(title: str, query: str) -> bool:
    """The model: every word but the last is a word of the title; the last starts one."""
    tokens = title.replace("é", "e").split()
    *exact, last = query.split()
    return all(word in tokens for word in exact) and any(t.startswith(last) for t in tokens)


class Model:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.titles: dict[int, tuple[int, str]] = {}  # id -> (owner, title)
        self.tick = 0
        with engine.begin() as connection:
            self.owners = [
                create_user(connection, f"owner{next(_usernames)}", "x", START).id
                for _ in range(OWNERS)
            ]

    def now(self) -> dt.datetime:
        self.tick += 1
        return START + dt.timedelta(seconds=self.tick // 2)  # pairs share a time: ties

    def create(self, owner: int, title: str, priority: int) -> None:
        owner_id = self.owners[owner]
        fields = {"title": title, "priority": priority}
        with self.engine.begin() as connection:
            todo = repository.create_todo(connection, owner_id, fields, self.now())
        self.titles[todo.id] = (owner_id, title)

    def retitle(self, pick: int, title: str) -> int | None:
        if not self.titles:
            return None
        todo_id = sorted(self.titles)[pick % len(self.titles)]
        owner_id, _ = self.titles[todo_id]
        with self.engine.begin() as connection:
            repository.update_todo(connection, owner_id, todo_id, {"title": title}, self.now())
        self.titles[todo_id] = (owner_id, title)
        return todo_id

    def expected(self, owner_id: int, query: str) -> set[int]:
        return {
            todo_id
            for todo_id, (owner, title) in self.titles.items()
            if owner == owner_id and _matches(title, query)
        }

    def page(
        self, owner_id: int, query: str, sort: str, after: Position | None
    ) -> list[repository.Todo]:
        with self.engine.begin() as connection:  # as the route: the queue first
            search_index.index_pending_search(connection)
        with self.engine.connect() as connection:
            criteria = repository.TodoCriteria(q=query)
            return repository.list_todos(
                connection, owner_id, criteria, sort_name=sort, limit=2, after=after
            )


_TITLES = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)
_WRITES = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.integers(0, OWNERS - 1), _TITLES, st.integers(0, 2)),
        st.tuples(st.just("retitle"), st.integers(0, 30), _TITLES),
    ),
    max_size=4,
)


@given(
    todos=st.lists(st.tuples(st.integers(0, OWNERS - 1), _TITLES, st.integers(0, 2)), max_size=20),
    searches=st.lists(
        st.tuples(
            st.integers(0, OWNERS - 1),
            st.sampled_from(QUERIES),
            st.sampled_from(SORTS),
            st.lists(_WRITES, max_size=6),
        ),
        min_size=1,
        max_size=3,
    ),
)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_each_owner_finds_exactly_their_matches_once(
    plan: str, database_url: str, todos: list[Any], searches: list[Any]
) -> None:
    engine = create_engine(database_url)
    try:
        model = Model(engine)
        for owner, title, priority in todos:
            model.create(owner, title, priority)
        for owner, query, sort_name, writes_between_pages in searches:
            _walk_pages(model, model.owners[owner], query, sort_name, writes_between_pages)
    finally:
        engine.dispose()


def _walk_pages(
    model: Model, owner_id: int, query: str, sort_name: str, writes: list[list[Any]]
) -> None:
    sort = repository.SORTS[sort_name]
    before = model.expected(owner_id, query)
    changed: set[int] = set()
    seen: list[int] = []
    after = None
    for page_number in range(100):
        page = model.page(owner_id, query, sort_name, after)
        now_matching = model.expected(owner_id, query)
        assert {todo.id for todo in page} <= now_matching  # nobody else's, and a match now
        seen += [todo.id for todo in page]
        if len(page) < 2:
            break
        after = Position(sort.key_of(page[-1]), page[-1].id)
        for write in writes[page_number] if page_number < len(writes) else []:
            if write[0] == "create":
                model.create(*write[1:])
            elif (todo_id := model.retitle(*write[1:])) is not None:
                changed.add(todo_id)
    unchanged = (before & model.expected(owner_id, query)) - changed
    assert unchanged <= set(seen)  # matched throughout: found
    moves = sort.column.name == "updated_at"  # a retitle moves a todo in this order
    repeated = {todo_id for todo_id in seen if seen.count(todo_id) > 1}
    assert repeated <= (changed if moves else set())  # found once
