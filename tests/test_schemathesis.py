"""Schemathesis against a real server: every check, every phase, zero failures.

The OpenAPI document is the contract; this generates thousands of requests from it (examples,
coverage, fuzzing, and stateful sequences that follow the document's links) and fails on any
answer the document does not promise: undocumented statuses or media types, bodies off-schema,
valid requests refused, invalid ones accepted, created resources not found through their links.
Deterministic, so a failure here reproduces. `make contract` runs it deeper.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support import PROJECT_ROOT, todo_api_server

# Also part of make chaos: its stateful phase is the suite's bounded fuzzing of a live server.
pytestmark = [pytest.mark.slow, pytest.mark.chaos]

HOOKS_MODULE = "contract_hooks"  # tests/contract_hooks.py: inputs no JSON Schema can describe
CONFIG_FILE = PROJECT_ROOT / "tests" / "schemathesis.toml"
MAX_EXAMPLES = int(os.environ.get("TODO_CONTRACT_MAX_EXAMPLES", "40"))
TIME_LIMIT_SECONDS = 540


def test_schemathesis_finds_no_failure(tmp_path: Path) -> None:
    with todo_api_server(tmp_path, access_log="false") as server:
        command = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            f"--config-file={CONFIG_FILE}",
            "run",
            f"{server.base_url}/openapi.json",
            "--checks=all",
            "--phases=examples,coverage,fuzzing,stateful",
            f"--max-examples={MAX_EXAMPLES}",
            "--generation-deterministic",
            "--workers=1",
            "--no-color",
            "--report=junit",
            f"--report-dir={tmp_path / 'report'}",
        ]
        environment = {
            **os.environ,
            "SCHEMATHESIS_HOOKS": HOOKS_MODULE,
            "PYTHONPATH": str(PROJECT_ROOT / "tests"),
        }
        result = subprocess.run(
            command,
            env=environment,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=TIME_LIMIT_SECONDS,
            check=False,
        )
    assert result.returncode == 0, result.stdout[-20_000:] + result.stderr[-5_000:]
    [(selected, total)] = re.findall(r"Selected: (\d+)/(\d+)", result.stdout)
    [tested] = re.findall(r"Tested: (\d+)", result.stdout)
    assert tested == selected == total, result.stdout[-5_000:]  # every operation was exercised
