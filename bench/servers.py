"""Server processes under test: start one, know when it answers, notice when it dies, stop it."""

import http.client
import os
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
READY_TIMEOUT_SECONDS = 30.0  # todo-api migrates its database before it answers
READY_POLL_SECONDS = 0.05
PROBE_TIMEOUT_SECONDS = 2.0
STOP_TIMEOUT_SECONDS = 10.0
LOG_TAIL_CHARS = 2000
# Servers import `bench.*` apps by module path, so they run from the checkout's root.
REPO_ROOT = Path(__file__).resolve().parent.parent


class ServerError(RuntimeError):
    """A server did not start, stopped answering, or exited while under test."""


def free_port() -> int:
    """An ephemeral port nothing listens on now (the OS picks it, so parallel runs don't clash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Contender:
    """How to launch one server: a command that listens on `port`, and a path that answers 200."""

    name: str
    summary: str
    argv: Sequence[str]
    port: int
    env: Mapping[str, str] = field(default_factory=dict)
    ready_path: str = "/health"
    holds_data: bool = False  # True: seed it, and ask for an id it really has
    needs_account: bool = False  # True: register a user, send its bearer token on every request

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


class Server:
    """A running contender; its output goes to a log file shown when something goes wrong."""

    def __init__(self, contender: Contender, log_dir: Path) -> None:
        self.contender = contender
        self.log_path = log_dir / f"{contender.name}.log"
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                list(contender.argv),
                cwd=REPO_ROOT,
                env={**os.environ, **contender.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until_ready(self, timeout_s: float = READY_TIMEOUT_SECONDS) -> None:
        """Poll the ready path until it answers 200, the process exits, or time runs out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_running()
            if self._answers():
                return
            time.sleep(READY_POLL_SECONDS)
        raise ServerError(
            f"{self.contender.name} did not answer {self.contender.ready_path} within"
            f" {timeout_s:.0f}s\n{self.log_tail()}"
        )

    def check_running(self) -> None:
        code = self._process.poll()
        if code is not None:
            raise ServerError(f"{self.contender.name} exited with code {code}\n{self.log_tail()}")

    def log_tail(self) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return text[-LOG_TAIL_CHARS:]

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully), then SIGKILL if it lingers."""
        if self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _answers(self) -> bool:
        connection = http.client.HTTPConnection(
            HOST, self.contender.port, timeout=PROBE_TIMEOUT_SECONDS
        )
        try:
            connection.request("GET", self.contender.ready_path)
            return connection.getresponse().status == http.HTTPStatus.OK
        except OSError:
            return False
        finally:
            connection.close()
