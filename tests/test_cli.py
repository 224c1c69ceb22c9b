"""The `todo-api` command and the tutorial entry point.

What is about the process (serving, signals, several workers, `python app.py`) runs a real one,
marked slow; arguments, messages and exit statuses are checked by calling the command's `main`.
"""

import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Protocol

import httpx2 as httpx
import pytest

from support import (
    PROJECT_ROOT,
    CommandResult,
    cli_commands,
    free_port,
    register_account,
    run_in_process,
    running_server,
    todo_api_command,
    todo_api_server,
)
from todo_api import __version__
from todo_api.migrate import head_revision

COMMANDS = [
    "serve",
    "migrate",
    "healthcheck",
    "export",
    "import",
    "copy-data",
    "backup",
    "restore",
    "user",
    "token",
]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        todo_api_command(*args),
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


class Command(Protocol):
    def __call__(self, *args: str, env: dict[str, str] | None = None) -> CommandResult: ...


@pytest.fixture
def todo_api(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Command:
    """`todo-api` called in this process (support.run_in_process)."""
    return partial(run_in_process, capsys, monkeypatch)


def test_version(todo_api: Command) -> None:
    result = todo_api("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"todo-api {__version__}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(todo_api: Command, command: str) -> None:
    result = todo_api(command, "--help")
    assert result.returncode == 0
    assert f"todo-api {command}" in result.stdout


def test_parser_knows_exactly_the_documented_commands() -> None:
    assert cli_commands() == sorted(COMMANDS)


def test_invalid_configuration_exits_2_with_a_message(todo_api: Command) -> None:
    result = todo_api("migrate", env={"TODO_PORT": "not-a-port"})
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr
    assert "port" in result.stderr


def test_migrate_creates_the_database(todo_api: Command, tmp_path: Path) -> None:
    database = tmp_path / "nested" / "todo.db"
    result = todo_api("migrate", env={"TODO_DATABASE_URL": f"sqlite:///{database}"})
    assert result.returncode == 0, result.stderr
    assert f"revision {head_revision()}" in result.stdout
    assert database.exists()
    assert todo_api("migrate", env={"TODO_DATABASE_URL": f"sqlite:///{database}"}).returncode == 0


def test_healthcheck_fails_when_nothing_listens(todo_api: Command) -> None:
    result = todo_api("healthcheck", env={"TODO_PORT": str(free_port())})
    assert result.returncode == 1
    assert "unhealthy" in result.stderr


@pytest.mark.slow
def test_serve_answers_and_healthcheck_passes(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "TODO_PORT": str(port),
        "TODO_DATABASE_URL": f"sqlite:///{tmp_path / 'todo.db'}",
        "TODO_LOG_FORMAT": "json",
    }
    with running_server(todo_api_command("serve"), env, port) as server:
        with httpx.Client(base_url=server.base_url) as client:
            account = register_account(client, "ada")  # TODO_AUTH=required, the default
            created = client.post(
                "/todos", json={"title": "from a real server"}, headers=account.headers
            )
        assert created.status_code == 201
        assert run("healthcheck", env=env).returncode == 0
        assert httpx.get(f"{server.base_url}/ready").json() == {"status": "ready"}
        assert server.stop() == 0
        output = server.output()
    lines = [json.loads(line) for line in output.splitlines()]
    access = [line for line in lines if line["logger"] == "todo_api.access"]
    [post] = [line for line in access if line["method"] == "POST" and line["route"] == "/todos"]
    assert post["status"] == 201
    assert post["request_id"] and post["duration_ms"] >= 0
    assert account.token not in output
    assert account.password not in output


@pytest.mark.slow
def test_python_dash_m_serve_with_several_workers(tmp_path: Path) -> None:
    with todo_api_server(tmp_path, workers="2") as server:
        url = f"{server.base_url}/todos"
        ids = {httpx.post(url, json={"title": f"t{n}"}).json()["id"] for n in range(20)}
        assert len(ids) == 20
        assert server.stop() == 0


@pytest.mark.slow
def test_tutorial_path_python_app_py(tmp_path: Path) -> None:
    """`python app.py` from a checkout serves on 0.0.0.0:$TODO_PORT without installing."""
    port = free_port()
    env = {"TODO_PORT": str(port), "TODO_DATABASE_URL": f"sqlite:///{tmp_path / 'todo.db'}"}
    command = [sys.executable, str(PROJECT_ROOT / "app.py")]
    with running_server(command, env, port, cwd=tmp_path) as server:
        assert httpx.get(f"{server.base_url}/").json()["name"] == "todo-api"
        with httpx.Client(base_url=server.base_url) as client:
            account = register_account(client, "ada")
            assert client.post("/todos", json={"title": "x"}).status_code == 401
            created = client.post("/todos", json={"title": "x"}, headers=account.headers)
            assert created.status_code == 201
        assert f"http://0.0.0.0:{port}" in server.output()


@pytest.mark.slow  # a real process: should `serve` not fail, it would serve, not return
@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_unwritable_database_directory_is_a_clear_error(tmp_path: Path, command: str) -> None:
    if os.getuid() == 0:
        blocked = tmp_path / "file-not-dir"  # root may write anywhere; a file blocks mkdir
        blocked.write_text("")
        database_url = f"sqlite:///{blocked / 'sub' / 'todo.db'}"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        database_url = f"sqlite:///{locked / 'todo.db'}"
    result = run(command, env={"TODO_DATABASE_URL": database_url, "TODO_PORT": str(free_port())})
    assert result.returncode == 1
    assert "todo-api: " in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("trusted", "scheme"), [("", "http"), ("127.0.0.1", "https")])
def test_forwarded_proto_is_honoured_only_from_trusted_proxies(
    tmp_path: Path, trusted: str, scheme: str
) -> None:
    with todo_api_server(
        tmp_path, forwarded_allow_ips=trusted, allowed_hosts="todo.example"
    ) as server:
        response = httpx.post(
            f"{server.base_url}/todos",
            json={"title": "behind a proxy"},
            headers={"X-Forwarded-Proto": "https", "Host": "todo.example"},
        )
        assert response.headers["location"].startswith(f"{scheme}://todo.example/todos/")


@pytest.mark.slow
def test_serving_beyond_loopback_warns_and_answers_any_host(tmp_path: Path) -> None:
    """The tutorial's `docker run -p 8000:8000` binds 0.0.0.0 and needs no setting to work."""
    with todo_api_server(tmp_path, host="0.0.0.0", log_format="json") as server:
        answer = httpx.get(f"{server.base_url}/todos", headers={"Host": "192.0.2.7:8000"})
        assert answer.status_code == 200
        assert server.stop() == 0
        lines = [json.loads(line) for line in server.output().splitlines()]
    [warning] = [line for line in lines if line["level"] == "warning"]
    assert "TODO_ALLOWED_HOSTS" in warning["message"] and "0.0.0.0" in warning["message"]


@pytest.mark.slow
def test_serving_on_loopback_refuses_other_hosts_without_a_warning(tmp_path: Path) -> None:
    # Accounts required (as by default): TODO_AUTH=disabled would warn, about itself.
    with todo_api_server(tmp_path, log_format="json", auth="required") as server:
        refused = httpx.get(f"{server.base_url}/todos", headers={"Host": "rebound.example"})
        assert refused.status_code == 400
        assert server.stop() == 0
        lines = [json.loads(line) for line in server.output().splitlines()]
    assert [line for line in lines if line["level"] == "warning"] == []
