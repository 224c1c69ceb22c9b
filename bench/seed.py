"""Filling servers with todos over HTTP, so reads hit real rows and the tutorial scans a list."""

import http.client
import json

from bench.servers import HOST, Contender

SEED_COUNT = 300
SEED_TIMEOUT_SECONDS = 10.0


class SeedError(RuntimeError):
    """The server refused or mangled a todo we created."""


BENCH_USERNAME = "bench"
BENCH_PASSWORD = "a throwaway passphrase for wrk runs"  # noqa: S105  (a throwaway local server; it may not contain the username)


def account_headers(contender: Contender) -> dict[str, str]:
    """Register a user and make a token (POST /users, POST /tokens), as a client would; the
    headers that authenticate as it. Empty for a contender without accounts."""
    if not contender.needs_account:
        return {}
    credentials = {"username": BENCH_USERNAME, "password": BENCH_PASSWORD}
    _post(contender, "/users", credentials, {})
    token = _post(contender, "/tokens", credentials, {})["token"]
    return {"Authorization": f"Bearer {token}"}


def _post(
    contender: Contender, path: str, body: dict[str, str], headers: dict[str, str]
) -> dict[str, str]:
    connection = http.client.HTTPConnection(HOST, contender.port, timeout=SEED_TIMEOUT_SECONDS)
    try:
        connection.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={**headers, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    if response.status != http.HTTPStatus.CREATED:
        raise SeedError(
            f"{contender.name}: POST {path} answered {response.status}: {payload[:200]!r}"
        )
    answer: dict[str, str] = json.loads(payload)
    return answer


def seed_todos(
    contender: Contender, count: int = SEED_COUNT, auth: dict[str, str] | None = None
) -> list[int]:
    """POST `count` todos over one keep-alive connection; return their ids in creation order."""
    connection = http.client.HTTPConnection(HOST, contender.port, timeout=SEED_TIMEOUT_SECONDS)
    headers = {"Content-Type": "application/json", **(auth or {})}
    ids = []
    try:
        for number in range(1, count + 1):
            body = json.dumps({"title": f"seeded todo {number}"})
            connection.request("POST", "/todos", body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            if response.status != http.HTTPStatus.CREATED:
                raise SeedError(
                    f"{contender.name}: POST /todos answered {response.status}: {payload[:200]!r}"
                )
            ids.append(int(json.loads(payload)["id"]))
    finally:
        connection.close()
    return ids


def probe_id(ids: list[int]) -> int:
    """The id GET-one asks for: the middle one, so the tutorial's linear scan is not a best case."""
    return ids[len(ids) // 2]
