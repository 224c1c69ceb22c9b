"""Export and import: `GET /export` (JSON), `GET /export.ics` (iCalendar), `POST /import` (both).

The document format and its validation live in `todo_api.export_document`, the iCalendar mapping in
`todo_api.ical`; the routes read the body, pick the format by media type, and run one unit.
Exports stream page by page from one snapshot on a thread of their own (snapshot_stream.py), so
a big account costs neither the loop's time nor its size in memory.
"""

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.engine import Connection

from todo_api import export_document, ical
from todo_api.deps import caller_of, database_of
from todo_api.domain import clock
from todo_api.errors import UnsupportedMediaType
from todo_api.export_document import ExportDocument, ImportResult
from todo_api.idempotency import IDEMPOTENT_POST, idempotent_write
from todo_api.routes.openapi import AUTHENTICATED, INVALID, Responses

router = APIRouter(tags=["import and export"], responses=AUTHENTICATED)

JSON_MEDIA_TYPE = "application/json"
CALENDAR_MEDIA_TYPE = "text/calendar"
# The body is read raw (two media types), so it is declared here for /docs; the JSON schema is
# the component GET /export's response_model registers.
IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            JSON_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ExportDocument"}},
            CALENDAR_MEDIA_TYPE: {
                "schema": {"type": "string", "description": "A VCALENDAR of VTODOs"}
            },
        },
    }
}
IMPORT_ERRORS: Responses = {
    400: {"description": "The JSON body is not JSON"},
    413: {"description": "The body is larger than TODO_MAX_BODY_BYTES"},
    415: {"description": "The body is neither application/json nor text/calendar"},
    **INVALID,
}
ATTACHMENT = {"Content-Disposition": {"description": 'attachment; filename="todo-export-…"'}}


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


@router.get("/export", response_model=ExportDocument, responses={200: {"headers": ATTACHMENT}})
async def export_json(request: Request) -> Response:
    """All your lists and todos as one versioned JSON document (a download), for `POST /import`."""
    caller = caller_of(request)
    now = clock.now()
    chunks = database_of(request).stream_off_loop(
        lambda connection: export_document.export_chunks(connection, caller.user_id, now)
    )
    return StreamingResponse(
        chunks,
        media_type=JSON_MEDIA_TYPE,
        headers=_attachment(export_document.export_filename(now, "json")),
    )


@router.get(
    "/export.ics",
    response_class=Response,
    responses={
        200: {
            "content": {CALENDAR_MEDIA_TYPE: {"schema": {"type": "string"}}},
            "headers": ATTACHMENT,
            "description": "A VCALENDAR with one VTODO per todo",
        }
    },
)
async def export_calendar(request: Request) -> Response:
    """Your todos as iCalendar VTODOs (a download), for calendar and task apps."""
    caller = caller_of(request)
    now = clock.now()
    chunks = database_of(request).stream_off_loop(
        lambda connection: ical.calendar_chunks(connection, caller.user_id, now)
    )
    return StreamingResponse(
        chunks,
        media_type=f"{CALENDAR_MEDIA_TYPE}; charset=utf-8",
        headers=_attachment(export_document.export_filename(now, "ics")),
    )


@router.post(
    "/import",
    response_model=ImportResult,
    openapi_extra={**IMPORT_BODY, **IDEMPOTENT_POST},
    responses=IMPORT_ERRORS,
)
async def import_document(request: Request) -> Response:
    """Add an export (JSON) or a calendar's VTODOs to your data: all of it, or nothing.

    Appends; nothing existing is replaced. The document's default list merges into yours.
    """
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in (JSON_MEDIA_TYPE, CALENDAR_MEDIA_TYPE):
        raise UnsupportedMediaType(
            f"Send {JSON_MEDIA_TYPE} (a todo-api export) or {CALENDAR_MEDIA_TYPE} (iCalendar)."
        )
    body = await request.body()  # the body size limit middleware still applies
    is_calendar = media_type == CALENDAR_MEDIA_TYPE
    # Parsing a big document takes seconds (~1.3 s for 100k todos): on a thread, not the loop.
    parse = ical.parse_calendar if is_calendar else export_document.parse_document
    document = await asyncio.to_thread(parse, body)
    caller = caller_of(request)

    def run_import(connection: Connection) -> Response:
        result = export_document.import_document(
            connection, caller.user_id, document, clock.now(), lists_by_name=is_calendar
        )
        return Response(result.model_dump_json(), media_type=JSON_MEDIA_TYPE)

    return await idempotent_write(request, caller.user_id, run_import, long=True)
