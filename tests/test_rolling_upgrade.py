"""The rolling upgrade, played as Kubernetes plays it, with zero failed requests (issue 12's proof;
docs/deploy.md, "Upgrades and rollbacks").

Three containers of version N (the repository's Dockerfile) serve one PostgreSQL database of the
test's own behind a real nginx (tests/load_balancer.py), while client threads write and read
through it. Version N+1 is N plus one *expand* migration the test writes (a nullable column N
never reads). Each N container in turn is replaced as a Deployment with `maxSurge: 1,
maxUnavailable: 0` does: start an N+1 container, wait for its /ready, add it to the upstream,
take the old one out (nginx reload, returning once no old worker is left: the preStop pause),
then SIGTERM it and let it drain. After each step every serving container still answers /ready,
as the kubelet's probe would ask: the first N+1 container migrates the schema past what N knows.

Passes when every request of the load got the answer it expects (no 5xx, no reset, no timeout),
every acknowledged write reads back through the API, the database is at N+1's revision, and the
migration ran once (its log line, in exactly one container's logs).

The clients open a connection per request: nginx's reload closes idle keepalive connections of
its old workers, a race (request sent as the connection closes) that RFC 9112 leaves to the
client to retry and that is nginx's, not the service's. Load balancers of clusters change their
endpoints without closing client connections.

The containers use the host's network, each server bound to a loopback port of its own, so they
reach PostgreSQL at 127.0.0.1:5432 as the test does.
"""

import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from container_http import http
from container_image import DOCKER, HARDENED, build_image
from load_balancer import Nginx
from postgres_support import POSTGRES_SECRET_KEY, PostgresDatabases
from support import SERVER_LOGS, free_port, poll_until, register_account
from todo_api.db import create_engine
from todo_api.migrate import head_revision

pytestmark = [pytest.mark.container, pytest.mark.postgres]

IMAGE_N = "todo-api:rolling-upgrade-n"
IMAGE_N1 = "todo-api:rolling-upgrade-n1"
REPLICAS = 3
LOAD_THREADS = 4
ACCOUNTS = 2  # two threads per account: each account's writes interleave
NEW_REVISION = "rolling_upgrade_0001"
NEW_COLUMN = "rolling_upgrade_note"
MIGRATION_LOG = "rolling-upgrade test migration applied"
READY_TIMEOUT_SECONDS = 60
PROBE_TIMEOUT_SECONDS = 3  # the readiness probe's timeoutSeconds in deploy/k8s
PROGRESS_TIMEOUT_SECONDS = 30
PROGRESS_WRITES = 25  # acknowledged writes awaited between two steps: the load runs throughout
DRAIN_SECONDS = 30  # docker stop's grace: SIGTERM, then SIGKILL only after this
REQUEST_TIMEOUT_SECONDS = 10.0
COMMAND_TIMEOUT_SECONDS = 120

MIGRATION = f'''"""The rolling-upgrade test's expand migration: a column version N never reads."""

import logging

import sqlalchemy as sa
from alembic import op

revision = "{NEW_REVISION}"
down_revision = "{head_revision()}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    logging.getLogger("todo_api.migrations").info("{MIGRATION_LOG}")
    op.add_column("todos", sa.Column("{NEW_COLUMN}", sa.String(80), nullable=True))


def downgrade() -> None:
    op.drop_column("todos", "{NEW_COLUMN}")
'''


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [DOCKER, *args],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(f"docker {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Version N (the repository's Dockerfile; BuildKit's cache makes it the image
    tests/test_container.py built) and N+1 (N with the extra migration among its own)."""
    build_image(IMAGE_N)
    migrations = docker(
        "run", "--rm", "--entrypoint", "python", IMAGE_N, "-c",
        "import todo_api.migrations.versions as v; print(v.__path__[0])",
    ).stdout.strip()  # fmt: skip
    context = tmp_path_factory.mktemp("n-plus-1")
    (context / f"{NEW_REVISION}.py").write_text(MIGRATION)
    (context / "Dockerfile").write_text(
        f"FROM {IMAGE_N}\nCOPY {NEW_REVISION}.py {migrations}/{NEW_REVISION}.py\n"
    )
    build_image(IMAGE_N1, context)
    yield IMAGE_N, IMAGE_N1
    docker("rmi", IMAGE_N1, IMAGE_N, check=False)


@dataclass
class Replica:
    """One container of the image, serving on 127.0.0.1:`port` of the host's network."""

    name: str
    image: str
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.address}"

    def running(self) -> bool:
        state = docker("inspect", "-f", "{{.State.Running}}", self.name, check=False)
        return state.stdout.strip() == "true"

    def is_ready(self) -> bool:
        """/ready answers 200 (as a readiness probe asks); fails if the container exited."""
        if not self.running():
            pytest.fail(f"{self.name} exited:\n{self.logs()[-3000:]}")
        try:
            return http("GET", f"{self.base_url}/ready", timeout=PROBE_TIMEOUT_SECONDS)[0] == 200
        except OSError:
            return False

    def logs(self) -> str:
        logs = docker("logs", self.name, check=False)
        return logs.stdout + logs.stderr

    def drain(self) -> tuple[int, float]:
        """SIGTERM and wait for the graceful exit: its exit code and how long it took."""
        started = time.monotonic()
        docker("stop", "--time", str(DRAIN_SECONDS), self.name)
        code = int(docker("inspect", "-f", "{{.State.ExitCode}}", self.name).stdout.strip())
        return code, time.monotonic() - started


@dataclass
class Fleet:
    """The test's containers, all removed at the end (their logs kept for the secrets check)."""

    database_url: str
    replicas: list[Replica] = field(default_factory=list)

    def start(self, image: str) -> Replica:
        replica = Replica(f"todo-api-rolling-{uuid.uuid4().hex[:10]}", image, free_port())
        self.replicas.append(replica)
        docker(
            "run", "-d", "--name", replica.name, "--network", "host",
            *HARDENED,  # as the pod runs: read-only root, no capabilities
            "-e", f"TODO_DATABASE_URL={self.database_url}",
            "-e", f"TODO_SECRET_KEY={POSTGRES_SECRET_KEY}",
            "-e", "TODO_HOST=127.0.0.1", "-e", f"TODO_PORT={replica.port}",
            "-e", "TODO_FORWARDED_ALLOW_IPS=127.0.0.1",
            # The load is a few users as fast as they can go; rate limits are about abuse.
            "-e", "TODO_RATE_LIMIT=off",
            image, "serve",
        )  # fmt: skip
        return replica

    def log_lines_about(self, failures: list[str]) -> str:
        """The containers' log lines naming a request id quoted in `failures`."""
        ids = {word for failure in failures for word in failure.split() if len(word) == 32}
        # A traceback is one JSON line: its end says what failed.
        return "\n".join(
            f"{replica.name}: {line[:200]} … {line[-1500:]}"
            for replica in self.replicas
            for line in replica.logs().splitlines()
            if any(request_id in line for request_id in ids)
        )

    def remove_all(self) -> None:
        for replica in self.replicas:
            SERVER_LOGS.append(replica.logs())
            docker("rm", "--force", replica.name, check=False)


@pytest.fixture
def database_url(postgres: PostgresDatabases) -> Iterator[str]:
    """An empty database of the test's own: version N's first start migrates it."""
    url = postgres.create(migrated=False)
    yield url
    postgres.release(url, migrated=False)  # dropped


@pytest.fixture
def fleet(database_url: str) -> Iterator[Fleet]:
    fleet = Fleet(database_url)
    yield fleet
    fleet.remove_all()


@pytest.fixture
def nginx() -> Iterator[Nginx]:
    balancer = Nginx(free_port())
    yield balancer
    balancer.stop()
    shutil.rmtree(balancer.directory, ignore_errors=True)


@dataclass
class Write:
    account: int
    todo_id: int
    title: str


class Load:
    """Client threads through the load balancer until stopped, each in a loop: create a todo,
    read it back, and every few rounds list a page. Every answer other than the expected one,
    and every request that got no answer, is a failure."""

    def __init__(self, base_url: str, tokens: list[str]) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.sent = 0
        self.failures: list[str] = []
        self.writes: list[Write] = []
        self._threads = [
            threading.Thread(
                target=self._run, args=(base_url, number % len(tokens), tokens, number)
            )
            for number in range(LOAD_THREADS)
        ]

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exception: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def acknowledged(self) -> int:
        with self._lock:
            return len(self.writes)

    def _run(self, base_url: str, account: int, tokens: list[str], thread: int) -> None:
        headers = {"Authorization": f"Bearer {tokens[account]}", "Connection": "close"}
        with httpx.Client(
            base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS
        ) as client:
            round_ = 0
            while not self._stop.is_set():
                round_ += 1
                title = f"thread {thread} #{round_}"
                created = self._send(client, 201, "POST", "/todos", json={"title": title})
                if created is not None:
                    todo_id = created.json()["id"]
                    with self._lock:
                        self.writes.append(Write(account, todo_id, title))
                    read = self._send(client, 200, "GET", f"/todos/{todo_id}")
                    if read is not None and read.json()["title"] != title:
                        self._fail(f"GET /todos/{todo_id}: title {read.json()['title']!r}")
                if round_ % 5 == 0:
                    self._send(client, 200, "GET", "/todos", params={"limit": 20})

    def _send(
        self, client: httpx.Client, expected: int, method: str, path: str, **options: Any
    ) -> httpx.Response | None:
        with self._lock:
            self.sent += 1
        try:
            response = client.request(method, path, **options)
        except httpx.TransportError as error:
            self._fail(f"{method} {path}: {type(error).__name__}: {error}")
            return None
        if response.status_code != expected:
            request_id = response.headers.get("x-request-id", "")
            self._fail(
                f"{method} {path}: {response.status_code} {request_id} {response.text[:300]}"
            )
            return None
        return response

    def _fail(self, what: str) -> None:
        with self._lock:
            self.failures.append(what)


def listed_titles(base_url: str, token: str) -> dict[int, str]:
    """Every todo of the account, read through the API page by page."""
    titles: dict[int, str] = {}
    with httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=REQUEST_TIMEOUT_SECONDS,
    ) as client:
        response = client.get("/todos", params={"limit": 100})
        while True:
            assert response.status_code == 200, response.text
            titles.update({todo["id"]: todo["title"] for todo in response.json()})
            following = response.links.get("next")
            if following is None:
                return titles
            response = client.get(following["url"])


def schema_evidence(database_url: str) -> tuple[list[str], list[str]]:
    """alembic_version's rows, and the columns named NEW_COLUMN in `todos`."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            columns = connection.execute(
                sa.text(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_name = 'todos' AND column_name = :name"
                ),
                {"name": NEW_COLUMN},
            )
            return list(versions.scalars()), list(columns.scalars())
    finally:
        engine.dispose()


def test_replacing_every_replica_by_the_next_version_under_load_fails_no_request(
    images: tuple[str, str], fleet: Fleet, nginx: Nginx, database_url: str
) -> None:
    image_n, image_n1 = images
    started = time.monotonic()
    serving = [fleet.start(image_n) for _ in range(REPLICAS)]  # started together: one migrates
    for replica in serving:
        poll_until(replica.is_ready, READY_TIMEOUT_SECONDS, f"{replica.name} ready")
    nginx.start([replica.address for replica in serving])
    with httpx.Client(base_url=nginx.base_url, timeout=REQUEST_TIMEOUT_SECONDS) as client:
        tokens = [register_account(client, f"rolling-{number}").token for number in range(ACCOUNTS)]

    drains: list[tuple[int, float]] = []
    with Load(nginx.base_url, tokens) as load:

        def progressed() -> None:
            target = load.acknowledged() + PROGRESS_WRITES
            poll_until(
                lambda: load.acknowledged() >= target,
                PROGRESS_TIMEOUT_SECONDS,
                f"{PROGRESS_WRITES} more writes acknowledged through nginx",
            )

        progressed()
        for old in list(serving):
            new = fleet.start(image_n1)  # maxSurge: 1
            poll_until(new.is_ready, READY_TIMEOUT_SECONDS, f"{new.name} (N+1) ready")
            serving.append(new)
            nginx.route_to([replica.address for replica in serving])
            progressed()
            serving.remove(old)  # maxUnavailable: 0, and the endpoint goes before the drain
            nginx.route_to([replica.address for replica in serving])
            drains.append(old.drain())
            for replica in serving:  # the kubelet's readiness probe, N and N+1 alike
                assert replica.is_ready(), f"{replica.name} ({replica.image}) not ready"
            progressed()
    elapsed = time.monotonic() - started

    # Zero failed requests, and the load ran throughout.
    assert load.failures == [], (
        f"{len(load.failures)} of {load.sent}: {load.failures[:10]}\n"
        + fleet.log_lines_about(load.failures[:10])
    )
    assert len(load.writes) >= PROGRESS_WRITES * (1 + 2 * REPLICAS)
    # Each old container drained by itself on SIGTERM (no SIGKILL after DRAIN_SECONDS).
    assert [code for code, _seconds in drains] == [0] * REPLICAS, drains
    # Every acknowledged write reads back, through the API, as it was written.
    for account, token in enumerate(tokens):
        written = {w.todo_id: w.title for w in load.writes if w.account == account}
        assert listed_titles(nginx.base_url, token) == written
    # The migration: at N+1's revision, its column there, run by exactly one container.
    assert schema_evidence(database_url) == ([NEW_REVISION], [NEW_COLUMN])
    migrated_in = [r.name for r in fleet.replicas if MIGRATION_LOG in r.logs()]
    assert len(migrated_in) == 1, migrated_in
    # Through nginx: every request answered 2xx, each container served some, none was retried
    # on another server (no request ever reached a stopped one).
    lines = nginx.access_lines()
    assert {line.status // 100 for line in lines} == {2}
    served_by = {line.upstreams[-1] for line in lines}
    assert served_by == {replica.address for replica in fleet.replicas}
    retried = [line for line in lines if len(line.upstreams) > 1]
    assert retried == []
    print(
        f"\nrolling upgrade: {load.sent} requests, {len(load.failures)} failed,"
        f" {len(load.writes)} writes verified, {len(lines)} through nginx,"
        f" drains {[round(seconds, 2) for _code, seconds in drains]} s, {elapsed:.1f} s"
    )
