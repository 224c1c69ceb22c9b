"""A setting, command or endpoint that is not documented does not exist: the README names each.

The README's example todo is what the server answers today.
"""

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from support import PROJECT_ROOT, cli_commands
from todo_api.app import create_app
from todo_api.config import ENV_PREFIX, Settings

README = (PROJECT_ROOT / "README.md").read_text()
# "A todo, as `POST /todos` with `{request}` returns it:" and then the answer in a json block.
EXAMPLE_TODO = re.compile(
    r"A todo, as `POST /todos` with\s+`(\{.*?\})` returns it:\s+```json\n(.*?)```", re.S
)


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme_table(name: str) -> None:
    assert f"| `{ENV_PREFIX}{name.upper()}` |" in README


def test_every_command_is_in_the_readme() -> None:
    for command in cli_commands():
        assert f"`todo-api {command}" in README, command


def test_every_endpoint_is_in_the_readme() -> None:
    for path, operations in create_app(Settings()).openapi()["paths"].items():
        readme_path = path.replace("{todo_id}", "{id}").replace("{list_id}", "{id}")
        for method in operations:
            assert f"{method.upper()} {readme_path}" in README, f"{method.upper()} {path}"


def test_the_readme_example_todo_is_what_the_server_answers(client: TestClient) -> None:
    match = EXAMPLE_TODO.search(README)
    assert match is not None, "the README's example todo is missing"
    request, example = json.loads(match[1]), json.loads(match[2])
    response = client.post("/todos", json=request, headers={"host": "localhost:8000"})
    assert response.status_code == 201
    answer: dict[str, Any] = response.json()
    for server_time in ("created_at", "updated_at"):  # when it ran, not what it looks like
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", example.pop(server_time))
        answer.pop(server_time)
    assert answer == example


def test_every_module_is_on_the_architecture_map() -> None:
    """lint-imports makes each module take a layer; this keeps docs/architecture.md in step."""
    architecture = (PROJECT_ROOT / "docs" / "architecture.md").read_text()
    package = PROJECT_ROOT / "src" / "todo_api"
    names = {path.stem for path in package.glob("*.py") if path.stem != "__init__"}
    names |= {path.name for path in package.iterdir() if (path / "__init__.py").exists()}
    for name in sorted(names):
        assert f"`{name}" in architecture, name
