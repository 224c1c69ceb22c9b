"""Request and response bodies: the Create / Replace / Patch / Read family per resource."""

import datetime as dt
import re
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from todo_api.domain.accounts import (
    PASSWORD_MAX_LENGTH,
    USERNAME_MAX_LENGTH,
    Scope,
    username_problem,
)
from todo_api.domain.due import require_one_due
from todo_api.domain.tags import unique_tags
from todo_api.domain.text import free_text, plain_name
from todo_api.tables import (
    API_TOKEN_NAME_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    LIST_NAME_MAX_LENGTH,
    TAG_MAX_LENGTH,
    TITLE_MAX_LENGTH,
)

MAX_TAGS = 20
MAX_PRIORITY = 3
# Dates and moments are in the years 0002-9998: any offset then converts to UTC without leaving
# what a datetime holds, and 9999-12-31 stays free as the "no due date" sort key (NO_DUE).
# The same rule is the `pattern` of every date in the OpenAPI document.
_YEAR = r"(000[2-9]|00[1-9]\d|0[1-9]\d\d|[1-8]\d{3}|9[0-8]\d\d|99[0-8]\d|999[0-8])"
YEARS = "years 0002-9998"
IN_YEAR_RANGE = Field(json_schema_extra={"pattern": f"^{_YEAR}-"})
_DATE = re.compile(_YEAR + r"-\d{2}-\d{2}")
# RFC 3339: a date, "T" (or space), a time, optional fraction, and an offset that is required.
_DATE_TIME = re.compile(
    _YEAR + r"-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})"
)


def _date_string(value: Any) -> Any:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError(f"must be an all-day date, YYYY-MM-DD, in the {YEARS}")
    return value


def _rfc3339_string(value: Any) -> Any:
    if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
        raise ValueError(
            "must be an RFC 3339 date-time with an offset, e.g. 2026-12-01T09:30:00+01:00, "
            f"in the {YEARS}"
        )
    return value


def _whole_number(value: Any) -> Any:
    """JSON has one number type: `3.0` is the integer 3 (as JSON Schema says); `3.5` is not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Names are trimmed (of Unicode White_Space, as pydantic's strip does) before the length check,
# and hold no control character (domain/text.py); the pattern tells the document both: no
# control character anywhere, and one character that is neither that nor whitespace.
_NAME_CHARACTER = "[^\\x00-\\x1f\\x7f]"
_NOT_WHITESPACE = (
    "[^\\x00-\\x20\\x7f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
)
NAME_PATTERN = Field(
    json_schema_extra={"pattern": f"^{_NAME_CHARACTER}*{_NOT_WHITESPACE}{_NAME_CHARACTER}*$"}
)
# A description keeps tabs and line breaks, and no other control character.
FREE_TEXT_PATTERN = Field(
    json_schema_extra={"pattern": "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$"}
)
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX_LENGTH),
    NAME_PATTERN,
    BeforeValidator(plain_name),
]
Description = Annotated[
    str,
    StringConstraints(max_length=DESCRIPTION_MAX_LENGTH),
    FREE_TEXT_PATTERN,
    BeforeValidator(free_text),
]
# Always a float, so `order` reads back the same as it was written (95 is returned as 95.0).
Order = Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15), AfterValidator(float)]
ListName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=LIST_NAME_MAX_LENGTH),
    NAME_PATTERN,
    BeforeValidator(plain_name),
]
Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TAG_MAX_LENGTH),
    NAME_PATTERN,
    BeforeValidator(plain_name),
]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(unique_tags)]
# Constraints before the validator, or they vanish from the JSON schema.
Priority = Annotated[
    int,
    Field(ge=0, le=MAX_PRIORITY, description="0 = none … 3 = high"),
    BeforeValidator(_whole_number),
]
DueDate = Annotated[
    dt.date,
    Field(strict=False, description="All-day due date, YYYY-MM-DD."),
    IN_YEAR_RANGE,
    BeforeValidator(_date_string),
]
DueAt = Annotated[
    dt.datetime,
    Field(strict=False, description="Due moment, RFC 3339 with offset; returned as given."),
    IN_YEAR_RANGE,
    BeforeValidator(_rfc3339_string),
]
# Ids stay within what every JSON client reads exactly (JavaScript's Number.MAX_SAFE_INTEGER).
MAX_RESOURCE_ID = 2**53 - 1
ResourceId = Annotated[int, Field(ge=1, le=MAX_RESOURCE_ID), BeforeValidator(_whole_number)]


class RequestBody(BaseModel):
    """Strict JSON input: unknown fields and loosely typed values are errors, not guesses."""

    model_config = ConfigDict(extra="forbid", strict=True)


# The "not both" validators below, as the OpenAPI document states them (null counts as unset).
NOT_BOTH_DUE_FIELDS: dict[str, Any] = {
    "not": {
        "required": ["due_date", "due_at"],
        "properties": {"due_date": {"type": "string"}, "due_at": {"type": "string"}},
    }
}


class _OneDueField(RequestBody):
    model_config = ConfigDict(json_schema_extra=NOT_BOTH_DUE_FIELDS)

    @model_validator(mode="after")
    def _due_date_or_due_at(self) -> Self:
        values = self.__dict__
        require_one_due(values.get("due_date"), values.get("due_at"))
        return self


class TodoCreate(_OneDueField):
    """A new todo; only the title is required. Without `list_id` it goes to the default list."""

    title: Title
    description: Description | None = None
    completed: bool = False
    order: Order | None = None
    list_id: ResourceId | None = None
    tags: Tags = []
    priority: Priority = 0
    due_date: DueDate | None = None
    due_at: DueAt | None = None


class TodoReplace(TodoCreate):
    """PUT: the whole todo; a field left out takes its default, as on create."""


class TodoPatch(_OneDueField):
    """JSON Merge Patch (RFC 7396): an absent field is untouched, `null` clears a nullable one."""

    # A default of None means "absent"; an explicit null for these is rejected by their type.
    title: Title = None  # type: ignore[assignment]
    description: Description | None = None
    completed: bool = None  # type: ignore[assignment]
    order: Order | None = None
    list_id: ResourceId = None  # type: ignore[assignment]
    tags: Tags = None  # type: ignore[assignment]
    priority: Priority = None  # type: ignore[assignment]
    due_date: DueDate | None = None
    due_at: DueAt | None = None


class TodoRead(BaseModel):
    """A todo as clients see it."""

    id: int
    url: str = Field(description="Absolute URL of this todo.")
    list_id: int
    title: str
    description: str | None
    completed: bool
    completed_at: dt.datetime | None = Field(description="Set by the server on completion.")
    order: float | None
    tags: list[str]
    priority: int
    due_date: dt.date | None
    due_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ListCreate(RequestBody):
    name: ListName
    order: Order | None = None


class ListReplace(ListCreate):
    """PUT: the whole list; `order` left out becomes null."""


class ListPatch(RequestBody):
    name: ListName = None  # type: ignore[assignment]
    order: Order | None = None


class ListRead(BaseModel):
    id: int
    url: str
    name: str
    order: float | None
    is_default: bool = Field(description="The list todos go to without a list_id; not deletable.")
    created_at: dt.datetime
    updated_at: dt.datetime


class TagRead(BaseModel):
    name: str
    count: int = Field(description="How many of your todos carry it.")


class BulkResult(BaseModel):
    """How many todos a bulk operation changed or deleted."""

    count: int


class TodoCount(BaseModel):
    """How many todos match the filters."""

    count: int


class ServiceInfo(BaseModel):
    """What `GET /` tells a client about this service."""

    name: str
    version: str
    links: dict[str, str]


class Health(BaseModel):
    status: str


SortName = Literal[
    "-created_at", "created_at", "order", "due", "-priority", "updated_at", "-updated_at"
]


def _moment(value: Any) -> Any:
    """A query moment: an RFC 3339 date-time with offset, or a date meaning 00:00 UTC that day."""
    if isinstance(value, str) and _DATE.fullmatch(value):
        return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), dt.UTC)
    return _rfc3339_string(value)


Moment = Annotated[
    dt.datetime,
    Field(description="RFC 3339 date-time with offset, or a date (meaning 00:00 UTC that day)."),
    IN_YEAR_RANGE,
    BeforeValidator(_moment),
]
# The search needs a word: `pattern` tells clients (and the document) what the search enforces.
SearchText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    Field(json_schema_extra={"pattern": r"\w"}),
]


class TodoFilters(BaseModel):
    """Which todos a list, bulk update or bulk delete applies to; all given filters must hold.

    Unknown query parameters are errors: a typo must not turn `DELETE /todos?complete=true`
    into "delete everything".
    """

    model_config = ConfigDict(extra="forbid")

    list_id: ResourceId | None = None
    completed: bool | None = None
    tag: Annotated[list[Tag], Field(max_length=MAX_TAGS)] = Field(
        default=[], description="Repeatable; a todo must carry every one (any case)."
    )
    priority_min: Priority | None = None
    due_before: Moment | None = Field(default=None, description="Due at or before this moment.")
    due_after: Moment | None = Field(default=None, description="Due after this moment.")
    overdue: bool | None = Field(default=None, description="Due in the past and not completed.")
    q: SearchText | None = Field(default=None, description="Words in the title or description.")


class TodoPageQuery(TodoFilters):
    """`GET /todos`: filters, a sort, and where the page starts."""

    sort: SortName = "-created_at"
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Annotated[str | None, Field(max_length=512)] = None


# --- accounts: users, tokens, sessions (docs/security.md) -------------------------------------


def _valid_username(value: str) -> str:
    problem = username_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


Username = Annotated[str, AfterValidator(_valid_username)]
# Any string a login may try; the policy (length, common passwords) applies to new passwords.
Password = Annotated[str, StringConstraints(min_length=1, max_length=PASSWORD_MAX_LENGTH)]
LoginName = Annotated[str, StringConstraints(min_length=1, max_length=USERNAME_MAX_LENGTH)]


class UserCreate(RequestBody):
    username: Username = Field(examples=["ada"])
    password: Password = Field(examples=["a passphrase of 12+ characters"])


class UserRead(BaseModel):
    id: int
    username: str
    created_at: dt.datetime


class PasswordChange(RequestBody):
    current_password: Password
    new_password: Password
    # Revoke every token and session but the one making this request (after a suspected leak).
    revoke_other_credentials: bool = False


class AccountDelete(RequestBody):
    password: Password


class Login(RequestBody):
    username: LoginName = Field(examples=["ada"])
    password: Password = Field(examples=["a passphrase of 12+ characters"])


ExpiresAt = Annotated[
    dt.datetime,
    Field(
        strict=False,
        description="RFC 3339 with offset; in the future, at most TODO_TOKEN_MAX_DAYS away",
    ),
    IN_YEAR_RANGE,
    BeforeValidator(_rfc3339_string),
]


class TokenCreate(Login):
    name: Annotated[str, StringConstraints(max_length=API_TOKEN_NAME_MAX_LENGTH)] | None = None
    # Not strict: JSON has no enums, so strict mode would refuse every string.
    scopes: list[Annotated[Scope, Field(strict=False)]] = Field(
        default=[Scope.READ, Scope.WRITE], min_length=1
    )
    expires_at: ExpiresAt | None = None

    @model_validator(mode="after")
    def _write_needs_read(self) -> Self:
        if Scope.WRITE in self.scopes and Scope.READ not in self.scopes:
            raise ValueError('scopes: "write" comes with "read": send ["read", "write"]')
        return self


class TokenRead(BaseModel):
    id: int
    name: str | None
    prefix: str = Field(description="The token's first characters, to recognise it (not secret)")
    scopes: list[Scope]
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="The secret: shown this once, never again")


class SessionRead(BaseModel):
    username: str
    csrf_token: str = Field(description="Send in X-CSRF-Token with every unsafe request")
    expires_at: dt.datetime
