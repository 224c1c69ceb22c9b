"""The container image: build, non-root hardened run, persistence, graceful stop, layer caching,
contents, size budget, lint, and Compose.

The image is built once per module on the local stand-in base (scripts/build-base-image), so no
registry is needed. Every container, volume and Compose project gets a unique name and is removed
by a finalizer; host ports are ephemeral (`-p 127.0.0.1::8000`, then `docker port`).
"""

import fcntl
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import termios
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from container_http import account_headers, http
from container_image import (
    BASE_IMAGE,
    BUILD_TIMEOUT_SECONDS,
    DOCKER,
    HARDENED,
    build_command,
    build_env,
    build_image,
)
from support import missing_part, poll_until

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "todo-api:test"
APP_UID = 10001
SIZE_BUDGET_BYTES = 75 * 1000 * 1000  # what the image may add over its base, in docker's MB
START_TIMEOUT_SECONDS = 60
HEALTHY_TIMEOUT_SECONDS = 90  # the first probe runs one --interval (10 s) after start
GRACEFUL_EXIT_SECONDS = 10
SLEEP_SECONDS = 3
# /proc/net/tcp state code and the port the server listens on, as the kernel prints them.
TCP_ESTABLISHED = "01"
SERVER_PORT_HEX = f"{8000:04X}"


def docker(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Runs a docker command and returns its output; on failure the error shows stderr."""
    result = subprocess.run(
        [DOCKER, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(f"docker {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


def unique(kind: str) -> str:
    return f"todo-api-test-{kind}-{uuid.uuid4().hex[:10]}"


@dataclass
class Engine:
    """Starts containers and volumes for one test and removes them all afterwards."""

    image: str
    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    def volume(self) -> str:
        name = unique("data")
        docker("volume", "create", name)
        self.volumes.append(name)
        return name

    def run(self, *options: str, command: tuple[str, ...] = ()) -> str:
        name = unique("c")
        self.containers.append(name)
        docker("run", "-d", "--name", name, "-p", "127.0.0.1::8000", *options, self.image, *command)
        return name

    def url(self, container: str) -> str:
        """The base URL once the server answers /health; fails early if the container exits."""
        port = docker("port", container, "8000/tcp").stdout.split()[0]
        base = f"http://{port}"

        def answers() -> bool:
            if not self.running(container):
                logs = docker("logs", container, check=False)
                pytest.fail(f"container exited:\n{logs.stdout[-2000:]}{logs.stderr[-2000:]}")
            try:
                return http("GET", f"{base}/health", timeout=1)[0] == 200
            except OSError:
                return False

        poll_until(answers, START_TIMEOUT_SECONDS, f"{base}/health")
        return base

    def running(self, container: str) -> bool:
        state = docker("inspect", "-f", "{{.State.Running}}", container, check=False)
        return state.stdout.strip() == "true"

    def remove_all(self) -> None:
        for name in self.containers:
            docker("rm", "--force", "--volumes", name, check=False)
        for name in self.volumes:
            docker("volume", "rm", "--force", name, check=False)


@pytest.fixture(scope="module")
def image() -> str:
    """Builds the image once on the stand-in base; skips (or fails, when strict) without Docker."""
    return build_image(IMAGE)


@pytest.fixture
def engine(image: str) -> Iterator[Engine]:
    engine = Engine(image)
    yield engine
    engine.remove_all()


def test_server_runs_as_uid_10001_and_cannot_change_its_code(engine: Engine) -> None:
    container = engine.run()
    engine.url(container)

    status = docker("exec", container, "cat", "/proc/1/status").stdout
    uids = re.search(r"^Uid:\s+(.*)$", status, re.MULTILINE)
    assert uids is not None
    assert {int(uid) for uid in uids.group(1).split()} == {APP_UID}
    writable = docker("exec", container, "sh", "-c", "touch /opt/venv/x", check=False)
    assert writable.returncode != 0
    data_owner = docker("exec", container, "stat", "-c", "%u:%g", "/data").stdout.strip()
    assert data_owner == f"{APP_UID}:{APP_UID}"


def test_healthcheck_turns_healthy(engine: Engine) -> None:
    container = engine.run()

    def status() -> str | None:
        value = docker("inspect", "-f", "{{.State.Health.Status}}", container).stdout.strip()
        if value == "unhealthy":
            pytest.fail(f"container became unhealthy: {docker('inspect', container).stdout}")
        return value if value == "healthy" else None

    poll_until(status, HEALTHY_TIMEOUT_SECONDS, "health status 'healthy'")


def test_hardened_run_serves_reads_and_writes(engine: Engine) -> None:
    container = engine.run(*HARDENED, "-v", f"{engine.volume()}:/data")
    base = engine.url(container)
    assert http("GET", f"{base}/todos")[0] == 401  # no credential, no todos
    auth = account_headers(base)

    status, created = http("POST", f"{base}/todos", {"title": "read-only root"}, headers=auth)
    assert status == 201, created
    assert http("GET", f"{base}/todos/{created['id']}", headers=auth) == (200, created)
    status, listed = http("GET", f"{base}/todos", headers=auth)
    assert status == 200
    assert [todo["id"] for todo in listed] == [created["id"]]
    assert docker("exec", container, "touch", "/etc/x", check=False).returncode != 0


def test_todo_survives_container_replacement(engine: Engine) -> None:
    volume = engine.volume()
    first = engine.run(*HARDENED, "-v", f"{volume}:/data")
    base = engine.url(first)
    auth = account_headers(base)
    status, created = http("POST", f"{base}/todos", {"title": "kept"}, headers=auth)
    assert status == 201, created
    docker("rm", "--force", first)

    second = engine.run(*HARDENED, "-v", f"{volume}:/data")
    # The account and its token live in the volume too.
    status, fetched = http("GET", f"{engine.url(second)}/todos/{created['id']}", headers=auth)
    assert status == 200
    assert fetched["title"] == "kept"


def _unread_bytes(pid: str, client_port: int) -> int | None:
    """Bytes the server has not yet read from our connection (None: no such connection yet),
    from the container's network namespace as the host sees it."""
    for table in ("tcp", "tcp6"):
        lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local_port = fields[1].rsplit(":", 1)[1]
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if local_port == SERVER_PORT_HEX and remote_port == client_port:
                if fields[3] != TCP_ESTABLISHED:
                    return None
                return int(fields[4].split(":")[1], 16)
    return None


def _unacknowledged_bytes(sock: socket.socket) -> int:
    buffer = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
    count: int = struct.unpack("i", buffer)[0]
    return count


def test_sigterm_lets_an_in_flight_request_finish(engine: Engine) -> None:
    # About shutdown, not credentials: the debug route is reached without one.
    container = engine.run(*HARDENED, "-e", "TODO_DEBUG_ROUTES=true", "-e", "TODO_AUTH=disabled")
    engine.url(container)
    pid = docker("inspect", "-f", "{{.State.Pid}}", container).stdout.strip()
    address = docker(
        "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container
    ).stdout.strip()
    if not Path(f"/proc/{pid}/net/tcp").exists() or not address:
        missing_part("needs the container's network namespace from the host (rootful Docker)")

    # Straight to the container address, not through docker-proxy: the request is in flight once
    # the container's kernel has acknowledged every byte and the server has read them all.
    with socket.create_connection((address, 8000), timeout=GRACEFUL_EXIT_SECONDS + 5) as sock:
        sock.sendall(
            f"GET /debug/sleep?seconds={SLEEP_SECONDS} HTTP/1.1\r\n"
            "Host: test\r\nConnection: close\r\n\r\n".encode()
        )
        poll_until(
            lambda: _unacknowledged_bytes(sock) == 0, 5, "the request to reach the container"
        )
        client_port = sock.getsockname()[1]
        poll_until(
            lambda: _unread_bytes(pid, client_port) == 0, 5, "the server to read the request"
        )

        stopped_at = time.monotonic()
        docker("kill", "--signal", "SIGTERM", container)
        exit_code = docker("wait", container, timeout=GRACEFUL_EXIT_SECONDS * 3).stdout.strip()
        elapsed = time.monotonic() - stopped_at

        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk

    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), reply
    assert json.loads(body) == {"slept": SLEEP_SECONDS}
    assert exit_code == "0", docker("logs", container).stderr[-2000:]
    assert elapsed < GRACEFUL_EXIT_SECONDS


CONTEXT_FILES = ("Dockerfile", ".dockerignore", "requirements.txt", "pyproject.toml", "README.md")


def _step_ids(log: str, instruction: str) -> set[str]:
    return {
        m.group(1) for m in re.finditer(rf"^(#\d+) \[build [^\]]*\] RUN .*{instruction}", log, re.M)
    }


def test_code_change_reuses_the_dependency_layer(image: str, tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    for name in CONTEXT_FILES:
        shutil.copy2(ROOT / name, context / name)
    shutil.copytree(ROOT / "src", context / "src", ignore=shutil.ignore_patterns("__pycache__"))
    module = context / "src" / "todo_api" / "__init__.py"
    tag = f"todo-api:{unique('touched')}"
    # Unique content, so an earlier run's build cache cannot hold this change already.
    module.write_text(module.read_text() + f"\n# {tag}\n")
    try:
        build = subprocess.run(
            build_command(context, tag),
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_SECONDS,
            env=build_env(),
            check=False,
        )
        assert build.returncode == 0, build.stderr[-5000:]
    finally:
        docker("rmi", "--force", tag, check=False)
    log = build.stderr
    dependencies = _step_ids(log, re.escape("pip install -r requirements.txt"))
    application = _step_ids(log, re.escape("pip install --no-deps ."))
    assert dependencies, log[-5000:]
    assert application, log[-5000:]
    cached = set(re.findall(r"^(#\d+) CACHED$", log, re.M))
    assert dependencies <= cached, "the dependency layer was rebuilt for a code-only change"
    assert not application & cached, "the code change did not reach the application layer"


# What the image adds to its base must hold none of these.
UNWANTED_PATH = re.compile(
    r"/\.git(/|$)|/tests?(/|$)|/conftest\.py$|/\.pytest_cache|/\.cache(/|$)|^/src(/|$)"
    r"|^/opt/venv/.*/pip(/|$)|^/opt/venv/bin/pip|/requirements[^/]*\.txt$|/Dockerfile$"
)


def test_image_holds_no_sources_tests_caches_or_build_tools(image: str) -> None:
    def paths(name: str) -> set[str]:
        listing = docker(
            "run", "--rm", "--user", "0", "--entrypoint", "find", name, "/", "-xdev"
        ).stdout
        return set(listing.splitlines())

    added = paths(image) - paths(BASE_IMAGE)
    assert any(path.startswith("/opt/venv/") for path in added)
    assert sorted(path for path in added if UNWANTED_PATH.search(path)) == []
    tools = docker(
        "run", "--rm", "--entrypoint", "sh", image, "-c", "command -v strip gcc cc; true"
    )
    assert tools.stdout.split() == []


def test_image_adds_at_most_75_mb_to_its_base(image: str) -> None:
    def size(name: str) -> int:
        return int(docker("image", "inspect", "-f", "{{.Size}}", name).stdout)

    added = size(image) - size(BASE_IMAGE)
    assert added <= SIZE_BUDGET_BYTES, f"image adds {added / 1e6:.1f} MB over {BASE_IMAGE}"


def test_dockerfile_passes_hadolint() -> None:
    # scripts/install-docker installs it with pip: on PATH, or beside this interpreter.
    beside_python = str(Path(sys.executable).parent)
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=beside_python)
    if hadolint is None:
        missing_part("hadolint not installed; run scripts/install-docker")
    result = subprocess.run(
        [hadolint, "--config", ".hadolint.yaml", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def compose_project(image: str) -> Iterator[tuple[str, dict[str, str]]]:
    if docker("compose", "version", check=False).returncode != 0:
        missing_part("docker compose v2 not installed; run scripts/install-docker")
    project = unique("compose")
    env = {
        **os.environ,
        "TODO_IMAGE": image,
        "TODO_HOST_PORT": "127.0.0.1:",  # any free loopback port
        "PYTHON_IMAGE": BASE_IMAGE,
    }
    yield project, env
    subprocess.run(
        [DOCKER, "compose", "-p", project, "down", "--volumes", "--timeout", "15"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_compose_file_is_valid_and_serves(compose_project: tuple[str, dict[str, str]]) -> None:
    project, env = compose_project

    def compose(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [DOCKER, "compose", "-p", project, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    compose("config", "--quiet")
    compose(
        "up", "--detach", "--no-build", "--wait", "--wait-timeout", str(HEALTHY_TIMEOUT_SECONDS)
    )
    base = f"http://{compose('port', 'api', '8000').stdout.split()[0]}"
    auth = account_headers(base)
    status, created = http("POST", f"{base}/todos", {"title": "from compose"}, headers=auth)
    assert status == 201, created
    assert http("GET", f"{base}/todos/{created['id']}", headers=auth) == (200, created)
