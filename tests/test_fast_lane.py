"""The fast lane answers exactly as FastAPI does, and hands FastAPI whatever it cannot answer.

Every request is sent twice: as the lane takes it, and through FastAPI's routing. For one todo
a query string the route ignores does that (the lane takes no query there); `GET /todos` is
sent to a second app on the same database, built without the lane.
"""

import logging
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import API_BASE_URL, TEMPLATE_AUTH, post_created
from todo_api.app import create_app
from todo_api.config import Settings
from todo_api.performance.fast_lane import FastLane
from todo_api.schemas import TodoCreate, TodoPageQuery

VIA_FASTAPI = "?via=fastapi"
# Differ between two otherwise identical answers: when, which row, which request.
_PER_TODO_FIELDS = ("id", "url", "created_at", "updated_at", "completed_at")
_PER_REQUEST_HEADERS = ("x-request-id", "location")


def _comparable_headers(response: Any) -> dict[str, str]:
    return {
        name: value for name, value in response.headers.items() if name not in _PER_REQUEST_HEADERS
    }


def _comparable_body(response: Any) -> Any:
    body = response.json()
    if response.status_code == 201:
        return {name: value for name, value in body.items() if name not in _PER_TODO_FIELDS}
    return body


@pytest.fixture
def fastapi_client(settings: Settings) -> Iterator[TestClient]:
    """The same app on the same database, with every request routed by FastAPI."""
    app = create_app(settings)
    lane: object = FastLane
    app.user_middleware = [entry for entry in app.user_middleware if entry.cls is not lane]
    with TestClient(
        app, raise_server_exceptions=False, base_url=API_BASE_URL, headers=TEMPLATE_AUTH
    ) as test_client:
        yield test_client


def _todo_count(client: TestClient) -> int:
    return len(client.get("/todos?limit=200").json())


def test_get_one_answers_byte_for_byte_as_fastapi(client: TestClient) -> None:
    todo = post_created(
        client,
        "/todos",
        title="File taxes",
        description="before **April**",
        tags=["Home", "money"],
        due_at="2027-04-15T17:00:00+02:00",
        priority=3,
        order=2.5,
    )
    path = f"/todos/{todo['id']}"

    fast = client.get(path)
    full = client.get(path + VIA_FASTAPI)

    assert fast.status_code == full.status_code == 200
    assert fast.content == full.content
    assert _comparable_headers(fast) == _comparable_headers(full)
    assert fast.headers["etag"] and fast.headers["x-request-id"]


def test_get_one_with_if_none_match_is_304(client: TestClient) -> None:
    todo = post_created(client, "/todos", title="cached")
    etag = client.get(f"/todos/{todo['id']}").headers["etag"]

    answer = client.get(f"/todos/{todo['id']}", headers={"If-None-Match": etag})

    assert answer.status_code == 304
    assert answer.headers["etag"] == etag


def test_unknown_id_is_the_same_404_problem(client: TestClient) -> None:
    fast = client.get("/todos/424242")
    full = client.get("/todos/424242" + VIA_FASTAPI)

    assert fast.status_code == full.status_code == 404
    assert fast.headers["content-type"] == "application/problem+json"
    assert fast.json() == full.json()


@pytest.mark.parametrize("todo_id", ["007", "0", "99999999999999999999", "abc"])
def test_ids_the_lane_does_not_take_answer_as_fastapi(client: TestClient, todo_id: str) -> None:
    fast = client.get(f"/todos/{todo_id}")
    full = client.get(f"/todos/{todo_id}{VIA_FASTAPI}")

    assert fast.status_code == full.status_code
    assert fast.json() == full.json()


def test_created_todo_answers_as_fastapi(client: TestClient) -> None:
    body = {"title": "  buy milk  ", "tags": ["shop"], "due_date": "2027-01-02", "priority": 1}

    fast = client.post("/todos", json=body)
    full = client.post("/todos" + VIA_FASTAPI, json=body)

    assert fast.status_code == full.status_code == 201
    assert _comparable_body(fast) == _comparable_body(full)
    assert _comparable_headers(fast).keys() == _comparable_headers(full).keys()
    assert fast.headers["location"] == fast.json()["url"]
    assert client.get(fast.headers["location"]).json() == fast.json()


def test_an_error_inside_the_lane_is_fastapis_problem_and_writes_nothing(
    client: TestClient,
) -> None:
    fast = client.post("/todos", json={"title": "nowhere", "list_id": 999})
    full = client.post("/todos" + VIA_FASTAPI, json={"title": "nowhere", "list_id": 999})

    assert fast.status_code == full.status_code == 422  # list_id names no list: invalid body
    assert fast.json() == full.json()
    assert _todo_count(client) == 0


def test_a_chunked_body_goes_to_fastapi_and_is_created(client: TestClient) -> None:
    answer = client.post(
        "/todos",
        content=iter([b'{"title": ', b'"streamed"}']),
        headers={"Content-Type": "application/json"},
    )

    assert answer.status_code == 201
    assert answer.json()["title"] == "streamed"


def test_lane_requests_are_logged_with_their_route_template(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="todo_api.access"):
        todo = post_created(client, "/todos", title="logged")
        client.get(f"/todos/{todo['id']}")
        client.get("/todos?limit=5")
    lines = [r.__dict__ for r in caplog.records if r.name == "todo_api.access"]
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("POST", "/todos", 201),
        ("GET", "/todos/{todo_id}", 200),
        ("GET", "/todos", 200),
    ]


# Values worth trying for the fields of the create model; a field added to the model without an
# entry here is sampled all the same, with values of every JSON type.
_INTERESTING_VALUES = {
    "title": st.one_of(st.text(max_size=30), st.integers(), st.none(), st.just(" " * 3)),
    "description": st.one_of(st.text(max_size=20), st.none()),
    "completed": st.one_of(st.booleans(), st.sampled_from(["yes", "true", 1])),
    "order": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.none()),
    "priority": st.integers(min_value=-1, max_value=4),
    "tags": st.lists(st.text(max_size=8), max_size=3),
    "list_id": st.sampled_from([None, 1, 999]),
    "due_date": st.sampled_from(["2027-01-02", "2027-02-30", "soon"]),
    "due_at": st.sampled_from(["2027-01-02T10:00:00+02:00", "2027-01-02T10:00:00", "later"]),
}
_ANY_JSON = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8))
_FIELD_VALUES = {
    name: _INTERESTING_VALUES.get(name, _ANY_JSON) for name in TodoCreate.model_fields
} | {"unknown": st.integers()}
_BODIES = st.one_of(
    st.dictionaries(st.sampled_from(sorted(_FIELD_VALUES)), st.integers()).flatmap(
        lambda keys: st.fixed_dictionaries({key: _FIELD_VALUES[key] for key in keys})
    ),
    st.lists(st.integers(), max_size=2),
    st.text(max_size=5),
)


@given(body=_BODIES)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_body_is_answered_as_fastapi_answers_it(client: TestClient, body: Any) -> None:
    before = _todo_count(client)

    fast = client.post("/todos", json=body)
    full = client.post("/todos" + VIA_FASTAPI, json=body)

    assert fast.status_code == full.status_code
    assert fast.status_code in (201, 422), fast.text  # list 999 does not exist: 422
    assert _comparable_body(fast) == _comparable_body(full)
    assert _todo_count(client) == before + (2 if fast.status_code == 201 else 0)


@pytest.mark.parametrize(
    "raw", [b"", b"{", b'{"title": NaN}', b'{"title": "\\ud800"}', b"\xff\xfe"]
)
def test_bodies_the_lane_cannot_parse_are_fastapis_errors(client: TestClient, raw: bytes) -> None:
    headers = {"Content-Type": "application/json"}

    fast = client.post("/todos", content=raw, headers=headers)
    full = client.post("/todos" + VIA_FASTAPI, content=raw, headers=headers)

    assert fast.status_code == full.status_code
    assert fast.json() == full.json()


def _assert_same_answer(fast: Any, full: Any) -> None:
    assert fast.status_code == full.status_code, fast.text
    assert fast.content == full.content
    assert _comparable_headers(fast) == _comparable_headers(full)


def _seed_pages(client: TestClient) -> None:
    for n in range(7):
        day = f"0{n + 1}"
        due = [{}, {"due_date": f"2027-01-{day}"}, {"due_at": f"2020-01-{day}T10:00:00+02:00"}]
        post_created(
            client,
            "/todos",
            title=f"chore {n} milk" if n % 2 else f"errand {n}",
            tags=["Home"] if n % 3 else ["urgent", "home"],
            priority=n % 4,
            order=None if n % 2 else float(n),
            completed=n % 3 == 0,
            **due[n % 3],
        )


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?limit=2",
        "?sort=order&limit=3",
        "?sort=-priority&completed=false",
        "?tag=home&tag=URGENT",
        "?q=mil",
        "?due_before=2027-01-05&due_after=2020-01-01",
        "?overdue=true&sort=due",
        "?overdue=false&due_before=2027-01-03T00:00:00Z",
        "?limit=2&limit=4",  # the last value counts, as in FastAPI
        "?limit=0",
        "?limit=abc",
        "?completed=",
        "?completd=true",
        "?cursor=forged",
    ],
)
def test_pages_answer_byte_for_byte_as_fastapi(
    client: TestClient, fastapi_client: TestClient, query: str
) -> None:
    _seed_pages(client)

    _assert_same_answer(client.get("/todos" + query), fastapi_client.get("/todos" + query))


def test_walking_pages_through_the_lane_follows_fastapis_links(
    client: TestClient, fastapi_client: TestClient
) -> None:
    _seed_pages(client)
    path: str | None = "/todos?sort=order&limit=2"
    pages = 0
    while path is not None:
        fast, full = client.get(path), fastapi_client.get(path)
        _assert_same_answer(fast, full)
        pages += 1
        path = fast.links["next"]["url"] if "next" in fast.links else None

    assert pages == 4  # 7 todos, 2 a page


# Names and values come from the model the route declares, so a field added to it is sampled
# with no edit here. Names it does not declare go to FastAPI, which rejects them.
_UNDECLARED_NAMES = ["LIMIT", "completd"]
_ANY_VALUES = st.one_of(
    st.sampled_from(
        [
            *("", "1", "0", "2", "true", "no", "-1", "201", "home", "URGENT", "milk", "errand"),
            *("2027-01-03", "2020-01-02T09:00:00+01:00", "2027-02-30", "2027-01-03T00:00:00"),
        ]
    ),
    st.text(max_size=6),
)


def _query_values(annotation: Any) -> st.SearchStrategy[str]:
    """Any value, and each choice a Literal field offers (a sort name, say)."""
    choices = typing.get_args(annotation) if typing.get_origin(annotation) is typing.Literal else ()
    return st.one_of(_ANY_VALUES, st.sampled_from([str(choice) for choice in choices or [""]]))


_QUERY_PARAMETERS = st.one_of(
    *(
        st.tuples(st.just(name), _query_values(field.annotation))
        for name, field in TodoPageQuery.model_fields.items()
    ),
    st.tuples(st.sampled_from(_UNDECLARED_NAMES), _ANY_VALUES),
)


@given(query=st.lists(_QUERY_PARAMETERS, max_size=4))
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_query_is_answered_as_fastapi_answers_it(
    client: TestClient, fastapi_client: TestClient, query: list[tuple[str, str]]
) -> None:
    if _todo_count(client) == 0:
        _seed_pages(client)

    fast = client.get("/todos", params=tuple(query))
    full = fastapi_client.get("/todos", params=tuple(query))

    assert fast.status_code in (200, 422), fast.text
    _assert_same_answer(fast, full)
