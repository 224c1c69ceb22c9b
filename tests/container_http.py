"""HTTP from the test process to a served container: plain urllib, as a user's script would.

Shared by tests/test_container.py and tests/test_deploy_container.py.
"""

import json
import urllib.error
import urllib.request
from typing import Any


def http(
    method: str,
    url: str,
    body: Any = None,
    timeout: float = 5,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def account_headers(base: str, username: str = "ada") -> dict[str, str]:
    """Register on the served API (TODO_AUTH=required is the image's default) and make a
    token, as a new user would: the headers that authenticate as that user."""
    credentials = {"username": username, "password": "a container test passphrase"}
    status, created = http("POST", f"{base}/users", credentials)
    assert status == 201, created
    status, issued = http("POST", f"{base}/tokens", credentials)
    assert status == 201, issued
    return {"Authorization": f"Bearer {issued['token']}"}
