"""Every response the API suite sees is checked against the app's OpenAPI document.

`ContractClient` is the suite's `client`: after each request it finds the documented operation
(path template and method), and fails the test unless the status is listed for it, the media type
is the documented one, and a JSON body validates against the documented schema, with unknown keys
refused. So the document cannot drift from the server without a test failing.
"""

import copy
import re
from functools import cached_property
from typing import Any, TypeVar

import httpx2 as httpx
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict

from todo_api.schemas import ListRead, TagRead, TodoRead

Document = dict[str, Any]
Model = TypeVar("Model", bound=BaseModel)

# Served beside the API, not part of it: the document and the pages that render it, and the
# Prometheus metrics (on the API's port only with TODO_AUTH=disabled and no TODO_METRICS_PORT).
BESIDE_THE_API = re.compile(r"/openapi\.json|/docs(/.*)?|/redoc|/metrics|/app/.*")
PROBLEM = {"$ref": "#/components/schemas/Problem"}
PROBLEM_MEDIA_TYPE = "application/problem+json"
NO_BODY_STATUSES = {204, 304}


class ContractViolation(AssertionError):
    """A response the OpenAPI document does not describe."""


class ContractClient(TestClient):
    """A TestClient whose every response must match the app's OpenAPI document."""

    @cached_property
    def contract(self) -> "Contract":
        return Contract(self.app.openapi())  # type: ignore[attr-defined]

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> httpx.Response:
        response = super().request(method, url, *args, **kwargs)
        self.contract.check(response)
        return response


class Contract:
    def __init__(self, document: Document) -> None:
        self.document = document
        self.operations = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path, operations)
            for path, operations in document["paths"].items()
        ]
        self.components = _forbid_unknown_keys(copy.deepcopy(document["components"]))
        self._validators: dict[int, Draft202012Validator] = {}

    def check(self, response: httpx.Response) -> None:
        request = response.request
        path, method = request.url.path, request.method
        if BESIDE_THE_API.fullmatch(path) or _is_cors_preflight(request):
            return
        context = f"{method} {path} answered {response.status_code}"
        operation = self._operation(path, method)
        if operation is None:  # no such route or method: only the error handlers answer these
            if response.status_code not in (404, 405):
                raise ContractViolation(f"{context}, but the document has no such operation")
            self._check_body(response, {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM}}, context)
            return
        documented = operation["responses"].get(str(response.status_code))
        if documented is None:
            raise ContractViolation(
                f"{context}: status not documented (documented: {sorted(operation['responses'])})"
            )
        self._check_body(response, documented.get("content", {}), context)

    def _operation(self, path: str, method: str) -> Document | None:
        method = "get" if method == "HEAD" else method.lower()
        for pattern, _template, operations in self.operations:
            if pattern.match(path):
                found: Document | None = operations.get(method)
                return found
        return None

    def _check_body(self, response: httpx.Response, content: Document, context: str) -> None:
        if response.request.method == "HEAD" or response.status_code in NO_BODY_STATUSES:
            if response.content:
                raise ContractViolation(f"{context} with a body where none is allowed")
            return
        if not content:
            if response.content:
                raise ContractViolation(f"{context} with a body; the document says none")
            return
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        if media_type not in content:
            raise ContractViolation(f"{context} as {media_type!r}; documented: {sorted(content)}")
        schema = content[media_type].get("schema")
        if schema is None or not media_type.endswith("json"):
            return
        validator = self._validators.get(id(schema))
        if validator is None:
            validator = Draft202012Validator({**schema, "components": self.components})
            self._validators[id(schema)] = validator
        errors = sorted(validator.iter_errors(response.json()), key=lambda error: error.path)
        if errors:
            details = "\n".join(
                f"  at {list(error.absolute_path)}: {error.message}" for error in errors[:5]
            )
            raise ContractViolation(f"{context}; the body does not match the document:\n{details}")


def _is_cors_preflight(request: httpx.Request) -> bool:
    """Answered by the CORS middleware for any path, before routing: HTTP, not the API."""
    return request.method == "OPTIONS" and "access-control-request-method" in request.headers


def _forbid_unknown_keys(components: Document) -> Document:
    """The document's schemas, but a model takes no key it does not list. Only whole models:
    a `properties` inside `not` or `anyOf` states a rule, and closing it would change the rule."""
    for schema in components.get("schemas", {}).values():
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)
    return components


def strict(model: type[Model]) -> type[Model]:
    """`model` refusing keys it does not declare: a new, undocumented key fails the test."""
    config = ConfigDict(**{**model.model_config, "extra": "forbid"})
    return type(f"Strict{model.__name__}", (model,), {"model_config": config})


# The Read models the suite parses bodies with, refusing undocumented keys.
StrictTodoRead = strict(TodoRead)
StrictListRead = strict(ListRead)
StrictTagRead = strict(TagRead)
