"""Log lines: JSON objects or console text, each with the request id of the request at hand."""

import json
import logging
import logging.config

from todo_api.logs import ConsoleFormatter, JSONFormatter, logging_config, request_id_var


def record(message: str = "hello", **extra: object) -> logging.LogRecord:
    return logging.makeLogRecord(
        {"name": "todo_api.test", "levelname": "INFO", "msg": message, **extra}
    )


def test_json_line_has_fields_extras_and_request_id() -> None:
    token = request_id_var.set("req-1")
    try:
        line = json.loads(JSONFormatter().format(record(status=201, route="/todos")))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "hello"
    assert line["level"] == "info"
    assert line["request_id"] == "req-1"
    assert (line["status"], line["route"]) == (201, "/todos")
    assert line["time"].endswith("+00:00")


def test_json_line_includes_the_exception() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        import sys

        text = JSONFormatter().format(record(exc_info=sys.exc_info()))
    assert "ValueError: bad" in json.loads(text)["exception"]


def test_console_line_is_readable() -> None:
    text = ConsoleFormatter().format(record(status=404))
    assert "INFO" in text and "hello" in text and "status=404" in text
    assert "request_id" not in text  # outside a request there is none to show


def test_logging_config_is_valid_for_both_formats() -> None:
    for log_format in ("json", "console"):
        config = logging_config("info", log_format)
        logging.config.dictConfig(config)
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})


def test_console_line_escapes_control_characters_in_message_and_values() -> None:
    forged = "/todos\n12:00:00 INFO    request status=200\x1b[2J\u2028"
    text = ConsoleFormatter().format(record("got %s", args=(forged,), route=forged))

    assert "\n" not in text and "\x1b" not in text and "\u2028" not in text
    assert text.count("/todos\\n12:00:00 INFO    request status=200\\x1b[2J\\u2028") == 2
    assert ConsoleFormatter().format(record("café ok")).split()[2:] == ["café", "ok"]


def test_json_line_escapes_control_characters() -> None:
    text = JSONFormatter().format(record("a\nb", route="/x\r\ny"))
    assert "\n" not in text and "\r" not in text
    line = json.loads(text)
    assert (line["message"], line["route"]) == ("a\nb", "/x\r\ny")
