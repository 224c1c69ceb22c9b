"""The image under what deploy/ and docs/deploy.md promise: it serves under rootless Podman run
by an unprivileged host user with a volume (`:U`, or `--userns=keep-id`), keeping its data
across containers; and it runs as the Kubernetes pod does (migrate in a first container, then
serve, read-only root, UID 10001, no capabilities, `sleep` for the preStop pause).

The image is built once per module as `todo-api:deploy-test` on the local stand-in base
(scripts/build-base-image), then copied into the unprivileged user's Podman store.
"""

import os
import pwd
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from container_http import account_headers, http
from container_image import DOCKER, HARDENED, build_image
from support import free_port, missing_part

pytestmark = pytest.mark.container

IMAGE = "todo-api:deploy-test"
PODMAN_IMAGE = f"localhost/{IMAGE}"
ROOTLESS_USER = "todo-rootless"
APP_UID = 10001
COMMAND_TIMEOUT_SECONDS = 300
START_TIMEOUT_SECONDS = 60
POLL_SECONDS = 0.1


def run(
    args: list[str], *, timeout: float = COMMAND_TIMEOUT_SECONDS, **options: Any
) -> subprocess.CompletedProcess[str]:
    """Runs a command; a failure fails the test with its stderr."""
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, check=False, **options
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


def wait_until_ready(base_url: str, still_running: Any) -> None:
    """Polls /ready until it answers 200; fails early when the container has exited."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if not still_running():
            pytest.fail(f"the container behind {base_url} exited")
        try:
            if http("GET", f"{base_url}/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(POLL_SECONDS)  # polling interval; the loop checks the condition
    pytest.fail(f"{base_url}/ready did not answer 200 in {START_TIMEOUT_SECONDS} s")


@pytest.fixture(scope="module")
def image() -> str:
    """Builds the image on the stand-in base under this module's own tag."""
    return build_image(IMAGE)


@dataclass
class RootlessPodman:
    """Podman run by an unprivileged host user; removes what each test started."""

    user: pwd.struct_passwd
    containers: list[str] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)

    def podman(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = ["runuser", "-u", self.user.pw_name, "--", "podman", *args]
        if check:
            return run(command, cwd=self.user.pw_dir)
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            cwd=self.user.pw_dir,
            check=False,
        )

    def folder(self) -> Path:
        """A directory the user owns, as a bind mount of theirs would be."""
        path = Path(self.user.pw_dir) / f"todo-api-data-{uuid.uuid4().hex[:8]}"
        run(["runuser", "-u", self.user.pw_name, "--", "mkdir", str(path)])
        self.folders.append(path)
        return path

    def serve(self, *options: str) -> str:
        """Starts the image hardened with `options`; returns its URL once /ready answers."""
        name = f"todo-api-rootless-{uuid.uuid4().hex[:8]}"
        self.containers.append(name)
        port = free_port()
        self.podman(
            "run", "-d", "--name", name, "--health-cmd", "none",
            "-p", f"127.0.0.1:{port}:8000", *HARDENED, *options, PODMAN_IMAGE,
        )  # fmt: skip
        base_url = f"http://127.0.0.1:{port}"
        wait_until_ready(base_url, lambda: self.running(name))
        return base_url

    def running(self, name: str) -> bool:
        state = self.podman("inspect", "--format", "{{.State.Running}}", name, check=False)
        return state.stdout.strip() == "true"

    def stop_all(self) -> None:
        for name in self.containers:
            self.podman("stop", "--time", "10", name, check=False)

    def remove_all(self) -> None:
        for name in self.containers:
            self.podman("rm", "--force", name, check=False)
        for path in self.folders:
            # Files the container wrote belong to the user's subordinate IDs: remove them
            # inside the user's namespace.
            self.podman("unshare", "rm", "-rf", str(path), check=False)


def subordinate_start(user: str, database: Path) -> int:
    """Where `user`'s subordinate ID range begins (/etc/subuid or /etc/subgid)."""
    for line in database.read_text().splitlines():
        name, start, _count = line.split(":")
        if name == user:
            return int(start)
    pytest.fail(f"{user} has no range in {database}")


@pytest.fixture(scope="module")
def rootless_user() -> pwd.struct_passwd:
    """An unprivileged user with subordinate ID ranges, created on first use (needs root)."""
    if shutil.which("podman") is None:
        missing_part("podman is not installed; run scripts/install-deploy-tools podman")
    if os.geteuid() != 0:
        missing_part("running Podman as another user (runuser) needs root")
    try:
        user = pwd.getpwnam(ROOTLESS_USER)
    except KeyError:
        run(["useradd", "--create-home", "--shell", "/usr/sbin/nologin", ROOTLESS_USER])
        user = pwd.getpwnam(ROOTLESS_USER)
    use_overlay_storage(user)
    return user


def use_overlay_storage(user: pwd.struct_passwd) -> None:
    """Rootless Podman falls back to the vfs driver, which copies every layer per container
    (~10x slower here); the kernel's own overlay works in a user namespace (Linux >= 5.13)."""
    config = Path(user.pw_dir) / ".config" / "containers" / "storage.conf"
    if config.exists():
        return
    as_user = ["runuser", "-u", user.pw_name, "--"]
    run([*as_user, "mkdir", "-p", str(config.parent)])
    config.write_text('[storage]\ndriver = "overlay"\n')
    os.chown(config, user.pw_uid, user.pw_gid)
    run([*as_user, "podman", "system", "reset", "--force"], cwd=user.pw_dir)
    if subprocess.run([*as_user, "podman", "info"], cwd=user.pw_dir, check=False).returncode:
        config.write_text('[storage]\ndriver = "vfs"\n')  # an older kernel: the slow way
        run([*as_user, "podman", "system", "reset", "--force"], cwd=user.pw_dir)


@pytest.fixture(scope="module")
def podman_image(image: str, rootless_user: pwd.struct_passwd) -> Iterator[str]:
    """The Docker-built image, copied into the unprivileged user's Podman store."""
    with subprocess.Popen([DOCKER, "save", image], stdout=subprocess.PIPE) as saved:
        loaded = subprocess.run(
            ["runuser", "-u", rootless_user.pw_name, "--", "podman", "load", "-q"],
            stdin=saved.stdout,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            cwd=rootless_user.pw_dir,
            check=False,
        )
    assert saved.returncode == 0
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    yield PODMAN_IMAGE
    subprocess.run(
        ["runuser", "-u", rootless_user.pw_name, "--", "podman", "rmi", "--force", PODMAN_IMAGE],
        capture_output=True,
        cwd=rootless_user.pw_dir,
        check=False,
    )


@pytest.fixture
def podman(podman_image: str, rootless_user: pwd.struct_passwd) -> Iterator[RootlessPodman]:
    engine = RootlessPodman(rootless_user)
    yield engine
    engine.remove_all()


def test_rootless_podman_serves_and_keeps_data_in_a_volume_chowned_by_U(
    podman: RootlessPodman,
) -> None:
    data = podman.folder()
    first = podman.serve("-v", f"{data}:/data:U")
    headers = account_headers(first)  # the account and its token live in the volume too
    todo_body = {"title": "survives a new container"}
    status, todo = http("POST", f"{first}/todos", todo_body, headers=headers)
    assert status == 201
    podman.stop_all()
    second = podman.serve("-v", f"{data}:/data:U")
    status, again = http("GET", f"{second}/todos/{todo['id']}", headers=headers)
    assert status == 200
    assert {**again, "url": None} == {**todo, "url": None}  # the URL names the new port
    # :U gave the folder to the container's UID 10001, i.e. that subordinate ID on the host.
    owner = subordinate_start(podman.user.pw_name, Path("/etc/subuid")) + APP_UID - 1
    assert (data / "todo.db").stat().st_uid == owner


def test_rootless_podman_with_keep_id_writes_as_the_host_user(podman: RootlessPodman) -> None:
    data = podman.folder()
    base_url = podman.serve(
        "--userns", f"keep-id:uid={APP_UID},gid={APP_UID}", "-v", f"{data}:/data"
    )
    headers = account_headers(base_url)
    assert http("POST", f"{base_url}/todos", {"title": "mine"}, headers=headers)[0] == 201
    assert (data / "todo.db").stat().st_uid == podman.user.pw_uid


def test_the_image_runs_as_the_kubernetes_pod_does(image: str) -> None:
    """deploy/k8s: `migrate` in an init container, then `serve`, both read-only as 10001;
    the preStop hook runs `sleep` inside the server's container."""
    volume = f"todo-api-deploy-test-{uuid.uuid4().hex[:8]}"
    name = f"todo-api-deploy-test-{uuid.uuid4().hex[:8]}"
    pod = ("--user", f"{APP_UID}:{APP_UID}", *HARDENED, "-v", f"{volume}:/data")
    run([DOCKER, "volume", "create", volume])
    try:
        migrate = run([DOCKER, "run", "--rm", *pod, image, "migrate"])
        assert migrate.returncode == 0
        run([DOCKER, "run", "-d", "--name", name, "-p", "127.0.0.1::8000", *pod, image, "serve"])
        port = run([DOCKER, "port", name, "8000/tcp"]).stdout.split()[0]

        def running() -> bool:
            state = subprocess.run(
                [DOCKER, "inspect", "-f", "{{.State.Running}}", name],
                capture_output=True,
                text=True,
                check=False,
            )
            return state.stdout.strip() == "true"

        wait_until_ready(f"http://{port}", running)
        assert run([DOCKER, "exec", name, "sleep", "0"]).returncode == 0
    finally:
        subprocess.run([DOCKER, "rm", "--force", name], capture_output=True, check=False)
        subprocess.run(
            [DOCKER, "volume", "rm", "--force", volume], capture_output=True, check=False
        )
