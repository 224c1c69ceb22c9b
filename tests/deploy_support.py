"""Helpers for the tests of deploy/, the pipelines and the SBOM: finding the checkers that
scripts/install-deploy-tools puts in .tools/, running them, and rendering the kustomize overlays.

A checker that is missing skips the test with the command that installs it (a failure in
strict mode, as everywhere: support.missing_part).
"""

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from support import PROJECT_ROOT, missing_part
from todo_api.config import ENV_PREFIX, Settings

TOOLS_DIR = Path(os.environ.get("TODO_DEPLOY_TOOLS", PROJECT_ROOT / ".tools"))
INSTALL_HINT = "run scripts/install-deploy-tools"
K8S_DIR = PROJECT_ROOT / "deploy" / "k8s"
OVERLAYS = ("single", "postgres")
TOOL_TIMEOUT_SECONDS = 300
# The pipelines' deploy steps swap this placeholder for the pushed digest (docs/deploy.md).
PLACEHOLDER_IMAGE = "ghcr.io/example/todo-api"
DIGEST_PATTERN = r"[^@\s]+@sha256:[0-9a-f]{64}"
SETTING_NAMES = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}


def tool(name: str) -> Path:
    """The path of checker `name`: from .tools/ first, then PATH."""
    for folder in ("venv", "checkov"):
        candidate = TOOLS_DIR / folder / "bin" / name
        if candidate.is_file():
            return candidate
    found = shutil.which(name)
    if found is None:
        missing_part(f"{name} is not installed; {INSTALL_HINT}")
    return Path(found)


def checkers_python() -> Path:
    """The Python of the checkers' venv (it has botocore, for the ECS definitions)."""
    python = TOOLS_DIR / "venv" / "bin" / "python"
    if not python.is_file():
        missing_part(f"{python} is missing; {INSTALL_HINT}")
    return python


def run_tool(*args: str | Path, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """Runs a checker and returns what it printed, whatever its exit status."""
    return subprocess.run(
        [str(arg) for arg in args],
        input=input_text,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_SECONDS,
        cwd=PROJECT_ROOT,
        check=False,
    )


@functools.cache
def rendered_text(overlay: str) -> str:
    """`kubectl kustomize` of an overlay (rendered once per session)."""
    kubectl = tool("kubectl")
    result = run_tool(kubectl, "kustomize", K8S_DIR / "overlays" / overlay)
    assert result.returncode == 0, result.stderr
    return result.stdout


def rendered(overlay: str) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(rendered_text(overlay)) if document]


def only(documents: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The one object of `kind` among `documents`."""
    matches = [document for document in documents if document["kind"] == kind]
    assert len(matches) == 1, f"{len(matches)} objects of kind {kind}"
    return matches[0]


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())
