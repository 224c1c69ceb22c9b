"""ETags: 304 on If-None-Match, 412 on a stale If-Match, 428 when required, one winner in a race."""

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from support import API_BASE_URL, TEMPLATE_AUTH, todo_api_server
from todo_api.app import create_app
from todo_api.config import Settings
from todo_api.etags import if_none_match_names, parse_if_match


@pytest.fixture
def todo(client: TestClient) -> dict[str, str]:
    response = client.post("/todos", json={"title": "x"})
    return {"url": f"/todos/{response.json()['id']}", "etag": response.headers["etag"]}


def test_etag_changes_with_every_write(client: TestClient, todo: dict[str, str]) -> None:
    assert todo["etag"] == '"1"'
    after = client.patch(todo["url"], json={"title": "y"})
    assert after.headers["etag"] == '"2"'
    assert client.get(todo["url"]).headers["etag"] == '"2"'


def test_if_none_match_gives_304_until_it_changes(client: TestClient, todo: dict[str, str]) -> None:
    response = client.get(todo["url"], headers={"If-None-Match": todo["etag"]})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == todo["etag"]
    weak = client.get(todo["url"], headers={"If-None-Match": f'W/{todo["etag"]}, "9"'})
    assert weak.status_code == 304
    client.patch(todo["url"], json={"title": "changed"})
    assert client.get(todo["url"], headers={"If-None-Match": todo["etag"]}).status_code == 200


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_stale_if_match_is_412_and_changes_nothing(
    client: TestClient, todo: dict[str, str], method: str
) -> None:
    client.patch(todo["url"], json={"title": "someone else"})
    response = client.request(
        method, todo["url"], json={"title": "mine"}, headers={"If-Match": todo["etag"]}
    )
    assert response.status_code == 412
    assert response.headers["content-type"] == "application/problem+json"
    assert client.get(todo["url"]).json()["title"] == "someone else"


@pytest.mark.parametrize("if_match", ['"1"', '"7", "1"', "*"])
def test_current_if_match_succeeds(client: TestClient, todo: dict[str, str], if_match: str) -> None:
    response = client.patch(todo["url"], json={"title": "ok"}, headers={"If-Match": if_match})
    assert response.status_code == 200


def test_weak_if_match_never_matches(client: TestClient, todo: dict[str, str]) -> None:
    response = client.patch(todo["url"], json={"title": "x"}, headers={"If-Match": 'W/"1"'})
    assert response.status_code == 412


def test_lists_have_etags_too(client: TestClient) -> None:
    created = client.post("/lists", json={"name": "l"})
    url = f"/lists/{created.json()['id']}"
    assert client.get(url, headers={"If-None-Match": created.headers["etag"]}).status_code == 304
    client.patch(url, json={"name": "m"})
    stale = client.patch(url, json={"name": "n"}, headers={"If-Match": created.headers["etag"]})
    assert stale.status_code == 412


@pytest.fixture
def strict_client(database_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, require_if_match=True)
    with TestClient(create_app(settings), base_url=API_BASE_URL, headers=TEMPLATE_AUTH) as c:
        yield c


@pytest.mark.parametrize(("method", "success"), [("PUT", 200), ("PATCH", 200), ("DELETE", 204)])
def test_required_if_match_missing_is_428(
    strict_client: TestClient, method: str, success: int
) -> None:
    created = strict_client.post("/todos", json={"title": "x"})
    url = f"/todos/{created.json()['id']}"
    response = strict_client.request(method, url, json={"title": "y"})
    assert response.status_code == 428
    assert strict_client.get(url).json()["title"] == "x"
    ok = strict_client.request(
        method, url, json={"title": "y"}, headers={"If-Match": created.headers["etag"]}
    )
    assert ok.status_code == success


@pytest.mark.slow
def test_two_writers_with_the_same_if_match_exactly_one_wins(tmp_path: Path) -> None:
    """Two worker processes, many rounds: each round exactly one conditional write succeeds."""
    with todo_api_server(tmp_path, workers="2", access_log="false") as server:
        created = httpx.post(f"{server.base_url}/todos", json={"title": "race"})
        url = created.headers["location"]
        for round_number in range(15):
            etag = httpx.get(url).headers["etag"]
            barrier = threading.Barrier(2)
            statuses: list[int] = []

            def write(
                writer: int,
                etag: str = etag,
                barrier: threading.Barrier = barrier,
                statuses: list[int] = statuses,
            ) -> None:
                barrier.wait()
                response = httpx.patch(
                    url, json={"title": f"writer {writer}"}, headers={"If-Match": etag}
                )
                statuses.append(response.status_code)

            threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            assert sorted(statuses) == [200, 412], f"round {round_number}: {statuses}"
        assert httpx.get(url).headers["etag"] == '"16"'


@pytest.mark.parametrize(
    ("header", "names_version_7"),
    [('"7"', True), ('W/"7"', True), ('"3", "7"', True), ("*", True), ('"8"', False), ("7", False)],
)
def test_if_none_match_names_a_version_weakly(header: str, names_version_7: bool) -> None:
    assert if_none_match_names(header, 7) is names_version_7


@pytest.mark.parametrize(
    ("header", "allowed"),
    [('"7"', {7}), ('"7", "9"', {7, 9}), ('W/"7"', set()), ('"x"', set()), ('"7", *', "any")],
)
def test_if_match_allows_only_strong_versions_or_any(header: str, allowed: set[int] | str) -> None:
    condition = parse_if_match(header)

    assert condition.any_version is (allowed == "any")
    assert condition.versions == (frozenset() if allowed == "any" else allowed)


_HUGE_VERSION = '"' + "9" * 5000 + '"'  # past Python's 4,300-digit limit on int()


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_if_match_with_thousands_of_digits_is_412(
    client: TestClient, todo: dict[str, str], method: str
) -> None:
    response = client.request(
        method, todo["url"], json={"title": "mine"}, headers={"If-Match": _HUGE_VERSION}
    )

    assert response.status_code == 412
    assert client.get(todo["url"]).json()["title"] == "x"


@pytest.mark.parametrize("path", ["/todos/{id}", "/todos/{id}?via=fastapi"])
def test_if_none_match_with_thousands_of_digits_is_200(
    client: TestClient, todo: dict[str, str], path: str
) -> None:
    url = path.format(id=todo["url"].rsplit("/", 1)[1])
    assert client.get(url, headers={"If-None-Match": _HUGE_VERSION}).status_code == 200
    both = f"{_HUGE_VERSION}, {todo['etag']}"
    assert client.get(url, headers={"If-None-Match": both}).status_code == 304


@pytest.mark.parametrize("tag", ['"9223372036854775808"', '"²"', '"٣"'])
def test_tags_naming_no_storable_version_name_none(tag: str) -> None:
    assert parse_if_match(tag).versions == frozenset()
    assert if_none_match_names(tag, 3) is False
