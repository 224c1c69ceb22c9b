"""GET /export.ics and POST /import with text/calendar: the VTODO mapping both ways."""

import datetime as dt
import re
import sqlite3
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from icalendar import Todo as VTodo
from sqlalchemy.engine import Connection

from support import post_created as post
from todo_api.db import open_database
from todo_api.ical import (
    ICALENDAR_PRIORITY,
    LIST_PROPERTY,
    PRODUCT_ID,
    UID_TEMPLATE,
    calendar_chunks,
    priority_of,
)
from todo_api.repository.import_export import todo_pages
from todo_api.repository.lists import list_lists
from todo_api.tables import LOCAL_USER_ID

CALENDAR = {"content-type": "text/calendar"}


def sample(client: TestClient) -> dict[str, dict[str, Any]]:
    work = post(client, "/lists", name="Work")
    return {
        "release": post(
            client,
            "/todos",
            title="Ship, the release; now",
            description="notes\nsecond line",
            list_id=work["id"],
            tags=["Urgent", "release"],
            priority=3,
            due_at="2026-12-01T09:30:00+05:30",
            completed=True,
        ),
        "plants": post(client, "/todos", title="Water plants", priority=1, due_date="2026-06-30"),
        "plain": post(client, "/todos", title="Plain", priority=2),
    }


def to_the_second(moment: str) -> dt.datetime:
    """iCalendar DATE-TIMEs have no fractions of a second."""
    return dt.datetime.fromisoformat(moment).replace(microsecond=0)


def vtodos(body: bytes) -> dict[str, Any]:
    calendar = Calendar.from_ical(body)
    assert isinstance(calendar, Calendar)
    return {str(vtodo["summary"]): vtodo for vtodo in calendar.todos}


def import_calendar(client: TestClient, body: bytes | str) -> Any:
    return client.post("/import", content=body, headers=CALENDAR)


def wrap(*vtodo_lines: str) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", *vtodo_lines, "END:VCALENDAR"]
    return "\r\n".join(lines) + "\r\n"


def test_export_is_a_calendar_with_the_mapped_properties(client: TestClient) -> None:
    todos = sample(client)
    response = client.get("/export.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert re.fullmatch(
        r'attachment; filename="todo-export-\d{8}\.ics"', response.headers["content-disposition"]
    )
    calendar = Calendar.from_ical(response.content)
    assert isinstance(calendar, Calendar)
    assert str(calendar["version"]) == "2.0"
    found = vtodos(response.content)
    assert set(found) == {"Ship, the release; now", "Water plants", "Plain"}

    release = found["Ship, the release; now"]
    assert str(release["uid"]) == f"todo-{todos['release']['id']}@todo-api"
    assert str(release["description"]) == "notes\nsecond line"
    assert str(release["status"]) == "COMPLETED"
    assert release["completed"].dt == to_the_second(todos["release"]["completed_at"])
    assert release["due"].dt == dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC)  # a DATE-TIME
    assert int(release["priority"]) == 1
    assert [str(tag) for tag in release.categories] == ["Urgent", "release"]
    assert str(release["x-todo-api-list"]) == "Work"
    assert release["created"].dt == to_the_second(todos["release"]["created_at"])
    assert release["last-modified"].dt == to_the_second(todos["release"]["updated_at"])
    assert isinstance(release["dtstamp"].dt, dt.datetime)

    plants = found["Water plants"]
    assert plants["due"].dt == dt.date(2026, 6, 30)  # a DATE
    assert not isinstance(plants["due"].dt, dt.datetime)
    assert str(plants["status"]) == "NEEDS-ACTION"
    assert "completed" not in plants
    assert "description" not in plants
    assert int(plants["priority"]) == 9
    assert str(plants["x-todo-api-list"]) == "Inbox"
    assert int(found["Plain"]["priority"]) == 5
    assert "due" not in found["Plain"]


def test_calendar_round_trip(client: TestClient, other_client: TestClient) -> None:
    sample(client)
    response = import_calendar(other_client, client.get("/export.ics").content)
    assert response.status_code == 200, response.text
    assert response.json() == {"lists": 1, "todos": 3}  # Work created; Inbox is the default

    def comparable(c: TestClient) -> list[tuple[Any, ...]]:
        names = {item["id"]: item["name"] for item in c.get("/lists").json()}
        return sorted(
            (
                todo["title"],
                todo["description"],
                todo["completed"],
                todo["completed_at"] and to_the_second(todo["completed_at"]),
                todo["due_date"],
                todo["due_at"] and dt.datetime.fromisoformat(todo["due_at"]),
                todo["priority"],
                todo["tags"],
                names[todo["list_id"]],
                to_the_second(todo["created_at"]),
                to_the_second(todo["updated_at"]),
            )
            for todo in c.get("/todos").json()
        )

    assert comparable(other_client) == comparable(client)


def test_import_reuses_lists_by_name_and_defaults_to_the_default_list(
    client: TestClient,
) -> None:
    work = post(client, "/lists", name="Work")
    body = wrap(
        "BEGIN:VTODO",
        "UID:a@example.com",
        "SUMMARY:in work",
        "X-TODO-API-LIST:Work",
        "END:VTODO",
        "BEGIN:VTODO",
        "UID:b@example.com",
        "SUMMARY:in a new list",
        "X-TODO-API-LIST:Errands",
        "END:VTODO",
        "BEGIN:VTODO",
        "UID:c@example.com",
        "SUMMARY:no list",
        "DUE;TZID=Europe/Berlin:20260102T100000",
        "PRIORITY:4",
        "STATUS:IN-PROCESS",
        "CATEGORIES:a,b",
        "CATEGORIES:C",
        "END:VTODO",
    )
    response = import_calendar(client, body)
    assert response.json() == {"lists": 1, "todos": 3}
    names = {item["id"]: item["name"] for item in client.get("/lists").json()}
    placed = {todo["title"]: todo for todo in client.get("/todos").json()}
    assert placed["in work"]["list_id"] == work["id"]
    assert names[placed["in a new list"]["list_id"]] == "Errands"
    plain = placed["no list"]
    assert names[plain["list_id"]] == "Inbox"
    assert plain["due_at"] == "2026-01-02T10:00:00+01:00"  # the zone's offset at that moment
    assert plain["priority"] == 3
    assert plain["completed"] is False
    assert plain["tags"] == ["a", "b", "C"]


@pytest.mark.parametrize(
    ("icalendar_priority", "priority"),
    [(0, 0), (1, 3), (4, 3), (5, 2), (6, 1), (9, 1)],
)
def test_priority_mapping(icalendar_priority: int, priority: int) -> None:
    assert priority_of(icalendar_priority) == priority


def test_priority_mapping_round_trips() -> None:
    for priority, icalendar_priority in ICALENDAR_PRIORITY.items():
        assert priority_of(icalendar_priority) == priority


@pytest.mark.parametrize(
    "body",
    [
        "not a calendar",
        "",
        wrap("BEGIN:VTODO", "SUMMARY:x", "DUE:yesterday", "END:VTODO"),
        "BEGIN:VEVENT\r\nSUMMARY:x\r\nEND:VEVENT\r\n",
    ],
)
def test_an_unparseable_calendar_is_422(client: TestClient, body: str) -> None:
    response = import_calendar(client, body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["loc"] == ["body"]
    assert client.get("/todos").json() == []


def test_invalid_vtodos_are_located_by_property_and_nothing_is_imported(
    client: TestClient,
) -> None:
    body = wrap(
        "BEGIN:VTODO",
        "SUMMARY:fine",
        "X-TODO-API-LIST:New list",
        "END:VTODO",
        "BEGIN:VTODO",
        "DESCRIPTION:no summary",
        "END:VTODO",
        "BEGIN:VTODO",
        "SUMMARY:bad priority",
        "PRIORITY:12",
        "END:VTODO",
        "BEGIN:VTODO",
        "SUMMARY:long list name",
        f"X-TODO-API-LIST:{'x' * 201}",
        "END:VTODO",
    )
    response = import_calendar(client, body)
    assert response.status_code == 422
    locs = [error["loc"] for error in response.json()["errors"]]
    assert sorted(locs) == [
        ["body", "VTODO", 1, "SUMMARY"],
        ["body", "VTODO", 2, "PRIORITY"],
        ["body", "VTODO", 3, "X-TODO-API-LIST"],
    ]
    assert client.get("/todos").json() == []
    assert [item["name"] for item in client.get("/lists").json()] == ["Inbox"]


def test_an_empty_calendar_imports_nothing(client: TestClient) -> None:
    response = import_calendar(client, wrap())
    assert response.json() == {"lists": 0, "todos": 0}


def icalendar_reference(connection: Connection, now: dt.datetime) -> bytes:
    """The calendar as `icalendar` itself builds and writes it: what the export must equal."""
    names = {item.id: item.name for item in list_lists(connection, LOCAL_USER_ID)}
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    for page in todo_pages(connection, LOCAL_USER_ID, 1000):
        for todo in page:
            vtodo = VTodo()
            vtodo.add("uid", UID_TEMPLATE.format(id=todo.id))
            vtodo.add("dtstamp", now)
            vtodo.add("created", todo.created_at)
            vtodo.add("last-modified", todo.updated_at)
            vtodo.add("summary", todo.title)
            if todo.description is not None:
                vtodo.add("description", todo.description)
            vtodo.add("status", "COMPLETED" if todo.completed else "NEEDS-ACTION")
            if todo.completed_at is not None:
                vtodo.add("completed", todo.completed_at)
            if todo.due_date is not None:
                vtodo.add("due", todo.due_date)
            elif todo.due_at is not None:
                vtodo.add("due", todo.due_at)
            vtodo.add("priority", ICALENDAR_PRIORITY[todo.priority])
            if tags := orjson.loads(todo.tags):
                vtodo.add("categories", tags)
            vtodo.add(LIST_PROPERTY, names[todo.list_id])
            calendar.add_component(vtodo)
    reference: bytes = calendar.to_ical()
    return reference


@pytest.mark.parametrize("page_size", [1, 2, 1000])
def test_the_export_writes_what_icalendar_writes(
    client: TestClient, database_url: str, page_size: int
) -> None:
    sample(client)
    odd = post(client, "/lists", name="Ünïcode; list, with \\ a long name " + "ß" * 40)
    post(
        client,
        "/todos",
        title="A title long enough to be folded, with commas; semicolons \\N \\ and ü " + "é" * 30,
        description="line one\r\nline two\rthree\n" + "long " * 30,
        tags=["a,b", "c;d", "Ωmega"],
        list_id=odd["id"],
        due_at="2026-03-01T17:00:00-03:00",
    )
    now = dt.datetime.now(dt.UTC)
    database = open_database(database_url)
    try:
        with database.snapshot() as connection:
            chunks = list(calendar_chunks(connection, LOCAL_USER_ID, now, page_size=page_size))
            reference = icalendar_reference(connection, now)
    finally:
        database.close()
    assert b"".join(chunks) == reference
    assert len(chunks) == 2 + -(-4 // page_size)  # head, a chunk per page, end


def test_export_writes_line_breaks_escaped_and_cannot_be_forged(client: TestClient) -> None:
    forged = "x\r\nEND:VTODO\r\nBEGIN:VTODO\r\nSUMMARY:forged\rDESCRIPTION:lone CR"
    post(client, "/todos", title="Notes", description=forged)

    body = client.get("/export.ics").content

    assert body.split(b"\r\n").count(b"BEGIN:VTODO") == 1
    assert b"\r" not in body.replace(b"\r\n", b"")
    assert [str(v["description"]) for v in vtodos(body).values()] == [
        "x\nEND:VTODO\nBEGIN:VTODO\nSUMMARY:forged\nDESCRIPTION:lone CR"
    ]


@pytest.mark.sqlite_only  # stored with sqlite3; PostgreSQL's text cannot even hold a NUL
def test_export_replaces_control_characters_stored_before_they_were_refused(
    client: TestClient, database_url: str
) -> None:
    todo = post(client, "/todos", title="Legacy", tags=["tag"])
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
        connection.execute(
            "UPDATE todos SET title = ?, tags = ? WHERE id = ?",
            ("nul\x00bell\x07\nEND:VCALENDAR", '["t\\u0000ag"]', todo["id"]),
        )

    body = client.get("/export.ics").content

    assert b"\x00" not in body and b"\x07" not in body
    (vtodo,) = vtodos(body).values()
    assert str(vtodo["summary"]) == "nul\ufffdbell\ufffd\nEND:VCALENDAR"
    assert [str(tag) for tag in vtodo.categories] == ["t\ufffdag"]
