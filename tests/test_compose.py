"""compose.yaml as Compose reads it (`docker compose config`): the SQLite app by default, the app
on PostgreSQL with `--profile postgres`. Needs the compose CLI only, no engine; the image is run
by test_container.py (against the machine's PostgreSQL too: CI cannot pull postgres's image)."""

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support import PROJECT_ROOT, missing_part

POSTGRES_SERVICES = {"postgres", "migrate", "api-postgres"}


def compose_config(*profiles: str) -> dict[str, Any]:
    docker = shutil.which("docker")
    if (
        docker is None
        or subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False
        ).returncode
    ):
        missing_part("docker compose v2 not installed; run scripts/install-docker")
    assert docker is not None
    arguments = [argument for profile in profiles for argument in ("--profile", profile)]
    result = subprocess.run(
        [docker, "compose", *arguments, "config", "--format", "json"],
        cwd=PROJECT_ROOT,
        env={name: value for name, value in os.environ.items() if not name.startswith("TODO_")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def test_without_a_profile_compose_runs_the_sqlite_app_alone() -> None:
    assert set(compose_config()["services"]) == {"api"}


@pytest.fixture(scope="module")
def postgres_profile() -> dict[str, Any]:
    return compose_config("postgres")


def test_the_postgres_profile_adds_the_server_a_migration_and_the_app(
    postgres_profile: dict[str, Any],
) -> None:
    assert set(postgres_profile["services"]) == {"api"} | POSTGRES_SERVICES


def test_the_database_server_is_the_official_image_on_a_named_volume(
    postgres_profile: dict[str, Any],
) -> None:
    server = postgres_profile["services"]["postgres"]
    # By tag until a digest can be checked (docs/docker.md); a digest is welcome too.
    assert server["image"].split("@")[0] == "postgres:15-bookworm"
    [volume] = server["volumes"]
    assert (volume["type"], volume["target"]) == ("volume", "/var/lib/postgresql/data")
    assert volume["source"] in postgres_profile["volumes"]
    assert "ports" not in server
    assert server["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]


def test_passwords_come_from_secret_files_never_from_the_environment(
    postgres_profile: dict[str, Any],
) -> None:
    services = postgres_profile["services"]
    server = services["postgres"]
    assert server["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert "POSTGRES_PASSWORD" not in server["environment"]
    for name in ("migrate", "api-postgres"):
        environment = services[name]["environment"]
        assert environment["TODO_DATABASE_URL"] == ""  # clears the image's SQLite default
        assert environment["TODO_DATABASE_URL_FILE"] == "/run/secrets/database_url"
        assert environment["TODO_SECRET_KEY_FILE"] == "/run/secrets/secret_key"
        sources = {secret["source"] for secret in services[name]["secrets"]}
        assert sources == {"database_url", "secret_key"}
    for secret in ("postgres_password", "database_url", "secret_key"):
        assert Path(postgres_profile["secrets"][secret]["file"]).name == secret


def test_the_app_starts_after_a_healthy_server_and_a_finished_migration(
    postgres_profile: dict[str, Any],
) -> None:
    services = postgres_profile["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    app = services["api-postgres"]
    assert {name: rule["condition"] for name, rule in app["depends_on"].items()} == {
        "postgres": "service_healthy",
        "migrate": "service_completed_successfully",
    }
    assert app["healthcheck"]["test"] == ["CMD", "todo-api", "healthcheck"]
    assert migrate["image"] == app["image"] == services["api"]["image"]
