"""A big account in a real server: exports in bounded memory and time, and a big import
leaves the event loop free."""

import os
import threading
import time
from pathlib import Path

import httpx2 as httpx
import orjson
import pytest

from support import todo_api_server
from todo_api.cli import main

TODOS = 100_000
MAX_GROWTH_MIB = 50  # peak RSS above the idle server's while it streams the export
MAX_CALENDAR_SECONDS = 5.0
MEBIBYTE = 1024 * 1024

pytestmark = pytest.mark.slow


def big_document(path: Path) -> None:
    """An export document of TODOS todos, every kind of field set somewhere."""
    todos = [
        {
            "title": f"todo number {number}",
            "description": "notes, with; punctuation" if number % 3 == 0 else None,
            "completed": number % 4 == 0,
            "tags": ["work", "home"] if number % 2 else [],
            "priority": number % 4,
            "due_date": "2026-12-01" if number % 5 == 0 else None,
            "created_at": "2026-01-01T00:00:00Z",
        }
        for number in range(TODOS)
    ]
    lists = [{"ref": "l1", "name": "Inbox", "is_default": True}]
    path.write_bytes(
        orjson.dumps({"format": "todo-api", "version": 1, "lists": lists, "todos": todos})
    )


def peak_rss_bytes(pid: int) -> int:
    """The process's peak resident set size so far (VmHWM), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc: not Linux?")


def cpu_seconds(pid: int) -> float:
    """User and system time the process has used, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def streamed_size(url: str) -> int:
    """Download `url` chunk by chunk, keeping none of it: how many bytes came."""
    size = 0
    with httpx.stream("GET", url, timeout=120) as response:
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            size += len(chunk)
    return size


@pytest.fixture(scope="module")
def big_account(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database directory whose local user has TODOS todos, imported by the command."""
    folder = tmp_path_factory.mktemp("big")
    big_document(folder / "big.json")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TODO_DATABASE_URL", f"sqlite:///{folder / 'todo.db'}")
        assert main(["import", "--quiet", str(folder / "big.json")]) == 0
    return folder


@pytest.mark.parametrize("path", ["/export", "/export.ics"])
def test_a_big_export_streams_in_bounded_memory_and_time(big_account: Path, path: str) -> None:
    with todo_api_server(big_account, access_log="false") as server:
        assert httpx.get(f"{server.base_url}/todos?limit=1").status_code == 200
        idle = peak_rss_bytes(server.process.pid)
        cpu_before = cpu_seconds(server.process.pid)
        size = streamed_size(f"{server.base_url}{path}")
        # The server's own CPU time, not the wall clock: on a machine shared with other work
        # the wall clock measures the neighbours (on a quiet 2-vCPU VM they are about equal).
        cpu = cpu_seconds(server.process.pid) - cpu_before
        growth = peak_rss_bytes(server.process.pid) - idle
    assert size > TODOS * 100
    assert growth <= MAX_GROWTH_MIB * MEBIBYTE, f"peak RSS grew {growth / MEBIBYTE:.1f} MiB"
    if path == "/export.ics":
        assert cpu <= MAX_CALENDAR_SECONDS, f"{TODOS} todos as iCalendar took {cpu:.1f} s of CPU"


def test_a_big_import_leaves_the_event_loop_free(big_account: Path) -> None:
    body = (big_account / "big.json").read_bytes()
    slowest: list[float] = []
    with todo_api_server(big_account, access_log="false", max_body_bytes=str(len(body))) as server:
        done = threading.Event()

        def probe_health() -> None:
            while not done.is_set():
                started = time.perf_counter()
                assert httpx.get(f"{server.base_url}/health", timeout=30).status_code == 200
                slowest.append(time.perf_counter() - started)

        prober = threading.Thread(target=probe_health)
        prober.start()
        try:
            started = time.perf_counter()
            imported = httpx.post(
                f"{server.base_url}/import",
                content=body,
                headers={"content-type": "application/json"},
                timeout=300,
            )
            took = time.perf_counter() - started
        finally:
            done.set()
            prober.join()
    assert imported.status_code == 200, imported.text
    assert imported.json() == {"lists": 0, "todos": TODOS}
    assert len(slowest) >= 3
    # Parsing and writing 100k todos takes seconds; /health answers meanwhile.
    assert max(slowest) < min(1.0, took / 2), (max(slowest), took)
