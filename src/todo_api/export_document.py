"""The export document (`GET /export`, `POST /import`, `todo-api export|import`).

This module owns the versioned JSON format, building it from the database, validating a
document as a whole (every problem reported at once, with its location), and importing it.
Importing appends: lists are created (the document's default list merges into the importer's),
todos are added with their timestamps as exported. Everything is scoped to one owner; the SQL is
in repository/import_export.py.
"""

import datetime as dt
from collections.abc import Callable, Generator, Iterator, Sequence
from itertools import islice
from typing import Annotated, Any, Literal, Self

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from sqlalchemy.engine import Connection

from todo_api.domain.due import require_one_due
from todo_api.errors import InvalidDocument, MalformedDocument, dotted_location
from todo_api.repository import import_export as repository
from todo_api.repository import lists as lists_repository
from todo_api.repository.import_export import ImportedList, ImportedTodo
from todo_api.repository.search_index import index_pending_search
from todo_api.representation import JSON_OPTIONS, todo_body
from todo_api.schemas import (
    NOT_BOTH_DUE_FIELDS,
    Description,
    DueAt,
    DueDate,
    ListName,
    Order,
    Priority,
    RequestBody,
    Tags,
    Title,
)

FORMAT_NAME = "todo-api"
FORMAT_VERSION = 1
REF_MAX_LENGTH = 100
# A problem lists this many errors at most: a broken 50 MB file must not answer with 50 MB.
MAX_REPORTED_ERRORS = 100
INSERT_BATCH_SIZE = 500  # todos per executemany; also how often the CLI's progress bar moves
# Todos per page of an export: one page is what an export holds in memory (~0.5 MB of JSON).
EXPORT_PAGE_SIZE = 1000
# How an indented document ends with no todos, and with some.
_EMPTY_TODOS_END = b"[]\n}"
_TODOS_END = b"\n  ]\n}"
EXPORTED_TODO_FIELDS = (
    "title",
    "description",
    "completed",
    "completed_at",
    "order",
    "tags",
    "priority",
    "due_date",
    "due_at",
    "created_at",
    "updated_at",
)

Progress = Callable[[int], object]  # called with how many more items are done

Ref = Annotated[
    str,
    StringConstraints(min_length=1, max_length=REF_MAX_LENGTH),
    Field(description="Names a list inside this document only (e.g. `l1`); not an id."),
]
# Timestamps follow the API's one rule for date-times: RFC 3339 with an offset (as DueAt).
Timestamp = Annotated[DueAt, Field(description="RFC 3339 date-time with an offset.")]


class ExportedList(RequestBody):
    ref: Ref
    name: ListName
    order: Order | None = None
    is_default: bool = Field(
        default=False, description="Merges into the importer's default list (renaming it)."
    )
    created_at: Timestamp | None = Field(default=None, description="Default: the import time.")
    updated_at: Timestamp | None = Field(default=None, description="Default: created_at.")


class ExportedTodo(RequestBody):
    # `_consistent`, as the OpenAPI document states it.
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                NOT_BOTH_DUE_FIELDS,
                {
                    "anyOf": [
                        {"properties": {"completed": {"const": True}}, "required": ["completed"]},
                        {
                            "not": {
                                "properties": {"completed_at": {"type": "string"}},
                                "required": ["completed_at"],
                            }
                        },
                    ]
                },
            ]
        }
    )

    list_ref: Ref | None = Field(
        default=None, alias="list", description="A list's `ref`; default: your default list."
    )
    title: Title
    description: Description | None = None
    completed: bool = False
    completed_at: Timestamp | None = Field(
        default=None, description="Only when completed; default: updated_at."
    )
    order: Order | None = None
    tags: Tags = Field(default_factory=list)
    priority: Priority = 0
    due_date: DueDate | None = None
    due_at: DueAt | None = Field(default=None, description="Kept in the offset it is given in.")
    created_at: Timestamp | None = Field(default=None, description="Default: the import time.")
    updated_at: Timestamp | None = Field(default=None, description="Default: created_at.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        require_one_due(self.due_date, self.due_at)
        if self.completed_at is not None and not self.completed:
            raise ValueError("completed_at is only allowed when completed is true")
        return self


class ExportDocument(RequestBody):
    """Everything of one user, lossless but for ids: what `GET /export` returns."""

    format: Literal["todo-api"]
    version: Literal[1]
    exported_at: Timestamp | None = None
    lists: list[ExportedList] = Field(default_factory=list)
    todos: list[ExportedTodo] = Field(default_factory=list)


class ImportResult(BaseModel):
    """What an import added."""

    lists: int = Field(description="Lists created (a merged default list is not counted).")
    todos: int = Field(description="Todos created.")


# --- export -----------------------------------------------------------------------------------


def export_chunks(
    connection: Connection,
    owner_id: int,
    now: dt.datetime,
    progress: Progress | None = None,
    page_size: int = EXPORT_PAGE_SIZE,
) -> Generator[bytes]:
    """The owner's export document as `dump_document` would write it, one page of todos a chunk.

    Memory stays one page whatever the account's size. The bytes are exactly those of the whole
    document dumped at once: the head is dumped with no todos, and each page as an indented list
    whose lines are moved two spaces in (JSON strings hold no raw newline, so every newline of
    the text is one of orjson's).
    """
    found_lists = lists_repository.list_lists(connection, owner_id)
    refs = {todo_list.id: f"l{number}" for number, todo_list in enumerate(found_lists, 1)}
    exported_lists = [
        {
            "ref": refs[todo_list.id],
            "name": todo_list.name,
            "order": todo_list.order,
            "is_default": todo_list.is_default,
            "created_at": todo_list.created_at,
            "updated_at": todo_list.updated_at,
        }
        for todo_list in found_lists
    ]
    head = dump_document(
        {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "exported_at": now,
            "lists": exported_lists,
            "todos": [],  # the last key: the pages go where this empty list is
        }
    )
    separator = None
    for page in repository.todo_pages(connection, owner_id, page_size):
        exported = []
        for todo in page:
            body = todo_body(todo, "")  # tags decoded, due_at back in the offset it was given
            exported.append(
                {"list": refs[todo.list_id], **{name: body[name] for name in EXPORTED_TODO_FIELDS}}
            )
        items = dump_document(exported)[1:-2]  # the list's items, without "[" and "\n]"
        if separator is None:
            yield head.removesuffix(_EMPTY_TODOS_END) + b"["
            separator = b","
        else:
            yield separator
        yield items.replace(b"\n", b"\n  ")
        if progress is not None:
            progress(len(page))
    yield head if separator is None else _TODOS_END


def dump_document(document: dict[str, Any] | list[Any]) -> bytes:
    """JSON text of an export: indented, so a person can read and diff it."""
    return orjson.dumps(document, option=JSON_OPTIONS | orjson.OPT_INDENT_2)


def export_filename(now: dt.datetime, extension: str) -> str:
    return f"todo-export-{now:%Y%m%d}.{extension}"


# --- validation -------------------------------------------------------------------------------


def parse_document(body: bytes) -> ExportDocument:
    """Parse and validate a JSON export document: MalformedDocument or InvalidDocument if not."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise MalformedDocument(
            "The import document is not valid JSON.",
            errors=[{"loc": ["body"], "msg": str(error), "type": "json_invalid"}],
        ) from None
    return validate_document(raw)


def validate_document(raw: object) -> ExportDocument:
    """Validate a decoded document whole: InvalidDocument lists every problem found."""
    checked = _check_format(raw)
    todos = checked.get("todos")
    sliced = isinstance(todos, list) and len(todos) > VALIDATION_SLICE
    errors: list[dict[str, Any]] = []
    document = None
    try:
        document = ExportDocument.model_validate({**checked, "todos": []} if sliced else checked)
    except ValidationError as error:
        errors = _located(error)
    if sliced:
        assert isinstance(todos, list)
        validated, todo_errors = _validate_todos_in_slices(todos)
        errors += todo_errors
        if document is not None and not errors:
            document.todos = validated
    errors += _reference_errors(checked)
    if errors:
        raise invalid_document(errors)
    assert document is not None
    return document


# Validating 100k todos in one call holds the GIL for about a second, and the event loop
# (another thread) cannot run meanwhile. Slices of this many let it in between (~10 ms each).
VALIDATION_SLICE = 1000
_TODO_LIST = TypeAdapter(list[ExportedTodo])


def _validate_todos_in_slices(
    todos: list[Any],
) -> tuple[list[ExportedTodo], list[dict[str, Any]]]:
    validated: list[ExportedTodo] = []
    errors: list[dict[str, Any]] = []
    for start in range(0, len(todos), VALIDATION_SLICE):
        try:
            validated += _TODO_LIST.validate_python(todos[start : start + VALIDATION_SLICE])
        except ValidationError as error:
            for item in _located(error, ("body", "todos")):
                item["loc"][2] += start  # the index within the slice -> within the document
                errors.append(item)
    return validated, errors


def _located(error: ValidationError, prefix: tuple[str, ...] = ("body",)) -> list[dict[str, Any]]:
    return [
        {"loc": [*prefix, *item["loc"]], "msg": item["msg"], "type": item["type"]}
        for item in error.errors()
    ]


def invalid_document(errors: Sequence[dict[str, Any]]) -> InvalidDocument:
    """The one problem for a document: a short detail, and the first MAX_REPORTED_ERRORS."""
    shown = errors[:MAX_REPORTED_ERRORS]
    detail = "; ".join(f"{dotted_location(item['loc'])}: {item['msg']}" for item in shown[:3])
    if len(errors) > 3:
        detail += f"; and {len(errors) - 3} more problem(s)"
    if len(errors) > len(shown):
        detail += f" (the first {len(shown)} are listed)"
    return InvalidDocument(f"Nothing was imported. {detail}", errors=shown)


def _check_format(raw: object) -> dict[str, Any]:
    """The document as an object of this format and version, or InvalidDocument naming which.

    Another format or version is reported alone: its items' errors would only add noise.
    """
    if not isinstance(raw, dict):
        message, loc = "must be a JSON object with format, version, lists and todos", ["body"]
    elif raw.get("format") != FORMAT_NAME:
        message, loc = f"must be {FORMAT_NAME!r}: this is not a todo-api export", ["body", "format"]
    elif type(raw.get("version")) is not int or raw["version"] != FORMAT_VERSION:
        message = f"unsupported version; this server reads version {FORMAT_VERSION}"
        loc = ["body", "version"]
    else:
        return raw
    raise invalid_document([{"loc": loc, "msg": message, "type": "value_error"}])


def _reference_errors(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Duplicate refs, a second default list, todos naming a list the document lacks.

    Checked on the raw data, so these are reported along with the field errors.
    """
    errors: list[dict[str, Any]] = []
    raw_lists = raw.get("lists")
    raw_todos = raw.get("todos")
    refs: set[str] = set()
    default_seen = False
    for index, item in enumerate(raw_lists if isinstance(raw_lists, list) else []):
        if not isinstance(item, dict):
            continue
        ref = item.get("ref")
        if isinstance(ref, str):
            if ref in refs:
                errors.append(_error(["lists", index, "ref"], f"ref {ref!r} is used twice"))
            refs.add(ref)
        if item.get("is_default") is True:
            if default_seen:
                errors.append(
                    _error(["lists", index, "is_default"], "only one list can be the default")
                )
            default_seen = True
    for index, item in enumerate(raw_todos if isinstance(raw_todos, list) else []):
        if isinstance(item, dict) and isinstance(ref := item.get("list"), str) and ref not in refs:
            errors.append(_error(["todos", index, "list"], f"no list has ref {ref!r}"))
    return errors


def _error(loc: list[str | int], message: str) -> dict[str, Any]:
    return {"loc": ["body", *loc], "msg": message, "type": "value_error"}


# --- import -----------------------------------------------------------------------------------


def import_document(
    connection: Connection,
    owner_id: int,
    document: ExportDocument,
    now: dt.datetime,
    *,
    lists_by_name: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Append the document's lists and todos to the owner's; run it in one write unit.

    With `lists_by_name` (calendar imports), a list that has the name of one of the owner's
    lists is that list instead of a new one.
    """
    default_id = lists_repository.default_list_id(connection, owner_id, now)
    existing: dict[str, int] = {}
    if lists_by_name:
        for todo_list in lists_repository.list_lists(connection, owner_id):
            if todo_list.is_default or todo_list.name not in existing:
                existing[todo_list.name] = todo_list.id
    list_ids: dict[str, int] = {}
    created_lists = 0
    for item in document.lists:
        created_at = item.created_at or now
        values = ImportedList(item.name, item.order, created_at, item.updated_at or created_at)
        if item.is_default:
            repository.merge_into_default_list(connection, owner_id, default_id, values)
            list_ids[item.ref] = default_id
        elif item.name in existing:
            list_ids[item.ref] = existing[item.name]
        else:
            list_ids[item.ref] = repository.insert_list(connection, owner_id, values)
            created_lists += 1
    for batch in _batches(document.todos, INSERT_BATCH_SIZE):
        rows = [_todo_row(todo, list_ids, default_id, now) for todo in batch]
        repository.insert_todos(connection, owner_id, rows, now)
        if progress is not None:
            progress(len(batch))
    # Indexed for search here in one statement, rather than by the next search.
    index_pending_search(connection)
    return ImportResult(lists=created_lists, todos=len(document.todos))


def _todo_row(
    todo: ExportedTodo, list_ids: dict[str, int], default_id: int, now: dt.datetime
) -> ImportedTodo:
    fields = {
        "list_id": default_id if todo.list_ref is None else list_ids[todo.list_ref],
        "title": todo.title,
        "description": todo.description,
        "completed": todo.completed,
        "order": todo.order,
        "tags": todo.tags,
        "priority": todo.priority,
        "due_date": todo.due_date,
        "due_at": todo.due_at,
    }
    created_at = todo.created_at or now
    updated_at = todo.updated_at or created_at
    completed_at = (todo.completed_at or updated_at) if todo.completed else None
    return ImportedTodo(fields, created_at, updated_at, completed_at)


def _batches(items: Sequence[ExportedTodo], size: int) -> Iterator[list[ExportedTodo]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
