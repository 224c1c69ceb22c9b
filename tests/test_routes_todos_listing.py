"""GET /todos filters, sorts, full-text search, and keyset pagination under every sort."""

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import API_BASE_URL, TEMPLATE_AUTH, migrated_copy
from todo_api.app import create_app
from todo_api.config import Settings
from todo_api.repository.todos import SORTS, TodoCriteria
from todo_api.routes.todos import criteria_of
from todo_api.schemas import TodoFilters


def create(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/todos", json={"title": "t", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(client: TestClient, **params: Any) -> list[int]:
    response = client.get("/todos", params=params)
    assert response.status_code == 200, response.text
    return [todo["id"] for todo in response.json()]


def walk(
    client: TestClient, params: dict[str, Any], between: Callable[[], None]
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    response = client.get("/todos", params=params)
    while True:
        assert response.status_code == 200, response.text
        seen.extend(response.json())
        next_url = response.links.get("next", {}).get("url")
        if not next_url:
            return seen
        between()
        response = client.get(next_url)


def test_filters_combine(client: TestClient) -> None:
    work = client.post("/lists", json={"name": "work"}).json()["id"]
    match = create(client, list_id=work, tags=["A", "b"], priority=3, completed=False)
    create(client, list_id=work, tags=["a"], priority=3)  # lacks tag b
    create(client, tags=["a", "b"], priority=3)  # other list
    create(client, list_id=work, tags=["a", "b"], priority=1)  # priority too low
    params = {"list_id": work, "tag": ["a", "B"], "priority_min": 2, "completed": "false"}
    assert ids(client, **params) == [match["id"]]


def test_due_filters_and_overdue(client: TestClient) -> None:
    now = dt.datetime.now(dt.UTC)
    past = create(client, due_at=(now - dt.timedelta(hours=1)).isoformat())
    past_done = create(client, due_at=(now - dt.timedelta(hours=2)).isoformat(), completed=True)
    future = create(client, due_date=(now + dt.timedelta(days=3)).date().isoformat())
    undated = create(client)
    assert ids(client, overdue="true") == [past["id"]]
    assert set(ids(client, overdue="false")) == {past_done["id"], future["id"], undated["id"]}
    assert set(ids(client, due_before=now.isoformat())) == {past["id"], past_done["id"]}
    assert ids(client, due_after=now.isoformat()) == [future["id"]]
    tomorrow = (now + dt.timedelta(days=1)).date().isoformat()
    assert future["id"] not in ids(client, due_before=tomorrow)


def test_all_day_due_date_is_overdue_only_after_the_day(client: TestClient) -> None:
    today = dt.datetime.now(dt.UTC).date()
    create(client, due_date=today.isoformat())
    yesterday = create(client, due_date=(today - dt.timedelta(days=1)).isoformat())
    assert ids(client, overdue="true") == [yesterday["id"]]


def test_full_text_search(client: TestClient) -> None:
    milk = create(client, title="Buy oat milk", description="the Swedish one")
    cafe = create(client, title="Café with Åsa")
    create(client, title="Call the bank")
    assert ids(client, q="milk") == [milk["id"]]
    assert ids(client, q="swed") == [milk["id"]]  # last word is a prefix
    assert ids(client, q="BUY milk") == [milk["id"]]
    assert ids(client, q="cafe asa") == [cafe["id"]]  # diacritics folded
    assert ids(client, q="milk bank") == []
    client.patch(f"/todos/{milk['id']}", json={"title": "Buy bread"})
    assert ids(client, q="oat") == []
    assert ids(client, q="bread") == [milk["id"]]
    client.delete(f"/todos/{milk['id']}")
    assert ids(client, q="bread") == []


@pytest.mark.parametrize(
    ("q", "finds_it"),
    [
        ("AND OR NOT", True),  # operators are words like any other
        ("milk)", False),
        ("NEAR(a b)", False),
        ("title:x", False),
        ("a' OR 1=1", False),
    ],
)
def test_search_syntax_is_taken_as_words(client: TestClient, q: str, finds_it: bool) -> None:
    todo = create(client, title="and or not near title")
    assert ids(client, q=q) == ([todo["id"]] if finds_it else [])


@pytest.mark.parametrize("q", ['"', "*"])
def test_search_syntax_without_words_is_422(client: TestClient, q: str) -> None:
    response = client.get("/todos", params={"q": q})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "q"]


def test_search_without_words_is_422(client: TestClient) -> None:
    response = client.get("/todos", params={"q": "!!!"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "q"]


def test_sorts(client: TestClient) -> None:
    first = create(client, order=2, priority=1, due_date="2030-01-02")
    second = create(client, order=1, priority=3, due_at="2030-01-01T10:00:00+02:00")
    third = create(client, priority=2)
    assert ids(client, sort="-created_at") == [third["id"], second["id"], first["id"]]
    assert ids(client, sort="created_at") == [first["id"], second["id"], third["id"]]
    assert ids(client, sort="order") == [second["id"], first["id"], third["id"]]  # nulls last
    assert ids(client, sort="due") == [second["id"], first["id"], third["id"]]
    assert ids(client, sort="-priority") == [second["id"], third["id"], first["id"]]
    client.patch(f"/todos/{first['id']}", json={"title": "touched"})
    assert ids(client, sort="updated_at")[-1] == first["id"]
    assert ids(client, sort="-updated_at")[0] == first["id"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sort", "title"),
        ("sort", "-order;drop"),
        ("priority_min", "4"),
        ("priority_min", "high"),
        ("list_id", "0"),
        ("completed", "maybe"),
        ("overdue", "sometimes"),
        ("due_before", "next week"),
        ("due_before", "2026-12-01T10:00:00"),
        ("due_after", "2026-13-01"),
        ("tag", "x" * 51),
        ("q", "x" * 201),
        ("complete", "true"),  # a typo must not be ignored
    ],
)
def test_invalid_query_parameters_are_422_naming_them(
    client: TestClient, name: str, value: str
) -> None:
    for method in ("GET", "DELETE"):
        response = client.request(method, "/todos", params={name: value})
        assert response.status_code == 422, (method, response.text)
        assert response.json()["errors"][0]["loc"][:2] == ["query", name]


def test_cursor_of_another_sort_is_422(client: TestClient) -> None:
    for n in range(3):
        create(client, order=n)
    next_url = client.get("/todos", params={"limit": 1, "sort": "order"}).links["next"]["url"]
    cursor = next_url.split("cursor=")[1].split("&")[0]
    response = client.get("/todos", params={"cursor": cursor, "sort": "due", "limit": 1})
    assert response.status_code == 422


field_values = st.fixed_dictionaries(
    {},
    optional={
        "order": st.sampled_from([1.0, 2.0, 2.0, -5.5]),
        "priority": st.integers(0, 3),
        "due_date": st.sampled_from(["2030-01-01", "2030-01-02"]),
        "completed": st.booleans(),
    },
)


@pytest.mark.slow  # a long property run: an app and a database per example
@given(
    todos=st.lists(field_values, max_size=14),
    sort=st.sampled_from(sorted(SORTS)),
    limit=st.integers(1, 5),
    inserts=st.lists(field_values, max_size=2),
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_every_sort_pages_through_every_todo_once(
    tmp_path_factory: pytest.TempPathFactory,
    migrated_template: Path,
    todos: list[dict[str, Any]],
    sort: str,
    limit: int,
    inserts: list[dict[str, Any]],
) -> None:
    database_url = migrated_copy(migrated_template, tmp_path_factory.mktemp("sorts") / "todo.db")
    with TestClient(
        create_app(Settings(database_url=database_url)),
        base_url=API_BASE_URL,
        headers=TEMPLATE_AUTH,
    ) as client:
        existing = {create(client, **fields)["id"] for fields in todos}
        expected_order = ids(client, sort=sort, limit=200)

        rounds_left = [3]  # new todos may sort after the cursor: bound them, or walks never end

        def insert_more() -> None:
            if rounds_left[0]:
                rounds_left[0] -= 1
                for fields in inserts:
                    create(client, **fields)

        seen = [todo["id"] for todo in walk(client, {"sort": sort, "limit": limit}, insert_more)]
        assert len(seen) == len(set(seen)), "a todo appeared twice"
        assert existing <= set(seen), "a todo that existed before the walk was skipped"
        assert [i for i in seen if i in existing] == expected_order


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("due_before", "0001-01-01T00:00:00+01:00"),
        ("due_before", "9999-12-31T23:59:59-05:00"),
        ("due_after", "0001-01-01"),
    ],
)
def test_moments_the_database_cannot_hold_are_422(
    client: TestClient, name: str, value: str
) -> None:
    response = client.get("/todos", params={name: value})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][:2] == ["query", name]


@pytest.mark.parametrize(
    ("sort", "key"),
    [("-priority", 2**63 + 5), ("order", "1e400"), ("due", "0001-01-01T00:00:00+01:00")],
)
def test_forged_cursor_keys_out_of_range_are_422(client: TestClient, sort: str, key: Any) -> None:
    import base64

    import orjson

    from todo_api.pagination import CURSOR_VERSION, query_fingerprint
    from todo_api.schemas import TodoPageQuery

    query = TodoPageQuery(sort=sort)
    fingerprint = query_fingerprint(1, query.model_dump(mode="json", exclude={"limit", "cursor"}))
    payload = orjson.dumps([CURSOR_VERSION, key, 5, fingerprint])
    cursor = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    response = client.get("/todos", params={"sort": sort, "cursor": cursor})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]


def test_every_query_filter_reaches_the_repository() -> None:
    """The repository takes its own criteria type; a filter the route forgot to pass is an error."""
    assert set(TodoFilters.model_fields) == {
        field.name for field in dataclasses.fields(TodoCriteria)
    }
    filters = TodoFilters(
        list_id=1,
        completed=True,
        tag=["a", "B"],
        priority_min=2,
        due_before="2026-12-02",
        due_after="2026-12-01",
        overdue=False,
        q="milk",
    )
    criteria = criteria_of(filters)
    assert {name: getattr(criteria, name) for name in TodoFilters.model_fields} == {
        **filters.model_dump(),
        "tag": ("a", "B"),
    }


def test_count_takes_the_filters_of_a_page(client: TestClient) -> None:
    other = client.post("/lists", json={"name": "Other"}).json()
    create(client, title="milk", completed=True, tags=["home"])
    create(client, title="oat milk", tags=["home"])
    create(client, title="bread")
    create(client, title="elsewhere", list_id=other["id"])

    def count(**params: Any) -> int:
        response = client.get("/todo-count", params=params)
        assert response.status_code == 200, response.text
        counted: int = response.json()["count"]
        return counted

    assert count() == 4
    assert count(list_id=other["id"]) == 1
    assert count(completed="false") == 3
    assert count(completed="true", tag="HOME") == 1
    assert count(q="mil") == 2
    assert count(list_id=other["id"], completed="true") == 0


def test_count_refuses_what_a_page_refuses(client: TestClient) -> None:
    assert client.get("/todo-count", params={"sort": "order"}).status_code == 422
    assert client.get("/todo-count", params={"q": "!!"}).status_code == 422
    assert client.get("/todos/count?completed=true&completed=false").status_code == 422
