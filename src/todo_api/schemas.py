"""Request and response bodies: the Create / Replace / Patch / Read family per resource."""

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from todo_api.tables import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX_LENGTH)
]
Description = Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX_LENGTH)]
Order = Annotated[float, Field(allow_inf_nan=False)]


class RequestBody(BaseModel):
    """Strict JSON input: unknown fields and loosely typed values are errors, not guesses."""

    model_config = ConfigDict(extra="forbid", strict=True)


class TodoCreate(RequestBody):
    """A new todo; only the title is required."""

    title: Title
    description: Description | None = None
    completed: bool = False
    order: Order | None = None


class TodoReplace(TodoCreate):
    """PUT: the whole todo; a field left out takes its default, as on create."""


class TodoPatch(RequestBody):
    """JSON Merge Patch (RFC 7396): an absent field is untouched, `null` clears a nullable one."""

    title: Title = None  # type: ignore[assignment]  # absent means untouched; null is rejected
    description: Description | None = None
    completed: bool = None  # type: ignore[assignment]
    order: Order | None = None


class TodoRead(BaseModel):
    """A todo as clients see it."""

    id: int
    url: str = Field(description="Absolute URL of this todo.")
    title: str
    description: str | None
    completed: bool
    completed_at: dt.datetime | None = Field(description="Set by the server on completion.")
    order: float | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ServiceInfo(BaseModel):
    """What `GET /` tells a client about this service."""

    name: str
    version: str
    links: dict[str, str]


class Health(BaseModel):
    status: str
