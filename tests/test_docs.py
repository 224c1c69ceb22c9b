"""A setting, command or endpoint that is not documented does not exist: the README names each."""

import pytest

from support import PROJECT_ROOT
from todo_api.app import create_app
from todo_api.cli import build_parser
from todo_api.config import ENV_PREFIX, Settings

README = (PROJECT_ROOT / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme_table(name: str) -> None:
    assert f"| `{ENV_PREFIX}{name.upper()}` |" in README


def test_every_command_is_in_the_readme() -> None:
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for command in commands:
        assert f"`todo-api {command}" in README, command


def test_every_endpoint_is_in_the_readme() -> None:
    for path, operations in create_app(Settings()).openapi()["paths"].items():
        readme_path = path.replace("{todo_id}", "{id}").replace("{list_id}", "{id}")
        for method in operations:
            assert f"{method.upper()} {readme_path}" in README, f"{method.upper()} {path}"
