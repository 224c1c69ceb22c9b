"""Tags, priorities and due dates on todos, and GET /tags."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from contract import StrictTagRead, StrictTodoRead


def create(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/todos", json={"title": "t", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    StrictTodoRead.model_validate(body)
    return body


def test_defaults_for_the_new_fields(client: TestClient) -> None:
    todo = create(client)
    assert (todo["tags"], todo["priority"], todo["due_date"], todo["due_at"]) == ([], 0, None, None)


def test_tags_are_trimmed_and_unique_without_regard_to_case(client: TestClient) -> None:
    todo = create(client, tags=[" Home ", "home", "HOME", "errands"])
    assert todo["tags"] == ["Home", "errands"]


def test_tag_counts(client: TestClient) -> None:
    create(client, tags=["home", "urgent"])
    create(client, tags=["Home"])
    todo = create(client, tags=["urgent"])
    client.patch(f"/todos/{todo['id']}", json={"tags": ["later"]})
    tags = client.get("/tags").json()
    for tag in tags:
        StrictTagRead.model_validate(tag)
    assert {(t["name"].casefold(), t["count"]) for t in tags} == {
        ("home", 2),
        ("urgent", 1),
        ("later", 1),
    }


def test_deleting_a_todo_removes_its_tags(client: TestClient) -> None:
    todo = create(client, tags=["gone"])
    client.delete(f"/todos/{todo['id']}")
    assert client.get("/tags").json() == []


@pytest.mark.parametrize(
    "tags", [["x"] * 0 + [f"t{n}" for n in range(21)], [""], ["x" * 51], [5], "home"]
)
def test_invalid_tags_are_422(client: TestClient, tags: Any) -> None:
    response = client.post("/todos", json={"title": "t", "tags": tags})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][:2] == ["body", "tags"]


@pytest.mark.parametrize("priority", [0, 1, 2, 3])
def test_priority_range(client: TestClient, priority: int) -> None:
    assert create(client, priority=priority)["priority"] == priority


@pytest.mark.parametrize("priority", [-1, 4, 1.5, "high", None])
def test_invalid_priority_is_422(client: TestClient, priority: Any) -> None:
    response = client.post("/todos", json={"title": "t", "priority": priority})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "priority"]


def test_due_at_is_returned_as_given(client: TestClient) -> None:
    todo = create(client, due_at="2026-12-01T09:30:00+05:30")
    assert todo["due_at"] == "2026-12-01T09:30:00+05:30"
    assert client.get(f"/todos/{todo['id']}").json()["due_at"] == "2026-12-01T09:30:00+05:30"
    utc = create(client, due_at="2026-12-01T09:30:00Z")
    assert utc["due_at"] == "2026-12-01T09:30:00Z"


def test_due_date_is_an_all_day_date(client: TestClient) -> None:
    todo = create(client, due_date="2026-12-24")
    assert todo["due_date"] == "2026-12-24"
    assert todo["due_at"] is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"due_date": "2026-02-30"}, "due_date"),
        ({"due_date": "24.12.2026"}, "due_date"),
        ({"due_date": "2026-12-24T00:00:00Z"}, "due_date"),
        ({"due_date": 20261224}, "due_date"),
        ({"due_at": "2026-12-01T09:30:00"}, "due_at"),  # no offset
        ({"due_at": "2026-12-01"}, "due_at"),
        ({"due_at": "tomorrow"}, "due_at"),
        ({"due_at": 1764581400}, "due_at"),
    ],
)
def test_invalid_due_values_are_422(client: TestClient, fields: dict[str, Any], field: str) -> None:
    response = client.post("/todos", json={"title": "t", **fields})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][:2] == ["body", field]


def test_due_date_and_due_at_together_is_422(client: TestClient) -> None:
    response = client.post(
        "/todos", json={"title": "t", "due_date": "2026-12-24", "due_at": "2026-12-24T10:00:00Z"}
    )
    assert response.status_code == 422
    assert "due_date" in response.json()["detail"] and "due_at" in response.json()["detail"]
    assert client.get("/todos").json() == []


def test_setting_one_due_field_clears_the_other(client: TestClient) -> None:
    todo = create(client, due_date="2026-12-24")
    patched = client.patch(f"/todos/{todo['id']}", json={"due_at": "2026-12-24T10:00:00+01:00"})
    assert patched.json()["due_date"] is None
    assert patched.json()["due_at"] == "2026-12-24T10:00:00+01:00"
    back = client.patch(f"/todos/{todo['id']}", json={"due_date": "2026-12-25"}).json()
    assert (back["due_date"], back["due_at"]) == ("2026-12-25", None)
    cleared = client.patch(f"/todos/{todo['id']}", json={"due_date": None}).json()
    assert (cleared["due_date"], cleared["due_at"]) == (None, None)


@pytest.mark.parametrize("due_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"])
def test_due_at_the_edge_of_time_is_422(client: TestClient, due_at: str) -> None:
    response = client.post("/todos", json={"title": "t", "due_at": due_at})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "due_at"]


_CONTROL_CHARACTERS = ["\x00", "\x01", "\n", "\r", "\t", "\x1b", "\x1f", "\x7f"]


@pytest.mark.parametrize("character", _CONTROL_CHARACTERS)
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/todos", "title"),
        ("/todos?via=fastapi", "title"),  # past the fast lane too
        ("/todos", "tags"),
        ("/lists", "name"),
    ],
)
def test_names_with_control_characters_are_422(
    client: TestClient, path: str, field: str, character: str
) -> None:
    value = f"a{character}b"
    body: dict[str, Any] = {"title": "t"} if field == "tags" else {}
    body[field] = [value] if field == "tags" else value

    response = client.post(path, json=body)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"][:2] == ["body", field]
    assert client.get("/todos").json() == []


def test_a_control_character_in_a_patched_title_is_422(client: TestClient) -> None:
    todo = create(client, title="before")
    response = client.patch(f"/todos/{todo['id']}", json={"title": "x\x00y"})
    assert response.status_code == 422
    assert client.get(f"/todos/{todo['id']}").json()["title"] == "before"


def test_descriptions_keep_line_breaks_and_tabs(client: TestClient) -> None:
    description = "first\r\nsecond\nthird\tcolumn"
    assert create(client, description=description)["description"] == description


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x1b", "\x7f"])
def test_other_control_characters_in_a_description_are_422(
    client: TestClient, character: str
) -> None:
    response = client.post("/todos", json={"title": "t", "description": f"a{character}b"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "description"]


@pytest.mark.parametrize("title", ["\tbuy milk", "buy milk\n", "\r\nbuy milk"])
def test_control_characters_at_the_ends_of_a_name_are_refused_not_trimmed(
    client: TestClient, title: str
) -> None:
    response = client.post("/todos", json={"title": title})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "title"]
