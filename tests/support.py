"""Helpers shared by tests: strict-mode skips and running the real server as a subprocess."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx2 as httpx
import pytest

from todo_api.cli import build_parser, main

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_SECONDS = 60.0  # a deadline, not a wait: a loaded CI machine can take 20 s+
# TestClient's own "testserver" is no loopback name: a server bound to 127.0.0.1 refuses it.
API_BASE_URL = "http://localhost"


def strict_mode() -> bool:
    """`.ci/run` sets TODO_TEST_STRICT=1: a test that lacks a part must fail, not skip."""
    return os.environ.get("TODO_TEST_STRICT") == "1"


def missing_part(reason: str) -> NoReturn:
    """Skip with `reason` on a bare laptop; fail in strict mode (see `skip_reported_at_test`)."""
    if strict_mode():
        pytest.fail(f"strict mode: {reason}")
    pytest.skip(reason)


def skip_reported_at_test(item: pytest.Item, report: pytest.TestReport) -> None:
    """Report a skip raised outside the test's file (this module's `missing_part`, a fixture)
    at the test, naming it: pytest reports a skip at the line that raised it, so every test
    that lacked Docker would be summed up as one line of support.py. (conftest's hook)"""
    if not (report.skipped and isinstance(report.longrepr, tuple)):
        return
    raised_in, _line, reason = report.longrepr
    if Path(raised_in).resolve() == item.path.resolve():
        return  # a skip marker, or a skip in the test's own file: that line says it all
    _relative_path, line, _name = item.location
    report.longrepr = (str(item.path), (line or 0) + 1, f"{reason} ({item.name})")


def migrated_copy(template: Path, destination: Path) -> str:
    """Copy the migrated `template` database (conftest's `migrated_template`) to `destination`
    and return its URL: a test's own database at head for ~1 ms instead of ~0.2 s of migrating."""
    if template.with_name(f"{template.name}-wal").exists():
        raise AssertionError(f"{template} has a WAL file: a plain copy would miss its pages")
    shutil.copyfile(template, destination)
    return f"sqlite:///{destination}"


def cli_commands() -> list[str]:
    """The subcommands the `todo-api` parser knows, sorted."""
    subparsers = build_parser()._subparsers
    assert subparsers is not None
    choices = subparsers._group_actions[0].choices
    assert choices is not None
    return sorted(choices)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# The output of every server process the session started, for conftest's search for secrets.
SERVER_LOGS: list[str] = []


@dataclass
class ServerProcess:
    """A server started by a test; its output goes to a file so a full pipe never stalls it."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM, wait (kill after `timeout`), return the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def wait_until_healthy(server: ServerProcess) -> None:
    """Poll /health until it answers, the process dies, or the deadline passes."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(
                f"server exited with {server.process.returncode}:\n{server.output()}"
            )
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.base_url}/health", timeout=1).status_code == 200:
                return
        time.sleep(0.05)  # polling interval, not synchronisation: the loop checks the condition
    raise AssertionError(f"{server.base_url} not healthy in {STARTUP_TIMEOUT_SECONDS}s")


POLL_SECONDS = 0.05  # a polling interval while a condition is awaited, never a wait of its own


def poll_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """The first truthy value of `condition()`; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"not within {timeout:.0f} s: {what}")
        time.sleep(POLL_SECONDS)


@contextlib.contextmanager
def running_server(
    command: list[str],
    env: Mapping[str, str],
    port: int,
    cwd: Path = PROJECT_ROOT,
    preexec_fn: Callable[[], object] | None = None,
) -> Iterator[ServerProcess]:
    """Start `command` (a server on `port`), wait for health, yield it, stop it.
    `preexec_fn` runs in the child before the command (to lower a resource limit, say)."""
    with running_servers(command, [(env, port)], cwd, preexec_fn) as [server]:
        yield server


@contextlib.contextmanager
def running_servers(
    command: list[str],
    envs_and_ports: list[tuple[Mapping[str, str], int]],
    cwd: Path = PROJECT_ROOT,
    preexec_fn: Callable[[], object] | None = None,
) -> Iterator[list[ServerProcess]]:
    """Start one `command` per (env, port) all at once, then wait until every one is healthy;
    yield them, stop them."""
    with tempfile.TemporaryDirectory() as folder:
        servers: list[ServerProcess] = []
        try:
            for number, (env, port) in enumerate(envs_and_ports):
                log_path = Path(folder) / f"server-{number}.log"
                with log_path.open("wb") as log:
                    process = subprocess.Popen(
                        command,
                        cwd=cwd,
                        env={**os.environ, **env},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        preexec_fn=preexec_fn,
                    )
                servers.append(ServerProcess(process, f"http://127.0.0.1:{port}", log_path))
            for server in servers:
                wait_until_healthy(server)
            yield servers
        finally:
            for server in servers:
                server.stop()
                SERVER_LOGS.append(server.output())


@dataclass
class CommandResult:
    """What a `todo-api` run printed and returned."""

    returncode: int
    stdout: str
    stderr: str


def run_in_process(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    env: Mapping[str, str] | None = None,
) -> CommandResult:
    """`todo-api ARGS` by calling the command's `main` here, with `env` set for the call.

    The same code as the installed command, without the ~0.5-1 s a new interpreter spends
    importing it; the tests that are about the process itself (serving, pipes) start one.
    """
    with monkeypatch.context() as scoped:
        for name, value in (env or {}).items():
            scoped.setenv(name, value)
        capsys.readouterr()  # drop what the test printed before
        try:
            returncode = main(list(args))
        except SystemExit as exit_:  # argparse's --help, --version and usage errors
            code = exit_.code
            returncode = code if isinstance(code, int) else (0 if code is None else 1)
        stdout, stderr = capsys.readouterr()
    return CommandResult(returncode, stdout, stderr)


def todo_api_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "todo_api", *args]


def todo_api_server(
    database_dir: Path, preexec_fn: Callable[[], object] | None = None, **settings: str
) -> AbstractContextManager[ServerProcess]:
    """`todo-api serve` on a free port, its SQLite file in `database_dir`; `settings` are more
    TODO_* variables by their lower-case names (`workers="2"` sets TODO_WORKERS)."""
    port = free_port()
    env = {
        "TODO_PORT": str(port),
        "TODO_DATABASE_URL": f"sqlite:///{database_dir / 'todo.db'}",
        # A fresh database has no account: these tests are about processes, not credentials
        # (test_accounts.py runs one with auth="required").
        "TODO_AUTH": "disabled",
        "TODO_RATE_LIMIT": "off",
        **{f"TODO_{name.upper()}": value for name, value in settings.items()},
    }
    return running_server(todo_api_command("serve"), env, port, preexec_fn=preexec_fn)


def todo_api_replicas(
    database_url: str, count: int, **settings: str
) -> AbstractContextManager[list[ServerProcess]]:
    """`count` `todo-api serve` processes on one (server) database, each on a free port, started
    at once; `settings` are more TODO_* variables as for `todo_api_server` (a PostgreSQL
    database needs `secret_key`, the same for all)."""
    envs_and_ports: list[tuple[Mapping[str, str], int]] = []
    for _ in range(count):
        port = free_port()
        env = {
            "TODO_PORT": str(port),
            "TODO_DATABASE_URL": database_url,
            "TODO_RATE_LIMIT": "off",
            **{f"TODO_{name.upper()}": value for name, value in settings.items()},
        }
        envs_and_ports.append((env, port))
    return running_servers(todo_api_command("serve"), envs_and_ports)


def post_created(client: Any, path: str, **body: Any) -> dict[str, Any]:
    """POST `body` as JSON and return what was created (failing unless the answer is 201)."""
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@dataclass(frozen=True)
class Account:
    """A registered user and a bearer token of theirs, ready to send."""

    username: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


ACCOUNT_PASSWORD = "a long enough passphrase"
# The migrated template (conftest) holds one account, the adopted local user (id 1, as the
# CLI's export and import use), with this token: every copy of it can be called at once.
TEMPLATE_USERNAME = "tester"
TEMPLATE_TOKEN = "todo_" + "T" * 43
TEMPLATE_AUTH = {"Authorization": f"Bearer {TEMPLATE_TOKEN}"}


def add_template_account(database_url: str) -> None:
    """Adopt the local user as TEMPLATE_USERNAME and give it TEMPLATE_TOKEN (for conftest)."""
    import datetime as dt

    from todo_api import credentials, passwords
    from todo_api.db import create_engine
    from todo_api.domain.accounts import ALL_SCOPES
    from todo_api.repository import api_tokens, users

    engine = create_engine(database_url)
    now = dt.datetime.now(dt.UTC)
    try:
        with engine.begin() as connection:
            user = users.adopt_local_user(
                connection, TEMPLATE_USERNAME, passwords.hash_password(ACCOUNT_PASSWORD)
            )
            api_tokens.create_token(
                connection,
                user.id,
                token_hash=credentials.secret_hash(TEMPLATE_TOKEN),
                prefix=TEMPLATE_TOKEN[: credentials.DISPLAY_PREFIX_LENGTH],
                name="tests",
                scopes=ALL_SCOPES,
                now=now,
                expires_at=now + dt.timedelta(days=1),
            )
    finally:
        engine.dispose()


def register_account(
    client: Any, username: str, password: str = ACCOUNT_PASSWORD, scopes: Any = None
) -> Account:
    """POST /users then POST /tokens: a real account, as a client would make one."""
    created = client.post("/users", json={"username": username, "password": password})
    assert created.status_code == 201, created.text
    request: dict[str, Any] = {"username": username, "password": password}
    if scopes is not None:
        request["scopes"] = scopes
    issued = client.post("/tokens", json=request)
    assert issued.status_code == 201, issued.text
    account = Account(username, password, issued.json()["token"])
    remember_secrets(account.password, account.token)
    return account


# Every password and token the suite uses: conftest's session check searches each database file
# and every log line for them at the end.
_USED_SECRETS: set[str] = set()


def remember_secrets(*secrets: str) -> None:
    _USED_SECRETS.update(secrets)


def used_secrets() -> frozenset[str]:
    return frozenset(_USED_SECRETS | {ACCOUNT_PASSWORD, TEMPLATE_TOKEN})
