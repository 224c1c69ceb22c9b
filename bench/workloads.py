"""The three requests the benchmark drives, and the throughput targets todo-api must meet."""

from dataclasses import dataclass, field

from bench.contenders import ANONYMOUS, FLOOR, TUTORIAL
from bench.sample import PAGE_SIZE

POST_BODY = '{"title": "buy milk"}'


@dataclass(frozen=True)
class Workload:
    key: str
    label: str
    path: str  # may contain `{todo_id}`: an id the contender really holds
    post_body: str | None = None
    # Minimum req/s of todo-api over a reference's, per reference name; empty = report only.
    targets: dict[str, float] = field(default_factory=dict)
    # Minimum req/s of todo-api on PostgreSQL over todo-api on SQLite in the same run (the
    # database server shares the CPUs); None = report only.
    postgres_target: float | None = None

    @property
    def request(self) -> str:
        return f"{'POST' if self.post_body else 'GET'} {self.path}"

    def path_for(self, todo_id: int) -> str:
        return self.path.format(todo_id=todo_id)


WORKLOADS = (
    Workload(
        key="get_one",
        label="GET one todo",
        path="/todos/{todo_id}",
        # ANONYMOUS: authentication (a cached token check) costs at most a tenth.
        targets={FLOOR: 0.7, TUTORIAL: 3.0, ANONYMOUS: 0.9},
        postgres_target=0.6,
    ),
    Workload(
        key="post",
        label="POST a todo",
        path="/todos",
        post_body=POST_BODY,
        targets={FLOOR: 0.5, TUTORIAL: 2.5, ANONYMOUS: 0.9},
        postgres_target=0.5,
    ),
    Workload(key="page", label=f"GET a page of {PAGE_SIZE}", path=f"/todos?limit={PAGE_SIZE}"),
)
