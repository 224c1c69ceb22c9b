"""Logging: one line per event, JSON or console, each carrying the current request id."""

import contextvars
import datetime as dt
import logging
from typing import Any, Literal

import orjson

LOGGER_NAME = "todo_api"
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
# Attributes every LogRecord has; anything else was passed with `extra=` and belongs in the line.
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "color_message",  # Uvicorn's ANSI-coloured copy of the message
}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS}


class JSONFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
            **_extras(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def escaped(text: str) -> str:
    """`text` with every unprintable character (line breaks, ESC, U+2028...) written as its
    Python escape, so that a value a client sent (a path, say) cannot start a forged line or
    move the terminal's cursor. JSON lines need none of this: JSON escapes them itself."""
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


class ConsoleFormatter(logging.Formatter):
    """Readable lines for a terminal: time, level, message, then key=value extras; one line per
    record (but for a traceback), whatever the values hold."""

    def format(self, record: logging.LogRecord) -> str:
        time = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        fields = {"request_id": request_id_var.get(), **_extras(record)}
        pairs = " ".join(f"{k}={escaped(str(v))}" for k, v in fields.items() if v is not None)
        message = escaped(record.getMessage())
        text = f"{time} {record.levelname:<7} {message} {pairs}".rstrip()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def logging_config(level: str, log_format: Literal["json", "console"]) -> dict[str, Any]:
    """A `logging.config.dictConfig` routing our logs and Uvicorn's through one formatter.

    Uvicorn applies it in the supervisor and in every worker process it spawns.
    """
    formatter = JSONFormatter if log_format == "json" else ConsoleFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "line",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            # Our middleware writes the access line (route template, request id) instead.
            "uvicorn.access": {"handlers": [], "propagate": False},
            "alembic": {"level": "WARNING"},
        },
    }
