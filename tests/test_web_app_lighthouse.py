"""Lighthouse (npm, installed by scripts/install-browser) with Debian's Chromium against the web
app with a few todos: performance, accessibility and best practices score at least 95 each.

Lighthouse's default run: a mid-range phone on a throttled network, simulated, so the scores
depend little on how busy this machine is. One run takes about 15 s here; the test allows 60.
"""

import json
import subprocess
from pathlib import Path

import httpx2 as httpx
import pytest

from browser_support import CHROMIUM
from support import PROJECT_ROOT, missing_part, todo_api_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIGHTHOUSE = PROJECT_ROOT / ".tools" / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ["performance", "accessibility", "best-practices"]
REQUIRED_SCORE = 0.95
RUN_SECONDS = 60
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu"


def test_lighthouse_scores_at_least_95(tmp_path: Path) -> None:
    for part in (LIGHTHOUSE, CHROMIUM):
        if not part.exists():
            missing_part(f"{part} missing: run scripts/install-browser")
    report = tmp_path / "lighthouse.json"
    with todo_api_server(tmp_path, cors_origins="") as server:
        for title in ("Ship the release notes", "Review the pull request", "Book the lunch"):
            created = httpx.post(f"{server.base_url}/todos", json={"title": title})
            assert created.status_code == 201
        finished = subprocess.run(
            [
                str(LIGHTHOUSE),
                f"{server.base_url}/",
                f"--chrome-flags={CHROME_FLAGS}",
                f"--only-categories={','.join(CATEGORIES)}",
                "--output=json",
                f"--output-path={report}",
                "--quiet",
            ],
            env={"CHROME_PATH": str(CHROMIUM), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=RUN_SECONDS,
            check=False,
        )
    assert finished.returncode == 0, finished.stderr[-2000:]
    categories = json.loads(report.read_text())["categories"]
    scores = {name: categories[name]["score"] for name in CATEGORIES}
    print(f"lighthouse: {scores}")  # shown with -s: the README's figures
    assert all(score >= REQUIRED_SCORE for score in scores.values()), scores
