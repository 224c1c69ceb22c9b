"""`todo-api serve` freezes what start-up built (docs/performance.md); other apps do not."""

import gc

from fastapi.testclient import TestClient
from uvicorn.importer import import_from_string

from support import API_BASE_URL
from todo_api.app import create_app, create_served_app
from todo_api.cli import SERVED_APP_FACTORY
from todo_api.config import Settings


def test_a_served_app_freezes_its_startup_objects_until_shutdown(settings: Settings) -> None:
    assert gc.get_freeze_count() == 0
    with TestClient(create_served_app(settings), base_url=API_BASE_URL) as client:
        assert gc.get_freeze_count() > 0
        assert client.get("/health").status_code == 200
    assert gc.get_freeze_count() == 0  # nothing kept past the app


def test_an_app_that_is_not_served_leaves_the_collector_alone(settings: Settings) -> None:
    with TestClient(create_app(settings), base_url=API_BASE_URL) as client:
        assert gc.get_freeze_count() == 0
        assert client.get("/health").status_code == 200


def test_each_worker_of_serve_builds_the_served_app() -> None:
    """With several workers, uvicorn calls this factory in each worker process."""
    assert import_from_string(SERVED_APP_FACTORY) is create_served_app
