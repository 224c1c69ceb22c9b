"""GET /export and POST /import of the JSON document: round trip, validation, atomicity."""

import datetime as dt
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import StrictListRead, StrictTodoRead
from support import API_BASE_URL, TEMPLATE_AUTH, migrated_copy
from support import post_created as post
from todo_api import export_document
from todo_api.app import create_app
from todo_api.config import Settings
from todo_api.db import open_database
from todo_api.export_document import ExportDocument
from todo_api.repository.import_export import ImportedTodo
from todo_api.tables import LOCAL_USER_ID, lists, todos, users

IGNORED = {"id", "url", "list_id"}  # ids differ between instances; the list is compared by name


def fresh_client(template: Path, path: Path, **options: Any) -> TestClient:
    """A client of a new instance on its own copy of the migrated `template` database."""
    database_url = migrated_copy(template, path)
    return TestClient(
        create_app(Settings(database_url=database_url, **options)),
        base_url=API_BASE_URL,
        headers=TEMPLATE_AUTH,
    )


def rich_dataset(client: TestClient) -> None:
    """Several lists, mixed-case tags, every field set somewhere, completed todos."""
    inbox = client.get("/lists").json()[0]
    client.patch(
        f"/lists/{inbox['id']}",
        json={"name": "Eingang", "order": 0.5},
        headers={"content-type": "application/merge-patch+json"},
    )
    work = post(client, "/lists", name="Work", order=2)
    home = post(client, "/lists", name="Home")
    post(
        client,
        "/todos",
        title="Ship the release",
        description="with notes\nand a second line",
        list_id=work["id"],
        tags=["Urgent", "release", "Q3"],
        priority=3,
        order=1.25,
        due_at="2026-12-01T09:30:00+05:30",
    )
    post(
        client,
        "/todos",
        title="Water plants 🌱",
        list_id=home["id"],
        tags=["home", "URGENT"],
        priority=1,
        due_date="2026-06-30",
        completed=True,
    )
    post(client, "/todos", title="Call back", due_at="2026-03-01T17:00:00-03:00", completed=True)
    post(client, "/todos", title="Someday", priority=2, order=-3)
    post(client, "/todos", title="Plain")


def lists_by_name(client: TestClient) -> dict[str, dict[str, Any]]:
    found = client.get("/lists").json()
    for item in found:
        StrictListRead.model_validate(item)
    return {item["name"]: item for item in found}


def comparable_todos(client: TestClient) -> list[dict[str, Any]]:
    """Every todo, oldest first, with its list's name in place of ids and URLs."""
    names = {item["id"]: item["name"] for item in client.get("/lists").json()}
    response = client.get("/todos", params={"sort": "created_at", "limit": 200})
    assert response.status_code == 200
    found = []
    for todo in response.json():
        StrictTodoRead.model_validate(todo)
        found.append(
            {"list": names[todo["list_id"]], **{k: v for k, v in todo.items() if k not in IGNORED}}
        )
    return found


def comparable_lists(client: TestClient) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in item.items() if k not in IGNORED}
        for item in lists_by_name(client).values()
    ]


def import_json(client: TestClient, body: bytes) -> Any:
    return client.post("/import", content=body, headers={"content-type": "application/json"})


def document(*todo_items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"format": "todo-api", "version": 1, "todos": list(todo_items), **fields}


def assert_validation_problem(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "urn:todo-api:problem:validation-error"
    assert body["status"] == 422
    errors: list[dict[str, Any]] = body["errors"]
    assert all(set(error) == {"loc", "msg", "type"} for error in errors)
    return errors


def test_import_of_an_export_reproduces_every_field_but_ids(
    client: TestClient, other_client: TestClient
) -> None:
    rich_dataset(client)
    exported = client.get("/export")
    assert exported.status_code == 200

    response = import_json(other_client, exported.content)

    assert response.status_code == 200, response.text
    assert response.json() == {"lists": 2, "todos": 5}  # the default list merged, not created
    assert comparable_lists(other_client) == comparable_lists(client)
    assert comparable_todos(other_client) == comparable_todos(client)
    source = comparable_todos(client)
    assert [todo["due_at"] for todo in source if todo["due_at"]] == [
        "2026-12-01T09:30:00+05:30",
        "2026-03-01T17:00:00-03:00",
    ]
    assert other_client.get("/tags").json() == client.get("/tags").json()


def test_export_of_an_import_is_the_same_document(
    client: TestClient, other_client: TestClient
) -> None:
    rich_dataset(client)
    first = client.get("/export").json()
    import_json(other_client, client.get("/export").content)
    second = other_client.get("/export").json()
    assert {**second, "exported_at": None} == {**first, "exported_at": None}


def test_export_document_shape_and_download_headers(client: TestClient) -> None:
    rich_dataset(client)
    response = client.get("/export")
    assert response.headers["content-type"] == "application/json"
    assert re.fullmatch(
        r'attachment; filename="todo-export-\d{8}\.json"', response.headers["content-disposition"]
    )
    today = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    assert today in response.headers["content-disposition"]
    body = response.json()
    ExportDocument.model_validate(body)
    assert (body["format"], body["version"]) == ("todo-api", 1)
    assert [item["ref"] for item in body["lists"]] == ["l1", "l2", "l3"]
    assert {item["list"] for item in body["todos"]} <= {"l1", "l2", "l3"}
    assert set(body["todos"][0]) == {"list", *export_document.EXPORTED_TODO_FIELDS}
    assert "id" not in body["todos"][0]


def test_import_appends_and_merges_the_default_list(
    client: TestClient, other_client: TestClient
) -> None:
    rich_dataset(client)
    exported = client.get("/export").content
    post(other_client, "/todos", title="already here")

    import_json(other_client, exported)
    import_json(other_client, exported)

    names = sorted(item["name"] for item in other_client.get("/lists").json())
    assert names == ["Eingang", "Home", "Home", "Work", "Work"]  # one default list, renamed
    titles = [todo["title"] for todo in comparable_todos(other_client)]
    assert titles.count("already here") == 1
    assert titles.count("Ship the release") == 2
    assert len(titles) == 11


def test_timestamps_are_kept_and_missing_ones_default(client: TestClient) -> None:
    body = document(
        {
            "title": "old",
            "completed": True,
            "created_at": "2020-01-02T03:04:05.123456+02:00",
            "updated_at": "2020-02-01T00:00:00Z",
        },
        {"title": "new"},
    )
    before = dt.datetime.now(dt.UTC)
    assert client.post("/import", json=body).status_code == 200
    found = client.get("/todos", params={"sort": "created_at"}).json()
    old, new = (StrictTodoRead.model_validate(todo) for todo in found)
    assert old.created_at == dt.datetime(2020, 1, 2, 1, 4, 5, 123456, tzinfo=dt.UTC)
    assert old.updated_at == dt.datetime(2020, 2, 1, tzinfo=dt.UTC)
    assert old.completed_at == old.updated_at  # completed without completed_at: last change
    assert new.created_at == new.updated_at >= before
    assert new.list_id == client.get("/lists").json()[0]["id"]  # no list: the default list


def test_a_big_document_validated_in_slices_names_each_bad_todo_by_its_index(
    client: TestClient,
) -> None:
    """Past VALIDATION_SLICE todos, validation runs slice by slice (the event loop gets the GIL
    in between); errors still name the todo's index in the whole document."""
    count = 2 * export_document.VALIDATION_SLICE + 10
    items: list[dict[str, Any]] = [{"title": f"todo {n}"} for n in range(count)]
    items[3] = {"title": ""}
    items[count - 1] = {"title": "late", "completed_at": "2026-01-01T00:00:00Z"}
    errors = assert_validation_problem(client.post("/import", json=document(*items)))
    assert [error["loc"] for error in errors] == [
        ["body", "todos", 3, "title"],
        ["body", "todos", count - 1],
    ]
    assert client.get("/todos").json() == []
    items[3], items[count - 1] = {"title": "fixed"}, {"title": "late"}
    imported = client.post("/import", json=document(*items))
    assert imported.status_code == 200
    assert imported.json() == {"lists": 0, "todos": count}


def test_one_bad_todo_among_many_imports_nothing(client: TestClient) -> None:
    items = [{"title": f"todo {n}", "tags": ["bulk"]} for n in range(40)]
    items[12] = {"title": "   ", "tags": ["bulk"]}
    body = document(*items, lists=[{"ref": "x", "name": "Extra"}])

    errors = assert_validation_problem(client.post("/import", json=body))

    assert errors == [
        {
            "loc": ["body", "todos", 12, "title"],
            "msg": "String should have at least 1 character",
            "type": "string_too_short",
        }
    ]
    assert client.get("/todos").json() == []
    assert [item["name"] for item in client.get("/lists").json()] == ["Inbox"]
    assert client.get("/tags").json() == []


def test_every_invalid_item_is_reported_at_once(client: TestClient) -> None:
    body = document(
        {"title": "fine", "list": "l1"},
        {"title": "x" * 501},
        {"title": "t", "priority": True, "unknown": 1},
        {"title": "t", "list": "nowhere"},
        {"title": "t", "due_date": "2026-01-01", "due_at": "2026-01-01T00:00:00Z"},
        {"title": "t", "created_at": "2026-01-01T00:00:00"},
        {"title": "t", "completed_at": "2026-01-01T00:00:00Z"},
        lists=[
            {"ref": "l1", "name": "A", "is_default": True},
            {"ref": "l1", "name": "B", "is_default": True},
        ],
    )
    errors = assert_validation_problem(client.post("/import", json=body))
    locs = [error["loc"] for error in errors]
    assert ["body", "todos", 1, "title"] in locs
    assert ["body", "todos", 2, "priority"] in locs
    assert ["body", "todos", 2, "unknown"] in locs
    assert ["body", "todos", 3, "list"] in locs
    assert ["body", "todos", 4] in locs  # due_date and due_at together
    assert ["body", "todos", 5, "created_at"] in locs  # no offset
    assert ["body", "todos", 6] in locs  # completed_at without completed
    assert ["body", "lists", 1, "ref"] in locs
    assert ["body", "lists", 1, "is_default"] in locs
    assert not any(loc[:3] == ["body", "todos", 0] for loc in locs)


def test_the_problem_lists_at_most_a_hundred_errors(client: TestClient) -> None:
    body = document(*[{"title": ""} for _ in range(250)])
    response = client.post("/import", json=body)
    assert len(assert_validation_problem(response)) == export_document.MAX_REPORTED_ERRORS
    assert "247 more" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"format": "other", "version": 1}, ["body", "format"]),
        ({"version": 1, "todos": []}, ["body", "format"]),
        ({"format": "todo-api", "version": 2}, ["body", "version"]),
        ({"format": "todo-api", "version": True}, ["body", "version"]),
        ({"format": "todo-api"}, ["body", "version"]),
        ([], ["body"]),
    ],
)
def test_unknown_format_or_version_is_422(client: TestClient, body: Any, loc: list[Any]) -> None:
    [error] = assert_validation_problem(client.post("/import", json=body))
    assert error["loc"] == loc


def test_malformed_json_is_400(client: TestClient) -> None:
    response = import_json(client, b'{"format": "todo-api",')
    assert response.status_code == 400
    assert response.json()["type"] == "urn:todo-api:problem:malformed-json"


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
def test_other_media_types_are_415(client: TestClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/import", content=b"{}", headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert "text/calendar" in response.json()["detail"]


def test_media_type_parameters_are_ignored(client: TestClient) -> None:
    response = client.post(
        "/import",
        content=b'{"format": "todo-api", "version": 1, "todos": [{"title": "a"}]}',
        headers={"content-type": "Application/JSON; charset=utf-8"},
    )
    assert response.json() == {"lists": 0, "todos": 1}


def test_the_body_limit_applies(migrated_template: Path, tmp_path: Path) -> None:
    with fresh_client(migrated_template, tmp_path / "small.db", max_body_bytes=200) as client:
        response = client.post("/import", json=document(*[{"title": "t" * 50}] * 10))
        assert response.status_code == 413
        assert client.get("/todos").json() == []


def test_a_failure_while_writing_leaves_nothing_behind(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inserts run in batches; one failing in the second batch rolls back the first."""
    real_row = export_document._todo_row
    count = 0

    def failing_row(*args: Any) -> ImportedTodo:
        nonlocal count
        count += 1
        if count > export_document.INSERT_BATCH_SIZE + 5:
            raise RuntimeError("disk full")
        return real_row(*args)

    monkeypatch.setattr(export_document, "_todo_row", failing_row)
    items = [
        {"title": f"t{n}", "tags": ["x"]} for n in range(export_document.INSERT_BATCH_SIZE + 10)
    ]
    body = document(*items, lists=[{"ref": "a", "name": "A", "is_default": True}])
    assert client.post("/import", json=body).status_code == 500
    assert client.get("/todos").json() == []
    assert client.get("/tags").json() == []
    assert [item["name"] for item in client.get("/lists").json()] == ["Inbox"]


def test_another_users_data_is_neither_exported_nor_touched(
    client: TestClient, database_url: str
) -> None:
    post(client, "/todos", title="mine")
    engine = sa.create_engine(database_url)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as connection:
        connection.execute(sa.insert(users).values(id=2, username="other", created_at=now))
        list_id = connection.execute(
            sa.insert(lists)
            .values(
                owner_id=2,
                name="Secret list",
                is_default=True,
                version=1,
                created_at=now,
                updated_at=now,
            )
            .returning(lists.c.id)
        ).scalar_one()
        connection.execute(
            sa.insert(todos).values(
                owner_id=2,
                list_id=list_id,
                title="secret todo",
                completed=False,
                priority=0,
                tags="[]",
                version=1,
                order_key=1e300,
                due_key=dt.datetime(9999, 12, 31, tzinfo=dt.UTC),
                created_at=now,
                updated_at=now,
            )
        )
    exported = client.get("/export")
    assert "secret" not in exported.text.lower()
    assert [todo["title"] for todo in exported.json()["todos"]] == ["mine"]

    assert import_json(client, exported.content).status_code == 200
    with engine.connect() as connection:
        theirs = connection.execute(sa.select(lists.c.name).where(lists.c.owner_id == 2)).all()
        their_todos = connection.execute(
            sa.select(sa.func.count()).select_from(todos).where(todos.c.owner_id == 2)
        ).scalar_one()
        mine = connection.execute(
            sa.select(sa.func.count()).select_from(todos).where(todos.c.owner_id == LOCAL_USER_ID)
        ).scalar_one()
    engine.dispose()
    assert theirs == [("Secret list",)]
    assert (their_todos, mine) == (1, 2)


def test_import_is_documented_with_both_media_types(client: TestClient) -> None:
    openapi = client.get("/openapi.json").json()
    operation = openapi["paths"]["/import"]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "text/calendar"}
    assert "ExportDocument" in openapi["components"]["schemas"]  # what the JSON body refers to
    assert {"415", "422"} <= set(operation["responses"])


# --- property: import then export gives the todos back ---------------------------------------

# Dates are in the years 0002-9998 (docs/api.md), on import as everywhere.
FIRST_DUE_DATE = dt.date(2, 1, 1)
LAST_DUE_DATE = dt.date(9998, 12, 31)
# Lone surrogates (Cs) are not valid UTF-8; names hold no control character (Cc, domain/text.py),
# descriptions keep tabs and line breaks.
_NAME_TEXT = st.characters(exclude_categories=["Cs", "Cc"])
_FREE_TEXT = st.characters(exclude_categories=["Cs", "Cc"], include_characters="\t\n\r")
titles = st.text(_NAME_TEXT, min_size=1, max_size=40).filter(lambda text: text.strip() == text)
tags = st.lists(
    st.text(_NAME_TEXT, min_size=1, max_size=12).filter(lambda text: text.strip() == text),
    max_size=4,
    unique_by=str.casefold,
)
moments = st.datetimes(
    min_value=dt.datetime(1970, 1, 1),
    max_value=dt.datetime(2200, 1, 1),
    timezones=st.sampled_from(
        [
            dt.UTC,
            dt.timezone(dt.timedelta(hours=5, minutes=30)),
            dt.timezone(-dt.timedelta(hours=7)),
        ]
    ),
)


@st.composite
def exported_todos(draw: st.DrawFn) -> dict[str, Any]:
    completed = draw(st.booleans())
    due = draw(st.sampled_from(["none", "date", "moment"]))
    created = draw(moments)
    return {
        "list": draw(st.sampled_from(["l1", "l2"])),
        "title": draw(titles),
        "description": draw(st.none() | st.text(_FREE_TEXT, max_size=80)),
        "completed": completed,
        "completed_at": draw(moments).isoformat() if completed else None,
        "order": draw(st.none() | st.floats(-1e15, 1e15, allow_nan=False)),
        "tags": draw(tags),
        "priority": draw(st.integers(0, 3)),
        "due_date": draw(st.dates(min_value=FIRST_DUE_DATE, max_value=LAST_DUE_DATE)).isoformat()
        if due == "date"
        else None,
        "due_at": draw(moments).isoformat() if due == "moment" else None,
        "created_at": created.isoformat(),
        "updated_at": (created + dt.timedelta(seconds=draw(st.integers(0, 10**6)))).isoformat(),
    }


def _same_moment(given: str | None, exported: str | None, *, same_offset: bool) -> bool:
    if given is None or exported is None:
        return given is exported
    a = dt.datetime.fromisoformat(given)
    b = dt.datetime.fromisoformat(exported.replace("Z", "+00:00"))
    return a == b and (not same_offset or a.utcoffset() == b.utcoffset())


@pytest.mark.slow  # a long property run: an app and a database per example
@given(todo_items=st.lists(exported_todos(), max_size=6))
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_valid_document_round_trips(
    tmp_path_factory: pytest.TempPathFactory,
    migrated_template: Path,
    todo_items: list[dict[str, Any]],
) -> None:
    body = document(
        *todo_items,
        lists=[
            {"ref": "l1", "name": "Inbox", "is_default": True},
            {"ref": "l2", "name": "Other", "order": 1},
        ],
    )
    database = tmp_path_factory.mktemp("roundtrip") / "todo.db"
    with fresh_client(migrated_template, database) as client:
        response = client.post("/import", json=body)
        assert response.status_code == 200, response.text
        exported = client.get("/export").json()["todos"]
    assert len(exported) == len(todo_items)
    # The export is oldest first: sort the input the same way (stable for equal times).
    expected = sorted(todo_items, key=lambda item: dt.datetime.fromisoformat(item["created_at"]))
    for given_todo, got in zip(expected, exported, strict=True):
        exact = ("title", "description", "completed", "order", "tags", "priority", "due_date")
        assert {name: got[name] for name in exact} == {name: given_todo[name] for name in exact}
        assert {"l1": "l2", "l2": "l1"}[given_todo["list"]] == got["list"]  # l1 is listed last
        assert _same_moment(given_todo["due_at"], got["due_at"], same_offset=True)
        for name in ("created_at", "updated_at", "completed_at"):
            assert _same_moment(given_todo[name], got[name], same_offset=False), name


@pytest.mark.parametrize("page_size", [1, 2, 1000])
def test_an_export_streamed_in_pages_is_the_document_dumped_whole(
    client: TestClient, database_url: str, page_size: int
) -> None:
    rich_dataset(client)
    database = open_database(database_url)
    try:
        with database.snapshot() as connection:
            chunks = list(
                export_document.export_chunks(
                    connection, LOCAL_USER_ID, dt.datetime.now(dt.UTC), page_size=page_size
                )
            )
    finally:
        database.close()
    body = b"".join(chunks)
    assert len(chunks) >= 2 + len(orjson.loads(body)["todos"]) // page_size
    assert body == export_document.dump_document(orjson.loads(body))
    served = client.get("/export").json()
    assert {**orjson.loads(body), "exported_at": None} == {**served, "exported_at": None}


def test_an_account_without_todos_exports_an_empty_list(client: TestClient) -> None:
    response = client.get("/export")
    assert response.status_code == 200
    assert response.content == export_document.dump_document(response.json())
    assert response.json()["todos"] == []
