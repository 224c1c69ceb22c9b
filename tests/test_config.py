"""Settings come from TODO_* variables or TODO_*_FILE files, and bad values are refused clearly."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from todo_api.config import Settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.database_url == "sqlite:///./data/todo.db"
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.auth == "required"
    assert settings.graceful_timeout < 10  # below Docker's stop timeout


def test_environment_variables_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TODO_PORT", "9000")
    monkeypatch.setenv("TODO_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("TODO_LOG_FORMAT", "json")
    monkeypatch.setenv("TODO_ACCESS_LOG", "false")
    settings = Settings()
    assert settings.port == 9000
    assert settings.log_level == "debug"
    assert settings.log_format == "json"
    assert settings.access_log is False


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("https://a.example, https://b.example", ["https://a.example", "https://b.example"]),
        ("*", ["*"]),
        ("", []),
    ],
)
def test_cors_origins_are_comma_separated(
    monkeypatch: pytest.MonkeyPatch, value: str, origins: list[str]
) -> None:
    monkeypatch.setenv("TODO_CORS_ORIGINS", value)
    assert Settings().cors_origins == origins


def test_any_setting_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "database_url"
    secret.write_text("sqlite:////var/lib/todo/secret.db\n")
    monkeypatch.setenv("TODO_DATABASE_URL_FILE", str(secret))
    assert Settings().database_url == "sqlite:////var/lib/todo/secret.db"


def test_value_and_file_together_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "port"
    secret.write_text("9000")
    monkeypatch.setenv("TODO_PORT_FILE", str(secret))
    monkeypatch.setenv("TODO_PORT", "9001")
    with pytest.raises(ValueError, match="either TODO_PORT or TODO_PORT_FILE"):
        Settings()


def test_unreadable_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TODO_PORT_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="TODO_PORT_FILE: cannot read"):
        Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TODO_PORT", "eighty"),
        ("TODO_PORT", "70000"),
        ("TODO_WORKERS", "0"),
        ("TODO_LOG_FORMAT", "xml"),
        ("TODO_LOG_LEVEL", "loud"),
        ("TODO_AUTH", "sometimes"),
        ("TODO_REGISTRATION", "invite"),
        ("TODO_MAX_BODY_BYTES", "0"),
        ("TODO_DATABASE_URL", "mysql://db/todo"),
    ],
)
def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as error:
        Settings()
    assert name.removeprefix("TODO_").lower() in str(error.value)


@pytest.mark.parametrize(
    ("environment", "names"),
    [
        ({}, {"localhost", "127.0.0.1", "[::1]"}),
        ({"TODO_HOST": "::1"}, {"localhost", "127.0.0.1", "[::1]"}),
        ({"TODO_HOST": "localhost"}, {"localhost", "127.0.0.1", "[::1]"}),
        ({"TODO_HOST": "0.0.0.0"}, None),
        ({"TODO_HOST": "todo.internal"}, None),
        ({"TODO_ALLOWED_HOSTS": "Todo.Example, api.example"}, {"todo.example", "api.example"}),
        ({"TODO_HOST": "0.0.0.0", "TODO_ALLOWED_HOSTS": "todo.example"}, {"todo.example"}),
        ({"TODO_ALLOWED_HOSTS": "*"}, None),
    ],
)
def test_allowed_host_names(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], names: set[str] | None
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert Settings().allowed_host_names() == (None if names is None else frozenset(names))


def test_public_url_must_be_absolute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TODO_PUBLIC_URL", "todo.example/api")
    with pytest.raises(ValidationError, match="absolute"):
        Settings()
    monkeypatch.setenv("TODO_PUBLIC_URL", "https://todo.example/api/")
    assert Settings().public_url == "https://todo.example/api"


def test_a_default_token_lifetime_past_the_maximum_stops_the_start() -> None:
    """Else POST /tokens would issue, by default, tokens longer than any may ask for."""
    with pytest.raises(ValidationError, match="TODO_TOKEN_DEFAULT_DAYS"):
        Settings(token_default_days=400, token_max_days=365)
    assert Settings(token_default_days=30, token_max_days=30).token_default_days == 30
