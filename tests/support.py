"""Helpers shared by tests: strict-mode skips and running the real server as a subprocess."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NoReturn

import httpx2 as httpx
import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_SECONDS = 20.0


def strict_mode() -> bool:
    """`.ci/run` sets TODO_TEST_STRICT=1: a test that lacks a part must fail, not skip."""
    return os.environ.get("TODO_TEST_STRICT") == "1"


def missing_part(reason: str) -> NoReturn:
    """Skip with `reason` on a bare laptop; fail in strict mode."""
    if strict_mode():
        pytest.fail(f"strict mode: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_healthy(base_url: str, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll /health until it answers, the process dies, or the deadline passes."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"server exited with {process.returncode}:\n{output}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        time.sleep(0.05)  # polling interval, not synchronisation: the loop checks the condition
    raise AssertionError(f"{base_url} did not become healthy in {STARTUP_TIMEOUT_SECONDS}s")


@contextlib.contextmanager
def running_server(
    command: list[str], env: Mapping[str, str], port: int, cwd: Path = PROJECT_ROOT
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start `command` (a server on `port`), wait for health, yield its URL, stop it."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, process)
        yield base_url, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def todo_api_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "todo_api", *args]
