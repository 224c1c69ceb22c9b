"""Building images of todo-api for tests, on the local stand-in base (scripts/build-base-image),
so that no registry is needed: tests/test_container.py, test_deploy_container.py and
test_rolling_upgrade.py (and the hardened run flags every one of them uses).

Every build shares BuildKit's cache: the same Dockerfile and context under another tag (each test
module has its own, so none removes another's) costs seconds once one module has built it.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support import PROJECT_ROOT, missing_part

# The Debian client has BuildKit built in; a newer client earlier on PATH may need buildx.
DOCKER = "/usr/bin/docker" if os.access("/usr/bin/docker", os.X_OK) else "docker"
BASE_IMAGE = "todo-api-base:bookworm"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BUILD_TIMEOUT_SECONDS = 900
# What the Kubernetes manifests set, as `docker run` / `podman run` flags.
HARDENED = (
    "--read-only",
    "--tmpfs",
    "/tmp",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
)


def require_docker() -> None:
    """Skip (or fail, when strict) without a reachable Docker engine."""
    if shutil.which(DOCKER) is None:
        missing_part("no docker client; run scripts/install-docker")
    info = subprocess.run([DOCKER, "info"], capture_output=True, timeout=30, check=False)
    if info.returncode != 0:
        missing_part("Docker engine not reachable; run scripts/install-docker")


def build_env() -> dict[str, str]:
    return {**os.environ, "DOCKER_BUILDKIT": "1"}


def build_command(context: Path, tag: str) -> list[str]:
    """`docker build` of `context` as `tag` on the stand-in base, its steps logged plainly."""
    command = [DOCKER, "build", "--progress=plain", "--build-arg", f"PYTHON_IMAGE={BASE_IMAGE}"]
    if HOST_CA_BUNDLE.is_file():
        command += ["--secret", f"id=ca,src={HOST_CA_BUNDLE}"]
    return [*command, "-t", tag, str(context)]


def build_image(tag: str, context: Path = PROJECT_ROOT) -> str:
    """Builds `context` (the repository's Dockerfile by default) as `tag`, after the stand-in
    base; fails the test with the build's output."""
    require_docker()
    base = subprocess.run(
        [str(PROJECT_ROOT / "scripts" / "build-base-image"), BASE_IMAGE],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )
    if base.returncode != 0:
        pytest.fail(f"scripts/build-base-image failed:\n{base.stderr[-3000:]}")
    built = subprocess.run(
        build_command(context, tag),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        env=build_env(),
        check=False,
    )
    if built.returncode != 0:
        pytest.fail(f"docker build of {tag} failed:\n{built.stderr[-5000:]}")
    return tag
