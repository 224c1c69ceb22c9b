"""Fixtures: every test gets its own SQLite file and a fresh app.

Migrating a database takes ~0.2 s and copying one ~1 ms, so the migrations run once a session
into a template that each test copies. Tests of the migrations themselves use
`empty_database_url` and migrate for real.
"""

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contract import ContractClient
from support import API_BASE_URL, migrated_copy, skip_reported_at_test
from todo_api.app import create_app
from todo_api.config import Settings
from todo_api.db import create_engine
from todo_api.migrate import upgrade_to_head


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database migrated to head once a session; copy it with `support.migrated_copy`."""
    path = tmp_path_factory.mktemp("template") / "todo.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()  # the last connection to close moves the WAL into the file
    return path


@pytest.fixture
def empty_database_url(tmp_path: Path) -> str:
    """A database file that does not exist yet (for tests of the migrations themselves)."""
    return f"sqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture
def database_url(tmp_path: Path, migrated_template: Path) -> str:
    """This test's own database, `tmp_path / "todo.db"`, already at the newest migration."""
    return migrated_copy(migrated_template, tmp_path / "todo.db")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, debug_routes=True)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A client of a started app (lifespan run: migrations applied). Every response it gets must
    match the OpenAPI document (tests/contract.py)."""
    with ContractClient(
        create_app(settings), raise_server_exceptions=False, base_url=API_BASE_URL
    ) as test_client:
        yield test_client


@pytest.fixture
def other_client(tmp_path: Path, migrated_template: Path) -> Iterator[TestClient]:
    """A second, empty instance (to import into, say); held to the document like `client`."""
    database_url = migrated_copy(migrated_template, tmp_path / "other.db")
    with ContractClient(
        create_app(Settings(database_url=database_url)), base_url=API_BASE_URL
    ) as test_client:
        yield test_client


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    skip_reported_at_test(item, report)
    return report


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the server runs on asyncio (uvloop); no need to test trio
