"""Hostile connections against a real server: header bombs, slow clients, too many connections.

Each test starts `todo-api serve` (connection_limits.py is uvicorn's protocol there, not in the
in-process app) and talks to it over raw sockets, as an attacker would.
"""

import asyncio
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from support import ServerProcess, todo_api_server
from todo_api.connection_limits import MAX_HEADER_BYTES, MAX_HEADER_COUNT

# Each test starts a server process; the attacks belong to the reliability suite (make chaos).
pytestmark = [pytest.mark.slow, pytest.mark.chaos]

MEBIBYTE = 1024 * 1024
# What a closed connection may cost the server: the bombs below send 1 MiB to 256 MiB.
RSS_GROWTH_LIMIT_BYTES = 8 * MEBIBYTE
READ_TIMEOUT_SECONDS = 10.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with todo_api_server(tmp_path, header_timeout="1", body_timeout="1") as running:
        yield running


def rss_bytes(server: ServerProcess) -> int:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def connect(server: ServerProcess) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=READ_TIMEOUT_SECONDS)


def send_until_refused(connection: socket.socket, first: bytes, chunk: bytes, limit: int) -> int:
    """Send `first`, then `chunk` until `limit` bytes or the server closes; bytes sent."""
    sent = 0
    try:
        connection.sendall(first)
        while sent < limit:
            connection.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def answer(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes (b"" when it closed without a word)."""
    received = b""
    try:
        while data := connection.recv(65536):
            received += data
    except ConnectionResetError:
        pass
    return received


def assert_healthy(server: ServerProcess) -> None:
    assert httpx.get(f"{server.base_url}/health", timeout=READ_TIMEOUT_SECONDS).status_code == 200


def test_a_mebibyte_of_headers_is_431_and_costs_no_memory(server: ServerProcess) -> None:
    before = rss_bytes(server)
    with connect(server) as connection:
        send_until_refused(
            connection,
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n",
            b"X-Padding: " + b"a" * 1000 + b"\r\n",
            MEBIBYTE,
        )
        reply = answer(connection)

    assert reply == b"" or reply.startswith(b"HTTP/1.1 431 "), reply[:100]
    assert b"application/problem+json" in reply or reply == b""
    assert rss_bytes(server) - before < RSS_GROWTH_LIMIT_BYTES
    assert_healthy(server)


def test_a_256_mebibyte_header_is_cut_off_early(server: ServerProcess) -> None:
    """One header line that never ends: httptools would buffer all of it."""
    before = rss_bytes(server)
    with connect(server) as connection:
        sent = send_until_refused(
            connection,
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bomb: ",
            b"a" * 65536,
            256 * MEBIBYTE,
        )

    assert sent < 64 * MEBIBYTE  # refused long before the end (socket buffers hold the rest)
    assert rss_bytes(server) - before < RSS_GROWTH_LIMIT_BYTES
    assert_healthy(server)


def test_too_many_header_fields_is_431(server: ServerProcess) -> None:
    fields = b"".join(b"X-Field-%d: 1\r\n" % n for n in range(MAX_HEADER_COUNT + 1))
    with connect(server) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + fields + b"\r\n")
        reply = answer(connection)

    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert b'"status":431' in rest


def test_headers_within_the_limits_are_answered(server: ServerProcess) -> None:
    field_bytes = (MAX_HEADER_BYTES - 4096) // (MAX_HEADER_COUNT - 2)
    fields = b"".join(
        b"X-Field-%d: %s\r\n" % (n, b"a" * (field_bytes - 20)) for n in range(MAX_HEADER_COUNT - 2)
    )
    with connect(server) as connection:
        connection.sendall(
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + fields + b"\r\n"
        )
        reply = answer(connection)

    assert reply.startswith(b"HTTP/1.1 200 OK\r\n"), reply[:100]


@pytest.mark.parametrize(
    "request_head",
    [
        b"",  # connected, said nothing
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",  # slowloris
        # the body never comes (R.U.D.Y.)
        b"POST /todos HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{",
    ],
    ids=["silent", "slow-headers", "slow-body"],
)
def test_a_slow_request_is_closed_after_its_timeout(
    server: ServerProcess, request_head: bytes
) -> None:
    with connect(server) as connection:
        started = time.monotonic()
        connection.sendall(request_head)
        reply = answer(connection)  # blocks until the server closes (TODO_*_TIMEOUT=1)
        waited = time.monotonic() - started

    assert reply == b""
    assert 0.9 <= waited < READ_TIMEOUT_SECONDS
    assert httpx.get(f"{server.base_url}/todos", timeout=5).json() == []
    assert_healthy(server)


def test_past_the_connection_cap_the_longest_waiting_connection_is_closed(
    tmp_path: Path,
) -> None:
    with todo_api_server(tmp_path, max_connections="10", header_timeout="60") as server:
        idle = [connect(server) for _ in range(10)]
        try:
            assert_healthy(server)  # the eleventh: the first idle one makes room
            assert answer(idle[0]) == b""
            for connection in idle[1:]:  # still open: a request on them is answered
                connection.setblocking(False)
                with pytest.raises(BlockingIOError):
                    connection.recv(1)
        finally:
            for connection in idle:
                connection.close()


def _open_files_limit(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


SLOWLORIS_CONNECTIONS = 300
SLOWLORIS_SECONDS = 30.0
OPEN_FILES_LIMIT = 256  # the audit's setting: fewer descriptors than attackers
HEALTH_DEADLINE_SECONDS = 1.0


def test_300_slowloris_connections_leave_health_answering_within_a_second(
    tmp_path: Path,
) -> None:
    """Each attacker sends a header line a second and never ends its request; when the server
    closes it, it connects again. Meanwhile a fresh client asks /health about once a second."""
    with todo_api_server(
        tmp_path, preexec_fn=lambda: _open_files_limit(OPEN_FILES_LIMIT)
    ) as server:
        host, port = server.base_url.removeprefix("http://").split(":")
        probes = asyncio.run(_attack_and_probe(host, int(port)))

    slow = [probe for probe in probes if probe[0] != 200 or probe[1] >= HEALTH_DEADLINE_SECONDS]
    assert len(probes) >= SLOWLORIS_SECONDS / 2
    assert slow == [], f"{len(slow)} of {len(probes)} probes failed or were slow: {slow[:5]}"


async def _attack_and_probe(host: str, port: int) -> list[tuple[int, float]]:
    deadline = time.monotonic() + SLOWLORIS_SECONDS

    async def attacker() -> None:
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                while time.monotonic() < deadline:
                    writer.write(b"X-Slow: 1\r\n")
                    await writer.drain()
                    # Pace the attack at a line a second; a closed connection ends the wait.
                    try:
                        if await asyncio.wait_for(reader.read(1), timeout=1.0) == b"":
                            break
                    except TimeoutError:
                        continue
                writer.close()
            except OSError:
                continue  # refused or reset: connect again

    async def probe() -> tuple[int, float]:
        started = time.monotonic()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
            writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            status_line = await asyncio.wait_for(reader.readline(), 5)
            writer.close()
        except (OSError, TimeoutError):
            return (0, time.monotonic() - started)
        parts = status_line.split()
        return (int(parts[1]) if len(parts) > 1 else 0, time.monotonic() - started)

    attackers = [asyncio.create_task(attacker()) for _ in range(SLOWLORIS_CONNECTIONS)]
    probes = []
    while time.monotonic() < deadline:
        probes.append(await probe())
        await asyncio.sleep(1.0)  # the probe's pace, not a wait for the server
    await asyncio.gather(*attackers)
    return probes
