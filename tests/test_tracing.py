"""OpenTelemetry tracing: off unless OTEL_* asks, then a span per request with its database work."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from support import API_BASE_URL, TEMPLATE_AUTH, post_created
from todo_api import tracing
from todo_api.app import create_app
from todo_api.config import Settings
from todo_api.tracing_middleware import TracingMiddleware


@pytest.fixture
def spans(settings: Settings) -> Iterator[tuple[TestClient, InMemorySpanExporter]]:
    """A client of an app built with tracing on, and what it exports (in memory)."""
    exporter = InMemorySpanExporter()
    provider = tracing.start(SimpleSpanProcessor(exporter))
    try:
        with TestClient(
            create_app(settings), base_url=API_BASE_URL, headers=TEMPLATE_AUTH
        ) as client:
            yield client, exporter
    finally:
        tracing.stop()
        provider.shutdown()


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


def test_a_request_span_holds_its_route_status_request_id_and_database_work(
    spans: tuple[TestClient, InMemorySpanExporter],
) -> None:
    client, exporter = spans
    created = post_created(client, "/todos", title="traced")
    exporter.clear()
    response = client.get(f"/todos/{created['id']}", headers={"X-Request-ID": "trace-me-1"})
    assert response.status_code == 200
    [request] = named(exporter, "GET /todos/{todo_id}")
    assert request.kind == SpanKind.SERVER
    assert request.attributes is not None
    assert request.attributes["http.route"] == "/todos/{todo_id}"
    assert request.attributes["http.response.status_code"] == 200
    assert request.attributes[tracing.REQUEST_ID_ATTRIBUTE] == "trace-me-1"
    [read] = named(exporter, "db.read")
    assert read.parent is not None and request.context is not None
    assert read.parent.span_id == request.context.span_id
    assert read.attributes is not None
    assert read.attributes[tracing.REQUEST_ID_ATTRIBUTE] == "trace-me-1"


def test_a_write_on_the_writer_thread_is_a_child_of_its_request(
    spans: tuple[TestClient, InMemorySpanExporter],
) -> None:
    client, exporter = spans
    post_created(client, "/lists", name="traced writes")
    [request] = named(exporter, "POST /lists")
    # The token's first use is noted by a write of its own (authentication.py), beside this one.
    writes = named(exporter, "db.write")
    assert request.context is not None
    assert any(
        write.parent is not None and write.parent.span_id == request.context.span_id
        for write in writes
    )


def test_an_export_streamed_from_its_thread_is_traced_in_its_request(
    spans: tuple[TestClient, InMemorySpanExporter],
) -> None:
    client, exporter = spans
    assert client.get("/export.ics").status_code == 200
    [request] = named(exporter, "GET /export.ics")
    assert request.attributes is not None
    assert request.attributes["http.response.status_code"] == 200


def test_off_by_default_the_app_has_no_tracing_at_all(settings: Settings) -> None:
    assert tracing.tracer is None
    app = create_app(settings)
    classes: list[object] = [middleware.cls for middleware in app.user_middleware]
    assert TracingMiddleware not in classes


@pytest.mark.parametrize(
    ("environ", "exporter"),
    [
        ({}, None),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, None),
    ],
)
def test_the_standard_variables_turn_it_on(environ: dict[str, str], exporter: str | None) -> None:
    assert tracing.exporter_name(environ) == exporter


def test_an_unknown_exporter_is_refused_with_one_line() -> None:
    with pytest.raises(tracing.TracingUnavailable, match="knows otlp and console"):
        tracing.start_from_environment({"OTEL_TRACES_EXPORTER": "zipkin"})
    assert tracing.tracer is None
