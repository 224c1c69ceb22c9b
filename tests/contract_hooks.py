"""Schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by tests/test_schemathesis.py).

Some inputs have validity no JSON Schema can state, so valid-by-schema random values would be
refused and reported as "schema-valid request rejected". In positive cases only (negative cases
keep probing them), each is replaced by what a real client sends:

- `cursor`: opaque and signed by the server; clients copy it from `Link`, never make one up;
- `Idempotency-Key`: a new key per new request (a reused key with another body is 422 by design);
- a `text/calendar` body: must be an iCalendar document, which a string schema cannot describe;
- an import document's lists: unique `ref`s, each todo's `list` naming one, one default at most;
- a body's `list_id`: must name an existing list; 1 is the default list of a fresh database,
  which cannot be deleted;
- a new account's password (`POST /users`): the password policy (no common password, no
  sequence, no repeated unit, not the username) is more than a length;
- a token's `expires_at` (`POST /tokens`): must lie in the future, which depends on the clock.

`PATCH /me` and `DELETE /me` need the account's current password, which no generated value is:
schemathesis.toml accepts their 422 in positive cases instead.
"""

import itertools
from typing import Any

import schemathesis
from schemathesis import Case
from schemathesis.hooks import HookContext

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
CALENDAR_MEDIA_TYPE = "text/calendar"
CALENDAR = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//schemathesis//todo-api//EN\r\n"
    "BEGIN:VTODO\r\nUID:contract-1\r\nSUMMARY:From a calendar\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
)
DEFAULT_LIST_ID = 1
_keys = itertools.count()
_accounts = itertools.count()


@schemathesis.hook
def map_case(context: HookContext, case: Case[Any]) -> Case[Any]:
    if case.meta is None or case.meta.generation.mode.is_negative:
        return case
    case.query.pop("cursor", None)
    if IDEMPOTENCY_KEY_HEADER in case.headers:
        case.headers[IDEMPOTENCY_KEY_HEADER] = f"contract-{next(_keys)}"
    if case.media_type == CALENDAR_MEDIA_TYPE:
        case.body = CALENDAR
    elif case.operation.path == "/import" and isinstance(case.body, dict):
        _connect_refs(case.body)
    elif isinstance(case.body, dict) and case.body.get("list_id") is not None:
        case.body["list_id"] = DEFAULT_LIST_ID
    if isinstance(case.body, dict) and case.method == "POST":
        if case.operation.path == "/users":
            case.body["password"] = f"contract passphrase {next(_accounts)} of a tester"
        elif case.operation.path == "/tokens":
            case.body.pop("expires_at", None)
    return case


def _connect_refs(document: dict[str, Any]) -> None:
    refs = []
    for index, item in enumerate(document.get("lists", [])):
        item["ref"] = ref = f"l{index}"
        refs.append(ref)
        if index > 0:
            item["is_default"] = False
    for index, item in enumerate(document.get("todos", [])):
        if item.get("list") is not None:
            item["list"] = refs[index % len(refs)] if refs else None
