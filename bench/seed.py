"""Filling servers with todos over HTTP, so reads hit real rows and the tutorial scans a list."""

import http.client
import json

from bench.servers import HOST, Contender

SEED_COUNT = 300
SEED_TIMEOUT_SECONDS = 10.0


class SeedError(RuntimeError):
    """The server refused or mangled a todo we created."""


def seed_todos(contender: Contender, count: int = SEED_COUNT) -> list[int]:
    """POST `count` todos over one keep-alive connection; return their ids in creation order."""
    connection = http.client.HTTPConnection(HOST, contender.port, timeout=SEED_TIMEOUT_SECONDS)
    headers = {"Content-Type": "application/json"}
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
