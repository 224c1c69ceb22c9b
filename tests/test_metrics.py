"""GET /metrics: requests by route template and status on both paths, database metrics, and
the dashboards and alerts of deploy/observability/ querying only what is served.

The API's port serves /metrics only with TODO_AUTH=disabled (the `settings` of this module);
with accounts required, they are on TODO_METRICS_PORT alone."""

import json
import re
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from support import (
    API_BASE_URL,
    PROJECT_ROOT,
    TEMPLATE_AUTH,
    free_port,
    post_created,
    todo_api_server,
)
from todo_api.app import create_app
from todo_api.config import Settings

MERGE_PATCH = {"content-type": "application/merge-patch+json"}
OBSERVABILITY = PROJECT_ROOT / "deploy" / "observability"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, auth="disabled")


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


def requests_of(
    scraped: dict[tuple[str, frozenset[tuple[str, str]]], float],
    method: str,
    route: str,
    status: str,
) -> float:
    labels = frozenset({"method": method, "route": route, "status": status}.items())
    return scraped.get(("todo_http_requests_total", labels), 0.0)


def test_requests_are_counted_by_route_template_on_both_paths(client: TestClient) -> None:
    todo = post_created(client, "/todos", title="counted")
    before = scrape(client)
    assert client.get(f"/todos/{todo['id']}").status_code == 200  # the fast lane
    assert client.get(f"/lists/{todo['list_id']}").status_code == 200  # FastAPI's routing
    assert client.get("/todos/999999").status_code == 404  # the fast lane hands it to FastAPI
    assert client.get("/no/such/path/42").status_code == 404
    after = scrape(client)
    counted = {
        ("GET", "/todos/{todo_id}", "200"): 1,
        ("GET", "/lists/{list_id}", "200"): 1,
        ("GET", "/todos/{todo_id}", "404"): 1,
        ("GET", "(unmatched)", "404"): 1,
    }
    for labels, count in counted.items():
        assert requests_of(after, *labels) - requests_of(before, *labels) == count, labels
    duration = frozenset({"method": "GET", "route": "/todos/{todo_id}", "status": "200"}.items())
    assert after[("todo_http_request_duration_seconds_count", duration)] >= 1
    routes = {value for _name, labels in after for key, value in labels if key == "route"}
    assert not any(route.startswith("/no/such") for route in routes)  # no series per raw path


@pytest.mark.sqlite_only  # the writer thread's batches and SQLite's lock waits
def test_writes_record_batches_lock_waits_and_database_time(client: TestClient) -> None:
    before = scrape(client)
    post_created(client, "/todos", title="one write")
    after = scrape(client)
    for name in ("todo_db_write_batch_units_count", "todo_db_lock_wait_seconds_count"):
        assert after[(name, frozenset())] - before[(name, frozenset())] == 1, name
    write = frozenset({"work": "write_batch"}.items())
    assert after[("todo_db_seconds_count", write)] - before[("todo_db_seconds_count", write)] == 1


@pytest.mark.sqlite_only  # SQLite's inline and writer-thread paths
def test_writes_count_where_they_ran_short_ones_inline_long_ones_on_the_writer_thread(
    client: TestClient,
) -> None:
    def batches(path: str) -> float:
        return scrape(client).get(("todo_db_write_batches_total", frozenset({("path", path)})), 0)

    listed = post_created(client, "/lists", name="to delete")
    long_writes: list[tuple[str, str, dict[str, Any], int]] = [
        ("PATCH", "/todos", {"content": b'{"completed": true}', "headers": MERGE_PATCH}, 200),
        ("DELETE", "/todos?completed=true", {}, 200),
        ("POST", "/import", {"json": {"format": "todo-api", "version": 1, "todos": []}}, 200),
        ("DELETE", f"/lists/{listed['id']}", {}, 204),
    ]
    for method, path, arguments, status in long_writes:
        inline, thread = batches("inline"), batches("thread")
        assert client.request(method, path, **arguments).status_code == status, (method, path)
        assert (batches("inline") - inline, batches("thread") - thread) == (0, 1), (method, path)
    # The thread is idle again, and the lock free: a short write commits on the loop.
    inline, thread = batches("inline"), batches("thread")
    post_created(client, "/todos", title="short")
    assert (batches("inline") - inline, batches("thread") - thread) == (1, 0)


def test_an_export_records_its_snapshot_time(client: TestClient) -> None:
    snapshot = frozenset({"work": "snapshot"}.items())
    before = scrape(client)[("todo_db_seconds_count", snapshot)]
    assert client.get("/export").status_code == 200
    assert scrape(client)[("todo_db_seconds_count", snapshot)] - before == 1


def test_with_a_metrics_port_the_api_port_does_not_serve_them(database_url: str) -> None:
    settings = Settings(database_url=database_url, metrics_port=free_port())
    with TestClient(create_app(settings), base_url=API_BASE_URL, headers=TEMPLATE_AUTH) as client:
        assert client.get("/metrics").status_code == 404


def test_with_accounts_required_the_api_port_does_not_serve_them(database_url: str) -> None:
    with TestClient(
        create_app(Settings(database_url=database_url, auth="required")), base_url=API_BASE_URL
    ) as client:
        assert client.get("/metrics").status_code == 401  # not public: it asks for a credential
        assert client.get("/metrics", headers=TEMPLATE_AUTH).status_code == 404  # nor served


def queried_metrics() -> set[str]:
    """The todo-api metric names (all begin `todo_`) the dashboard's and the alerts' queries use."""
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    rules = (OBSERVABILITY / "alerts.yaml").read_text()
    return set(re.findall(r"\btodo_\w+", " ".join(expressions) + rules))


def test_every_metric_the_dashboard_and_alerts_query_is_served(client: TestClient) -> None:
    post_created(client, "/todos", title="so every labelled series exists")
    served = {name for name, _labels in scrape(client)}
    queried = queried_metrics()
    assert "todo_http_requests_total" in queried
    assert "todo_db_lock_wait_seconds_bucket" in queried
    assert queried <= served, queried - served


@pytest.mark.slow
def test_several_workers_answer_for_the_whole_server(tmp_path: Path) -> None:
    metrics_port = free_port()
    with todo_api_server(tmp_path, workers="2", metrics_port=str(metrics_port)) as server:
        for _ in range(20):  # spread over both workers by the kernel
            assert httpx.get(f"{server.base_url}/health").status_code == 200
        assert httpx.get(f"{server.base_url}/metrics").status_code == 404
        response = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
    assert response.status_code == 200
    scraped = samples(response.text)
    # The readiness poll of the start-up adds its own /health requests before these 20.
    assert requests_of(scraped, "GET", "/health", "200") >= 20
