"""The reliability suite's own faults: kill -9 under write load, and a soak with flat memory.

`make chaos` runs every test marked `chaos` (these, and the fault tests elsewhere: disk full,
database deleted, lock waits beside a bulk change). Each is bounded in time and sends traffic
only to servers it started on loopback.
"""

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import pytest

from support import (
    ACCOUNT_PASSWORD,
    SERVER_LOGS,
    ServerProcess,
    free_port,
    remember_secrets,
    todo_api_command,
    wait_until_healthy,
)

pytestmark = [pytest.mark.slow, pytest.mark.chaos]

KILL_ROUNDS = 3
WRITERS = 4
WORKERS_PER_SERVER = "2"
WRITE_SECONDS_PER_ROUND = 1.5
SOAK_SECONDS = 60
SOAK_WARM_UP_SECONDS = 10
SOAK_RSS_GROWTH_LIMIT_BYTES = 10 * 1024 * 1024


@contextmanager
def server_group(
    database_url: str, log_dir: Path, port: int, **settings: str
) -> Iterator[ServerProcess]:
    """`todo-api serve` in a process group of its own, so a test can kill all of it at once."""
    env = {
        **os.environ,
        "TODO_PORT": str(port),
        "TODO_DATABASE_URL": database_url,
        # Accounts on (TODO_AUTH=required, the default): every request carries a bearer token.
        "TODO_RATE_LIMIT": "off",  # the soak is one client, as fast as it can
        **{f"TODO_{name.upper()}": value for name, value in settings.items()},
    }
    log_path = log_dir / f"server-{port}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            todo_api_command("serve"),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = ServerProcess(process, f"http://127.0.0.1:{port}", log_path)
    try:
        wait_until_healthy(server)
        yield server
    finally:
        with_group_killed(process)
        SERVER_LOGS.append(server.output())


def bearer_token(base_url: str) -> dict[str, str]:
    """Headers with a token of the account `chaos`, created on the first call for a database
    (the account outlives the server processes, like the todos)."""
    login = {"username": "chaos", "password": ACCOUNT_PASSWORD}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        created = client.post("/users", json=login)
        assert created.status_code in (201, 409), created.text
        issued = client.post("/tokens", json=login)
        assert issued.status_code == 201, issued.text
    token: str = issued.json()["token"]
    remember_secrets(token)
    return {"Authorization": f"Bearer {token}"}


def with_group_killed(process: subprocess.Popen[bytes]) -> None:
    """kill -9 the whole group: the main process and its workers, as the OOM killer might."""
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def write_until(
    base_url: str, auth: dict[str, str], stop: threading.Event, acknowledged: list[int]
) -> None:
    """POST todos until `stop`; keep the id of every one acknowledged with 201."""
    with httpx.Client(base_url=base_url, headers=auth, timeout=10) as client:
        while not stop.is_set():
            try:
                response = client.post("/todos", json={"title": "must survive"})
            except httpx.TransportError:
                return  # the server is gone: this write was never acknowledged
            if response.status_code == 201:
                acknowledged.append(response.json()["id"])


def stored_ids(base_url: str, auth: dict[str, str]) -> set[int]:
    """Every todo id the server holds, page by page (the `Link` header)."""
    ids: set[int] = set()
    url: str | None = f"{base_url}/todos?limit=200&sort=created_at"
    with httpx.Client(headers=auth, timeout=30) as client:
        while url is not None:
            response = client.get(url)
            assert response.status_code == 200
            ids |= {todo["id"] for todo in response.json()}
            url = response.links.get("next", {}).get("url")
    return ids


def test_no_acknowledged_write_is_lost_to_kill_9_under_load(
    tmp_path: Path, empty_database_url: str
) -> None:
    """On both databases: SQLite's WAL, and PostgreSQL's commit, which the server's kill -9
    cannot undo (the database server itself keeps running)."""
    acknowledged: list[int] = []
    port = free_port()
    auth: dict[str, str] = {}
    for _ in range(KILL_ROUNDS):
        with server_group(empty_database_url, tmp_path, port, workers=WORKERS_PER_SERVER) as server:
            auth = auth or bearer_token(server.base_url)
            stop = threading.Event()
            writers = [
                threading.Thread(
                    target=write_until, args=(server.base_url, auth, stop, acknowledged)
                )
                for _ in range(WRITERS)
            ]
            for writer in writers:
                writer.start()
            deadline = time.monotonic() + WRITE_SECONDS_PER_ROUND
            while time.monotonic() < deadline and all(w.is_alive() for w in writers):
                time.sleep(0.05)  # the load runs; this only waits for the round's end
            with_group_killed(server.process)  # mid-write, with requests in flight
            stop.set()
            for writer in writers:
                writer.join(timeout=15)
    assert len(acknowledged) > KILL_ROUNDS * 10  # the load really ran
    with server_group(empty_database_url, tmp_path, port) as server:
        missing = set(acknowledged) - stored_ids(server.base_url, auth)
    assert missing == set(), f"{len(missing)} of {len(acknowledged)} acknowledged writes lost"


def resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def mixed_load(
    base_url: str, auth: dict[str, str], stop: threading.Event, failures: list[str]
) -> None:
    """Create, read, page, change and delete todos until `stop`."""
    with httpx.Client(base_url=base_url, headers=auth, timeout=10) as client:
        n = 0
        while not stop.is_set():
            n += 1
            created = client.post("/todos", json={"title": f"soak {n}", "tags": ["soak"]})
            if created.status_code != 201:
                failures.append(f"POST {created.status_code}")
                continue
            todo = created.json()
            for response in (
                client.get(f"/todos/{todo['id']}"),
                client.get("/todos", params={"limit": 50, "tag": "soak"}),
                client.patch(f"/todos/{todo['id']}", json={"completed": True}),
                client.get("/todos", params={"q": "soak", "limit": 20}),
            ):
                if response.status_code != 200:
                    failures.append(f"{response.request.method} {response.status_code}")
            if n % 2 == 0:
                deleted = client.delete(f"/todos/{todo['id']}")
                if deleted.status_code != 204:
                    failures.append(f"DELETE {deleted.status_code}")


def test_a_soak_under_mixed_load_keeps_memory_flat(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'todo.db'}"
    with server_group(database_url, tmp_path, free_port(), access_log="false") as server:
        auth = bearer_token(server.base_url)
        stop = threading.Event()
        failures: list[str] = []
        clients = [
            threading.Thread(target=mixed_load, args=(server.base_url, auth, stop, failures))
            for _ in range(2)
        ]
        for client in clients:
            client.start()
        started = time.monotonic()
        try:
            while time.monotonic() - started < SOAK_WARM_UP_SECONDS:
                time.sleep(0.5)  # warm-up: caches, pools and the allocator settle
            after_warm_up = resident_bytes(server.process.pid)
            while time.monotonic() - started < SOAK_SECONDS:
                time.sleep(0.5)  # the load runs; this only waits for the soak's end
            at_end = resident_bytes(server.process.pid)
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=15)
        assert failures == []
        growth = at_end - after_warm_up
        assert growth <= SOAK_RSS_GROWTH_LIMIT_BYTES, f"RSS grew {growth / 2**20:.1f} MiB"
