"""Signed cursors and the key that signs them: generated once beside the database, shared by
restarts, refused when weak; a cursor edited, or signed with another key, is a 422."""

import base64
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from support import API_BASE_URL, TEMPLATE_AUTH, run_in_process
from todo_api.app import create_app
from todo_api.config import Settings
from todo_api.secret_key import KEY_FILE_NAME

STRONG_KEY = "k3Y-for-tests-only-9fQ2xLm7Rt4vWz8bN1cD6"


def _second_page_cursor(client: TestClient) -> str:
    for title in ("one", "two"):
        assert client.post("/todos", json={"title": title}).status_code == 201
    page = client.get("/todos?limit=1")
    [cursor] = parse_qs(urlsplit(page.links["next"]["url"]).query)["cursor"]
    return cursor


def _client(database_url: str, **settings: str) -> TestClient:
    app = create_app(Settings(database_url=database_url, **settings))  # type: ignore[arg-type]
    return TestClient(app, base_url=API_BASE_URL, headers=TEMPLATE_AUTH)


@pytest.mark.sqlite_only  # a key file beside the database file
def test_a_generated_key_is_kept_beside_the_database(database_url: str, tmp_path: Path) -> None:
    with _client(database_url) as first:
        cursor = _second_page_cursor(first)
    key_file = tmp_path / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_bytes()) >= 32
    with _client(database_url) as restarted:  # the same key: the cursor still works
        assert restarted.get(f"/todos?limit=1&cursor={cursor}").status_code == 200


def test_a_cursor_signed_with_another_key_is_refused(database_url: str) -> None:
    with _client(database_url, secret_key=STRONG_KEY) as first:
        cursor = _second_page_cursor(first)
        assert first.get(f"/todos?limit=1&cursor={cursor}").status_code == 200
    with _client(database_url, secret_key=STRONG_KEY[::-1]) as other:
        response = other.get(f"/todos?limit=1&cursor={cursor}")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]


def test_an_edited_cursor_is_refused(client: TestClient) -> None:
    cursor = _second_page_cursor(client)
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[3] ^= 1  # one bit of the payload; the signature stays as it was
    edited = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    response = client.get(f"/todos?limit=1&cursor={edited}")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]


@pytest.mark.parametrize(
    "key",
    [
        "too-short-2x9",
        "changeme-changeme-changeme-changeme-1234",
        "a" * 64,
        "my-secret-key-for-production-use-0123456789",
    ],
)
def test_weak_keys_stop_the_start(key: str) -> None:
    with pytest.raises(ValidationError, match="secret_key"):
        Settings(secret_key=key)


def test_the_key_can_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(STRONG_KEY + "\n")
    monkeypatch.setenv("TODO_SECRET_KEY_FILE", str(key_file))
    settings = Settings()
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == STRONG_KEY


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TODO_SECRET_KEY", "short-but-secret"),
        ("TODO_SECRET_KEY", "changeme-but-also-a-real-secret-0123456789"),
        ("TODO_SECRET_KEY_FILE", "short-from-a-file"),
        # A scheme not supported (PostgreSQL is: test_postgres.py checks its refusal hides the
        # password too); short: pydantic would print it whole.
        ("TODO_DATABASE_URL", "mysql://todo:Pw9x@db/todo"),
    ],
)
def test_a_refused_secret_is_never_printed(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    variable: str,
    value: str,
) -> None:
    """The start-up error names the setting and what is wrong, never the value (pydantic's
    `input_value=…` would print it, to a log that many people read)."""
    if variable.endswith("_FILE"):
        secret_file = tmp_path / "secret"
        secret_file.write_text(value)
        env = {variable: str(secret_file)}
    else:
        env = {variable: value}
    result = run_in_process(capsys, monkeypatch, "migrate", env=env)
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr
    setting = variable.removeprefix("TODO_").removesuffix("_FILE").lower()
    assert setting in result.stderr
    assert value not in result.stderr + result.stdout
    assert "Pw9x" not in result.stderr
