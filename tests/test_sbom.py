"""`make sbom`: a CycloneDX SBOM of what the image ships lists every pinned package of
requirements.txt at its pinned version, and todo-api itself as the described component."""

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from support import PROJECT_ROOT

pytestmark = [pytest.mark.deploy_tools, pytest.mark.slow]

SBOM_TIMEOUT_SECONDS = 600
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", re.M)


def canonical(name: str) -> str:
    """PEP 503: `MarkupSafe`, `markupsafe` and `markup_safe` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def test_make_sbom_lists_every_locked_package_and_the_service(tmp_path: Path) -> None:
    sbom_path = tmp_path / "sbom.cdx.json"
    result = subprocess.run(
        ["make", "--no-print-directory", "sbom", f"SBOM={sbom_path}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=SBOM_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sbom = json.loads(sbom_path.read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    described = sbom["metadata"]["component"]
    assert (described["name"], described["version"]) == (project["name"], project["version"])
    listed = {canonical(c["name"]): c["version"] for c in sbom["components"]}
    pinned = {
        canonical(name): version
        for name, version in PIN.findall((PROJECT_ROOT / "requirements.txt").read_text())
    }
    assert pinned, "requirements.txt pins nothing"
    assert listed == pinned
