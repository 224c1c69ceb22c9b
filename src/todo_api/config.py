"""Settings: one class read from `TODO_*` environment variables or `TODO_*_FILE` files."""

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from limits import parse
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "TODO_"
DEFAULT_DATABASE_URL = "sqlite:///./data/todo.db"
# postgresql:// and postgres:// (libpq's two spellings) both mean psycopg 3 (docs/postgresql.md).
SUPPORTED_URL_PREFIXES = ("sqlite:///", "postgresql://", "postgres://", "postgresql+psycopg://")
MEBIBYTE = 1024 * 1024
# prometheus_client's own variable: the directory where each worker process writes its metrics.
METRICS_MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
ANY_HOST = "*"
# Host header names (port removed) a server bound to a loopback address answers by default:
# a web page whose name merely resolves to 127.0.0.1 (DNS rebinding) sends its own name.
LOOPBACK_HOST_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
SECRET_KEY_MIN_LENGTH = 32
SECRET_KEY_MIN_DISTINCT = 10
_PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "secret", "placeholder", "example")


class FileValueSource(PydanticBaseSettingsSource):
    """Reads a setting from the file named by `TODO_<NAME>_FILE` (Docker/Kubernetes secrets)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # values are produced all at once by __call__

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in self.settings_cls.model_fields:
            env_name = f"{ENV_PREFIX}{name.upper()}"
            path = os.environ.get(f"{env_name}_FILE")
            if not path:
                continue
            if os.environ.get(env_name):  # an empty value counts as unset (e.g. `-e TODO_X=`)
                raise ValueError(f"set either {env_name} or {env_name}_FILE, not both")
            try:
                values[name] = Path(path).read_text(encoding="utf-8").strip()
            except OSError as error:
                raise ValueError(f"{env_name}_FILE: cannot read {path}: {error.strerror}") from None
        return values


class Settings(BaseSettings):
    """Everything an operator can configure; the README's configuration table lists each field."""

    # hide_input_in_errors: a refused value is never echoed (a short TODO_SECRET_KEY, a
    # database URL with its password, anything read from a *_FILE secret); the message names
    # the setting and what is wrong with it.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, hide_input_in_errors=True
    )

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    log_format: Literal["json", "console"] = "console"
    access_log: bool = True
    cors_origins: Annotated[list[str], NoDecode] = []
    cors_allow_private_network: bool = False
    allowed_hosts: Annotated[list[str], NoDecode] = []
    public_url: str = ""
    header_timeout: float = Field(default=10.0, gt=0, le=3600)
    body_timeout: float = Field(default=60.0, gt=0, le=3600)
    max_connections: int = Field(default=0, ge=0)
    max_body_bytes: int = Field(default=MEBIBYTE, ge=1)
    # Accounts (docs/security.md). `disabled`: one implicit local user, no credentials asked.
    auth: Literal["required", "disabled"] = "required"
    registration: Literal["open", "closed"] = "open"
    token_default_days: int = Field(default=90, ge=1, le=3650)
    token_max_days: int = Field(default=365, ge=1, le=3650)
    session_idle_minutes: int = Field(default=720, ge=1)
    session_max_hours: int = Field(default=168, ge=1)
    graceful_timeout: int = Field(default=8, ge=0, le=300)
    forwarded_allow_ips: str = ""
    require_if_match: bool = False
    debug_routes: bool = False
    # GET /metrics on its own port (on TODO_HOST) instead of the API's, so it need not be public.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Requests per user (per address when anonymous), and password attempts per address:
    # "N/second|minute|hour|day" or "off" (rate_limit.py).
    rate_limit: str = "600/minute"
    password_rate_limit: str = "10/minute"  # noqa: S105  (a limit, not a password)
    # GET /events: open streams per user and process (429 beyond), the heartbeat's period, and
    # how long the changes table keeps a change (change_feed_pruner.py).
    events_max_streams: int = Field(default=5, ge=1, le=1000)
    events_heartbeat_seconds: float = Field(default=15.0, gt=0, le=3600)
    events_retention_hours: float = Field(default=168.0, gt=0, le=24 * 3650)
    # Signs cursors (secret_key.py). Unset: generated at first start beside the database.
    secret_key: SecretStr | None = None
    # PostgreSQL only (docs/postgresql.md): connections per process, how long a request waits
    # for one, and how long one statement may run (lock waits included) before a 503.
    db_pool_size: int = Field(default=10, ge=1, le=1000)
    db_pool_timeout: float = Field(default=5.0, gt=0, le=600)
    db_statement_timeout: float = Field(default=30.0, gt=0, le=3600)

    @field_validator("log_level", "log_format", "auth", "registration", mode="before")
    @classmethod
    def _lowercase(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("cors_origins", "allowed_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        """Accept `https://a.example,https://b.example` as well as a list."""
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.rstrip("/")

    def allowed_host_names(self) -> frozenset[str] | None:
        """The Host names (lower case, without port) to answer; None for any host.

        TODO_ALLOWED_HOSTS when set (`*` for any); otherwise the loopback names when the server
        is bound to a loopback address, and any host when it is bound elsewhere (`cli` warns).
        """
        if self.allowed_hosts:
            names = frozenset(name.lower() for name in self.allowed_hosts)
            return None if ANY_HOST in names else names
        return LOOPBACK_HOST_NAMES if self.binds_loopback_only() else None

    def binds_loopback_only(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host.strip("[]")).is_loopback
        except ValueError:  # a name: it may resolve to any address
            return False

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(SUPPORTED_URL_PREFIXES):
            raise ValueError("must be sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/NAME")
        return value

    @field_validator("rate_limit", "password_rate_limit")
    @classmethod
    def _readable_limit(cls, value: str) -> str:
        value = value.strip().lower()
        if value == "off":
            return value
        try:
            limit = parse(value)
        except ValueError:
            raise ValueError('must be "N/second", "N/minute", "N/hour", "N/day" or "off"') from None
        if limit.amount < 1:
            raise ValueError("must allow at least one request")
        return value

    @field_validator("secret_key")
    @classmethod
    def _strong_secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        """A short, repetitive or well-known key would let anyone forge what it signs."""
        if value is None:
            return None
        key = value.get_secret_value()
        if len(key) < SECRET_KEY_MIN_LENGTH:
            raise ValueError(
                f"must be at least {SECRET_KEY_MIN_LENGTH} characters (e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        lowered = key.lower()
        if len(set(key)) < SECRET_KEY_MIN_DISTINCT or any(
            word in lowered for word in _PLACEHOLDER_WORDS
        ):
            raise ValueError("looks like a placeholder; generate a random key")
        return value

    @model_validator(mode="after")
    def _default_within_maximum(self) -> "Settings":
        if self.token_default_days > self.token_max_days:
            raise ValueError(
                f"TODO_TOKEN_DEFAULT_DAYS ({self.token_default_days}) must not exceed "
                f"TODO_TOKEN_MAX_DAYS ({self.token_max_days})"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, FileValueSource(settings_cls)
