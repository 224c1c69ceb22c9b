"""OpenTelemetry tracing, opt-in through the standard `OTEL_*` variables; nothing when off.

On when `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`) or an OTLP endpoint is set
(`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), unless
`OTEL_SDK_DISABLED=true`. The SDK and the OTLP exporter are the optional extra
`todo-api[tracing]`; the exporter reads its own `OTEL_EXPORTER_OTLP_*` settings, the resource
`OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`.

When off, `tracer` stays None: the app adds no tracing middleware, and `traced` hands back the
unit of work itself, so a request pays nothing but one `is None` test per database call.
"""

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from todo_api.logs import request_id_var

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

A = TypeVar("A")
R = TypeVar("R")
INSTRUMENTATION_NAME = "todo_api"
SERVICE_NAME = "todo-api"
REQUEST_ID_ATTRIBUTE = "todo.request_id"
_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

tracer: "Tracer | None" = None  # set by start(): the one switch every instrumented place reads


class TracingUnavailable(RuntimeError):
    """Tracing was asked for, but the SDK is not installed."""


def exporter_name(environ: Mapping[str, str]) -> str | None:
    """Which exporter the OTEL_* variables ask for, or None when tracing is off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    name = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if name:
        return None if name == "none" else name
    return "otlp" if any(environ.get(variable) for variable in _ENDPOINT_VARIABLES) else None


def start_from_environment(environ: Mapping[str, str] = os.environ) -> None:
    """Turn tracing on when the environment asks for it (once per process)."""
    name = exporter_name(environ)
    if name is None or tracer is not None:
        return
    try:
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError:
        raise TracingUnavailable(
            "OTEL_* variables ask for tracing, but the OpenTelemetry SDK is not installed: "
            "pip install 'todo-api[tracing]'"
        ) from None
    exporter: SpanExporter
    if name == "console":
        exporter = ConsoleSpanExporter()
    elif name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    else:
        raise TracingUnavailable(f"OTEL_TRACES_EXPORTER={name}: todo-api knows otlp and console")
    start(BatchSpanProcessor(exporter))


def start(processor: object) -> "TracerProvider":
    """Trace through `processor` (a SpanProcessor); the provider, so a test can shut it down."""
    global tracer
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    assert isinstance(processor, SpanProcessor)
    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES over this default.
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    provider.add_span_processor(processor)
    tracer = provider.get_tracer(INSTRUMENTATION_NAME)
    return provider


def stop() -> None:
    """Tracing off again (tests)."""
    global tracer
    tracer = None


def traced(work: Callable[[A], R], name: str, system: str = "sqlite") -> Callable[[A], R]:
    """`work` inside a span named `name` (a child of the request's), or `work` itself when off;
    `system` is the database's OpenTelemetry name (`sqlite`, `postgresql`)."""
    active = tracer
    if active is None:
        return work

    def in_span(argument: A) -> R:
        with active.start_as_current_span(name, attributes=_database_attributes(system)):
            return work(argument)

    return in_span


def _database_attributes(system: str) -> dict[str, str]:
    attributes = {"db.system.name": system}
    if request_id := request_id_var.get():
        attributes[REQUEST_ID_ATTRIBUTE] = request_id
    return attributes
