"""Fixtures: every test gets its own SQLite file and a fresh app.

Migrating a database takes ~0.2 s and copying one ~1 ms, so the migrations run once a session
into a template that each test copies. The template holds one account and its token
(support.TEMPLATE_AUTH), which `client` sends: the suite runs authenticated, as deployed.
Tests of the migrations themselves use `empty_database_url` and migrate for real.
"""

import logging
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contract import ContractClient
from support import (
    API_BASE_URL,
    SERVER_LOGS,
    TEMPLATE_AUTH,
    add_template_account,
    migrated_copy,
    skip_reported_at_test,
    used_secrets,
)
from todo_api.app import create_app
from todo_api.config import Settings
from todo_api.db import create_engine
from todo_api.migrate import upgrade_to_head


class _LogLines(logging.Handler):
    """Every log record of the session, as text with its extra fields."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.__dict__}")


@pytest.fixture(scope="session", autouse=True)
def no_secret_is_stored_or_logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session: no password or token the suite used appears in plaintext in
    any database file it made, in any log line of this process, or in the output of any server
    process it started (the issue's "secrets at rest" check)."""
    handler = _LogLines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield
    root.removeHandler(handler)
    root.setLevel(level)
    secrets = used_secrets()
    leaks = [
        f"{path.name}: {secret[:8]}…"
        for path in tmp_path_factory.getbasetemp().rglob("*.db*")
        if path.is_file()
        for secret in secrets
        if secret.encode() in path.read_bytes()
    ]
    leaks += [
        f"log: {secret[:8]}…" for line in handler.lines for secret in secrets if secret in line
    ]
    leaks += [
        f"server log: {secret[:8]}…" for log in SERVER_LOGS for secret in secrets if secret in log
    ]
    assert not leaks, f"secrets in plaintext: {sorted(set(leaks))}"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database migrated to head once a session; copy it with `support.migrated_copy`."""
    path = tmp_path_factory.mktemp("template") / "todo.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()  # the last connection to close moves the WAL into the file
    add_template_account(f"sqlite:///{path}")
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
    # Rate limits off: tests send hundreds of requests a second as one user, and compare
    # answers header for header; tests/test_rate_limit.py is about the limits.
    return Settings(database_url=database_url, debug_routes=True, rate_limit="off")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A client of a started app (lifespan run: migrations applied), sending the template
    account's token (TODO_AUTH=required, the default). Every response it gets must match the
    OpenAPI document (tests/contract.py)."""
    app = create_app(settings)
    with ContractClient(
        app, raise_server_exceptions=False, base_url=API_BASE_URL, headers=TEMPLATE_AUTH
    ) as test_client:
        yield test_client


@pytest.fixture
def other_client(tmp_path: Path, migrated_template: Path) -> Iterator[TestClient]:
    """A second, empty instance (to import into, say); held to the document like `client`."""
    database_url = migrated_copy(migrated_template, tmp_path / "other.db")
    app = create_app(Settings(database_url=database_url))
    with ContractClient(app, base_url=API_BASE_URL, headers=TEMPLATE_AUTH) as test_client:
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
