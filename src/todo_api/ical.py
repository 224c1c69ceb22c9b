"""iCalendar (RFC 5545) export and import of todos as VTODO components, via `icalendar`.

Not lossless, unlike the JSON export: a calendar has no list order, todo order or list
timestamps, and DUE moments are written in UTC. A calendar import becomes an export document
(see `todo_api.export_document`) and is imported like one, except that lists are found by name.
"""

import datetime as dt
import re
from collections.abc import Generator
from typing import Any

import orjson
from icalendar import Calendar
from icalendar import Todo as VTodo
from icalendar.parser import Contentline
from sqlalchemy.engine import Connection

from todo_api import __version__
from todo_api.errors import InvalidDocument
from todo_api.export_document import (
    EXPORT_PAGE_SIZE,
    FORMAT_NAME,
    FORMAT_VERSION,
    ExportDocument,
    Progress,
    invalid_document,
    validate_document,
)
from todo_api.repository import lists as lists_repository
from todo_api.repository.import_export import todo_pages
from todo_api.repository.todos import Todo

LIST_PROPERTY = "X-TODO-API-LIST"
PRODUCT_ID = f"-//todo-api//todo-api {__version__}//EN"
UID_TEMPLATE = "todo-{id}@todo-api"
_CALENDAR_END = b"END:VCALENDAR\r\n"
# Our priority (0 none … 3 high) as iCalendar PRIORITY (0 undefined, 1 highest … 9 lowest).
ICALENDAR_PRIORITY = {0: 0, 1: 9, 2: 5, 3: 1}
# RFC 5545 TEXT holds no control character but the tab, and escapes line breaks as `\n`;
# icalendar escapes LF (and CRLF), so a lone CR becomes LF and any other control U+FFFD.
_UNWRITABLE_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# The field of an export document each VTODO property becomes: errors are located by property.
PROPERTY_OF_FIELD = {
    "list": LIST_PROPERTY,
    "title": "SUMMARY",
    "description": "DESCRIPTION",
    "completed": "STATUS",
    "completed_at": "COMPLETED",
    "tags": "CATEGORIES",
    "priority": "PRIORITY",
    "due_date": "DUE",
    "due_at": "DUE",
    "created_at": "CREATED",
    "updated_at": "LAST-MODIFIED",
}


def priority_of(icalendar_priority: int) -> int:
    """RFC 5545 §3.8.1.9: 1-4 high, 5 medium, 6-9 low, 0 undefined."""
    if icalendar_priority == 0:
        return 0
    if icalendar_priority <= 4:
        return 3
    return 2 if icalendar_priority == 5 else 1


def calendar_chunks(
    connection: Connection,
    owner_id: int,
    now: dt.datetime,
    progress: Progress | None = None,
    page_size: int = EXPORT_PAGE_SIZE,
) -> Generator[bytes]:
    """The owner's todos as a VCALENDAR of VTODOs, one page of todos a chunk.

    The bytes are those `icalendar` writes for the same calendar (tests/test_ical.py compares
    them): a calendar writes its properties, each component, then its END line, so the VTODOs
    go between the two. Each VTODO is written here, with `icalendar`'s own text escaping and
    line folding, because building its objects costs ~0.3 ms a todo, 30 s for 100k.
    """
    list_lines = {
        todo_list.id: _list_line(todo_list.name)
        for todo_list in lists_repository.list_lists(connection, owner_id)
    }
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    head: bytes = calendar.to_ical()
    yield head.removesuffix(_CALENDAR_END)
    stamp = _line("DTSTAMP", _utc(now))
    for page in todo_pages(connection, owner_id, page_size):
        yield b"".join(_vtodo(todo, list_lines[todo.list_id], stamp) for todo in page)
        if progress is not None:
            progress(len(page))
    yield _CALENDAR_END


def _vtodo(todo: Todo, list_line: bytes, stamp: bytes) -> bytes:
    """One VTODO as `icalendar` writes it: its properties sorted by name, one line each."""
    lines = [b"BEGIN:VTODO\r\n"]
    tags = _json_list(todo.tags)
    if tags:
        lines.append(_line("CATEGORIES", b",".join(_text(tag) for tag in tags)))
    if todo.completed_at is not None:
        lines.append(_line("COMPLETED", _utc(todo.completed_at)))
    lines.append(_line("CREATED", _utc(todo.created_at)))
    if todo.description is not None:
        lines.append(_line("DESCRIPTION", _text(todo.description)))
    lines.append(stamp)
    if todo.due_date is not None:
        lines.append(_line("DUE;VALUE=DATE", todo.due_date.strftime("%Y%m%d").encode()))  # all day
    elif todo.due_at is not None:
        lines.append(_line("DUE", _utc(todo.due_at)))
    lines.append(_line("LAST-MODIFIED", _utc(todo.updated_at)))
    lines.append(_PRIORITY_LINES[todo.priority])
    lines.append(_COMPLETED_LINE if todo.completed else _NEEDS_ACTION_LINE)
    lines.append(_line("SUMMARY", _text(todo.title)))
    lines.append(b"UID:%s\r\n" % UID_TEMPLATE.format(id=todo.id).encode())  # nothing to escape
    lines.append(list_line)
    lines.append(b"END:VTODO\r\n")
    return b"".join(lines)


def _list_line(name: str) -> bytes:
    """The list's line, written by `icalendar` itself (once per list): it writes an X- property
    as it is given, unescaped, and that is kept."""
    vtodo = VTodo()
    vtodo.add(LIST_PROPERTY, _writable(name))
    written: bytes = vtodo.to_ical()
    return written.removeprefix(b"BEGIN:VTODO\r\n").removesuffix(b"END:VTODO\r\n")


def _text(value: str) -> bytes:
    """A TEXT value escaped as `icalendar` escapes it (RFC 5545 §3.3.11), in its order: `\\N`
    is read as a newline first; every line break becomes `\\n`. Its own function for this costs
    three times as much, a third of the export's time."""
    return (
        _writable(value)
        .replace("\\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
        .encode()
    )


def _utc(moment: dt.datetime) -> bytes:
    """A DATE-TIME in UTC form (`...Z`): every stored moment is an aware UTC datetime."""
    return moment.strftime("%Y%m%dT%H%M%SZ").encode()


def _line(name: str, value: bytes) -> bytes:
    """A content line, folded as `icalendar` folds it once it reaches _FOLD_OCTETS."""
    line = name.encode() + b":" + value
    if len(line) < _FOLD_OCTETS:
        return line + b"\r\n"
    folded: bytes = Contentline(line.decode()).to_ical()  # type: ignore[no-untyped-call]
    return folded + b"\r\n"


_FOLD_OCTETS = 75  # RFC 5545 §3.1: lines longer than 75 octets are folded
_PRIORITY_LINES = {
    ours: _line("PRIORITY", b"%d" % theirs) for ours, theirs in ICALENDAR_PRIORITY.items()
}
_COMPLETED_LINE = _line("STATUS", b"COMPLETED")
_NEEDS_ACTION_LINE = _line("STATUS", b"NEEDS-ACTION")


def _writable(value: str) -> str:
    """`value` as RFC 5545 TEXT can carry it, before it is escaped (`_text`).

    The request models refuse control characters in names; this also covers rows stored
    before they did, and the CRs a description may hold.
    """
    if value.isprintable():  # the common case: nothing to replace
        return value
    one_line_break = value.replace("\r\n", "\n").replace("\r", "\n")
    return _UNWRITABLE_CONTROL.sub("\ufffd", one_line_break)


def _json_list(text: str) -> list[str]:
    names: list[str] = orjson.loads(text)
    return names


def parse_calendar(body: bytes) -> ExportDocument:
    """A calendar's VTODOs as an export document; InvalidDocument when it is not usable.

    Each VTODO's list is its X-TODO-API-LIST (missing: the default list). Errors are located
    as `["body", "VTODO", n, PROPERTY]`, n counting the calendar's VTODOs from 0.
    """
    try:
        calendar = Calendar.from_ical(body)
    except Exception as error:  # any parser failure on client input is a 422
        raise _unparseable(str(error)) from None
    if not isinstance(calendar, Calendar) or calendar.name != "VCALENDAR":
        raise _unparseable("the body is not one VCALENDAR")
    list_refs: dict[str, int] = {}  # list name -> index of the first VTODO naming it
    raw_todos: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    for index, vtodo in enumerate(calendar.todos):
        try:
            raw_todos.append(_raw_todo(vtodo, index, problems))
        except Exception as error:  # a value icalendar cannot decode
            raise _unparseable(f"VTODO {index}: {error}") from None
        list_name = raw_todos[-1].pop("list", None)
        if list_name is not None:
            list_refs.setdefault(list_name, index)
            raw_todos[-1]["list"] = f"l{list(list_refs).index(list_name) + 1}"
    raw = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "lists": [{"ref": f"l{n}", "name": name} for n, name in enumerate(list_refs, 1)],
        "todos": raw_todos,
    }
    try:
        document = validate_document(raw)
    except InvalidDocument as invalid:
        first_vtodo = list(list_refs.values())
        problems += [_property_error(error, first_vtodo) for error in invalid.errors]
    if problems:
        raise invalid_document(problems)
    return document


def _raw_todo(vtodo: VTodo, index: int, problems: list[dict[str, Any]]) -> dict[str, Any]:
    """One VTODO as an export document's todo, in JSON terms (validated afterwards)."""
    raw: dict[str, Any] = {}
    if (summary := vtodo.get("summary")) is not None:
        raw["title"] = str(summary)
    if (description := vtodo.get("description")) is not None:
        raw["description"] = str(description)
    status = str(vtodo.get("status", "")).upper()
    raw["completed"] = status == "COMPLETED" or (not status and "completed" in vtodo)
    if raw["completed"] and (completed := vtodo.get("completed")) is not None:
        raw["completed_at"] = _moment(completed.dt)
    if vtodo.categories:
        raw["tags"] = [str(category) for category in vtodo.categories]
    priority = vtodo.get("priority")
    if priority is not None:
        if 0 <= int(priority) <= 9:
            raw["priority"] = priority_of(int(priority))
        else:
            problems.append(
                {
                    "loc": ["body", "VTODO", index, "PRIORITY"],
                    "msg": "must be 0 (undefined) to 9 (lowest)",
                    "type": "value_error",
                }
            )
    if (due := vtodo.get("due")) is not None:
        if isinstance(due.dt, dt.datetime):
            raw["due_at"] = _moment(due.dt)
        else:
            raw["due_date"] = due.dt.isoformat()
    if (created := vtodo.get("created")) is not None:
        raw["created_at"] = _moment(created.dt)
    if (modified := vtodo.get("last-modified")) is not None:
        raw["updated_at"] = _moment(modified.dt)
    list_name = str(vtodo.get(LIST_PROPERTY, "")).strip()
    if list_name:
        raw["list"] = list_name
    return raw


def _moment(value: dt.date) -> str:
    """RFC 3339 text of an iCalendar DATE-TIME; a floating (zone-less) time is taken as UTC."""
    if not isinstance(value, dt.datetime):
        return value.isoformat()  # a DATE where a moment belongs: validation rejects it
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    offset = value.utcoffset()
    return value.astimezone(dt.timezone(offset or dt.timedelta())).isoformat()


def _unparseable(reason: str) -> InvalidDocument:
    return InvalidDocument(
        f"The body is not an iCalendar calendar: {reason}",
        errors=[
            {
                "loc": ["body"],
                "msg": f"not an iCalendar calendar: {reason}",
                "type": "calendar_invalid",
            }
        ],
    )


def _property_error(error: dict[str, Any], first_vtodo: list[int]) -> dict[str, Any]:
    """Locate an export-document error by VTODO and property instead of todos/lists index."""
    match error["loc"]:
        case ["body", "todos", int(index), str(field), *_]:
            loc: list[Any] = ["body", "VTODO", index, PROPERTY_OF_FIELD.get(field, field)]
        case ["body", "todos", int(index)]:
            loc = ["body", "VTODO", index]
        case ["body", "lists", int(index), *_]:
            loc = ["body", "VTODO", first_vtodo[index], LIST_PROPERTY]
        case _:
            loc = error["loc"]
    return {**error, "loc": loc}
