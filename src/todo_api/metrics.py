"""The Prometheus metrics every layer records, and their exposition (`GET /metrics`).

A shared leaf: the HTTP edge records requests (metrics_middleware.py), the database seam its
time, write batches and lock waits. With several workers each process writes its values to
files in PROMETHEUS_MULTIPROC_DIR (`todo-api serve` sets one up), and an exposition reads all
of them, so any worker answers for the whole server. prometheus_client chooses its storage
when it is imported, which is why the variable is set before any worker starts.
"""

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from todo_api.config import METRICS_MULTIPROCESS_VARIABLE

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Seconds: a point read takes ~0.1 ms, a page ~1 ms, an import of 100k todos ~5 s.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

REQUESTS = Counter(
    "todo_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "todo_http_request_duration_seconds",
    "Time from a request's arrival to its last byte sent, by method, route template and status.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge(
    "todo_http_requests_in_flight",
    "Requests being answered now.",
    multiprocess_mode="livesum",
)
EVENT_STREAMS = Gauge(
    "todo_events_streams_open",
    "Server-Sent Event streams (GET /events) open now.",
    multiprocess_mode="livesum",
)
DATABASE_SECONDS = Histogram(
    "todo_db_seconds",
    "Database time: a write batch's transaction (inline or on the writer thread), a long read's "
    "snapshot (exports, on a thread).",
    ["work"],
    buckets=LATENCY_BUCKETS,
)
WRITE_BATCH_UNITS = Histogram(
    "todo_db_write_batch_units",
    "Write units sharing one transaction and commit (group commit).",
    buckets=BATCH_BUCKETS,
)
LOCK_WAIT_SECONDS = Histogram(
    "todo_db_lock_wait_seconds",
    "Time spent taking SQLite's write lock (BEGIN IMMEDIATE): another writer held it.",
    buckets=LATENCY_BUCKETS,
)
LOCK_TIMEOUTS = Counter(
    "todo_db_lock_timeouts",
    "Write batches that gave up waiting for the write lock (answered 503).",
)
WRITE_BATCHES = Counter(
    "todo_db_write_batches",
    "Write batches committed, by where they ran: inline on the event loop (the lock was free and "
    "the writer thread idle) or on the writer thread.",
    ["path"],
)

WRITE_BATCH = DATABASE_SECONDS.labels("write_batch")
SNAPSHOT = DATABASE_SECONDS.labels("snapshot")


def exposition_registry() -> CollectorRegistry:
    """This process's metrics, or all workers' when they share a multiprocess directory."""
    if os.environ.get(METRICS_MULTIPROCESS_VARIABLE):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def exposition() -> bytes:
    """Every metric in Prometheus's text format."""
    return generate_latest(exposition_registry())
