"""Fixtures: every test gets its own database and a fresh app, on SQLite and on PostgreSQL.

A test that uses a database runs twice, `[sqlite]` and `[postgresql]` (marker `postgres`), unless
its module is marked `sqlite_only` (tests of SQLite's own machinery: the writer thread, WAL, file
faults). PostgreSQL is the machine's, at 127.0.0.1:5432 (tests/postgres_support.py); without it
those tests skip, or fail in strict mode.

Migrating a database takes ~0.2 s and copying one ~1 ms (SQLite) or ~50 ms (PostgreSQL), so the
migrations run once a session into a template that each test copies. The template holds one
account and its token (support.TEMPLATE_AUTH), which `client` sends: the suite runs
authenticated, as deployed. Tests of the migrations themselves use `empty_database_url` and
migrate for real.
"""

import logging
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contract import ContractClient
from postgres_support import POSTGRES_SECRET_KEY, PostgresDatabases
from support import (
    API_BASE_URL,
    SERVER_LOGS,
    TEMPLATE_AUTH,
    add_template_account,
    migrated_copy,
    missing_part,
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


SQLITE = "sqlite"
POSTGRESQL = "postgresql"
DATABASE_KINDS = [SQLITE, pytest.param(POSTGRESQL, marks=pytest.mark.postgres)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses a database runs on both, unless its module is `sqlite_only`."""
    if "database_kind" in metafunc.fixturenames:
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("database_kind", [SQLITE] if only_sqlite else DATABASE_KINDS)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    """The run's databases on the machine's PostgreSQL; all dropped when the run ends."""
    databases = PostgresDatabases()
    try:
        databases.check_reachable()
    except Exception as error:
        databases.close()
        missing_part(f"PostgreSQL is not reachable ({type(error).__name__}: {error})")
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture
def new_database(
    database_kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str, bool], str]]:
    """`new_database(name, migrated)`: the URL of another database of this test, of its kind."""
    made: list[tuple[str, bool]] = []

    def make(name: str, migrated: bool) -> str:
        if database_kind == SQLITE:
            if not migrated:
                return f"sqlite:///{tmp_path / name}"
            template: Path = request.getfixturevalue("migrated_template")
            return migrated_copy(template, tmp_path / name)
        postgres: PostgresDatabases = request.getfixturevalue("postgres")
        # A server database keeps no key file: every app of the test signs with this one.
        request.getfixturevalue("monkeypatch").setenv("TODO_SECRET_KEY", POSTGRES_SECRET_KEY)
        url = postgres.create(migrated=migrated)
        made.append((url, migrated))
        return url

    yield make
    if made:
        postgres_databases: PostgresDatabases = request.getfixturevalue("postgres")
        for url, migrated in made:
            postgres_databases.release(url, migrated=migrated)


@pytest.fixture
def empty_database_url(new_database: Callable[[str, bool], str]) -> str:
    """A database with no tables yet (for tests of the migrations themselves); on SQLite a file
    that does not exist yet."""
    return new_database("empty.db", False)


@pytest.fixture
def database_url(new_database: Callable[[str, bool], str]) -> str:
    """This test's own database, at the newest migration (SQLite: `tmp_path / "todo.db"`)."""
    return new_database("todo.db", True)


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
def other_client(new_database: Callable[[str, bool], str]) -> Iterator[TestClient]:
    """A second, empty instance (to import into, say); held to the document like `client`."""
    database_url = new_database("other.db", True)
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
