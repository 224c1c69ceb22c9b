"""Fixtures: every test gets its own SQLite file and a fresh app."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from todo_api.app import create_app
from todo_api.config import Settings


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'todo.db'}"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, debug_routes=True)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A client of a started app (lifespan run: migrations applied)."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def other_client(tmp_path: Path) -> Iterator[TestClient]:
    """A second, empty instance (to import into, say)."""
    database_url = f"sqlite:///{tmp_path / 'other.db'}"
    with TestClient(create_app(Settings(database_url=database_url))) as test_client:
        yield test_client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the server runs on asyncio (uvloop); no need to test trio
