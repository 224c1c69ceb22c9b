"""After kill -9 of the main process, no orphaned worker keeps the port: a restart binds it."""

import os
import signal
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from support import free_port, running_server, todo_api_command

# How soon after the main process is killed its workers must be gone (the bound).
WORKERS_GONE_WITHIN_SECONDS = 2.0


def processes_serving(port: int) -> list[int]:
    """Pids of the processes started with TODO_PORT=port (a server and its workers)."""
    marker = f"TODO_PORT={port}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environment = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue  # gone meanwhile, or not ours to read
            if marker in environment:
                pids.append(int(entry.name))
    return pids


@pytest.mark.slow
@pytest.mark.chaos
def test_workers_end_with_a_killed_main_process_and_a_restart_binds_the_port(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {
        "TODO_PORT": str(port),
        "TODO_WORKERS": "2",
        "TODO_DATABASE_URL": f"sqlite:///{tmp_path / 'todo.db'}",
    }
    try:
        with running_server(todo_api_command("serve"), env, port) as first:
            # The main process, two workers and multiprocessing's resource tracker.
            assert len(processes_serving(port)) == 4
            first.process.send_signal(signal.SIGKILL)
            first.process.wait()
            deadline = time.monotonic() + WORKERS_GONE_WITHIN_SECONDS
            while processes_serving(port) and time.monotonic() < deadline:
                time.sleep(0.05)  # polling interval: the loop checks the condition
            assert processes_serving(port) == []
        with running_server(todo_api_command("serve"), env, port) as second:
            assert httpx.get(f"{second.base_url}/health").status_code == 200
    finally:
        for pid in processes_serving(port):  # nothing outlives the test, whatever happened
            os.kill(pid, signal.SIGKILL)
