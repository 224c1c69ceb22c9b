"""`python -m bench.inprocess`: CPU time per request, with the ASGI app called directly.

wrk on a shared two-core machine cannot see a 10 µs difference; this can. The app is built as
`todo-api serve` builds it (`create_served_app`, so start-up objects are frozen), its lifespan
is run, and a driver loop calls it with scopes shaped like uvicorn's (httptools): no sockets,
no HTTP parsing, nothing but the app. Each workload runs one request at a time ("lone") and
`--concurrency` at a time (as wrk's 32 connections do: writes then share group commits). The
figure is process CPU time per request, which other load on the machine disturbs less than
wall time; the median of `--rounds` rounds is reported, with the spread.

Both accounts modes are measured, in one process: anonymous (TODO_AUTH=disabled) and with a
bearer token on every request (TODO_AUTH=required, a user and token made through the API).
With `--database-url postgresql://…` (a server's URL, e.g. its `postgres` database) the app
serves from PostgreSQL instead: each mode gets a new database there, dropped at the end. The
figure is then this process's CPU only (the server's is not in it), and the wall time per
request, shown beside it, says what the round trips cost.
`--profile WORKLOAD` prints a cProfile of that workload instead, and `--layers WORKLOAD` the CPU
cost of each middleware of the edge (both authenticated unless `--anonymous`). See
docs/performance.md, "Measuring in-process".
"""

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import orjson

Message = dict[str, Any]
App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]

HOST = b"127.0.0.1:8000"
SEED_COUNT = 300
PAGE_SIZE = 50
USERNAME = "bench"
PASSWORD = "a throwaway passphrase for wrk runs"  # noqa: S105  (a throwaway database)
WORKLOADS = ("get_one", "post", "page")
ANONYMOUS, AUTHENTICATED = "anonymous", "authenticated"


class Driver:
    """Calls one app the way uvicorn would, with a started lifespan."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.headers: list[tuple[bytes, bytes]] = []
        self._lifespan: asyncio.Task[None] | None = None
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()

    async def start(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        self._lifespan = asyncio.create_task(
            self.app(scope, self._to_app.get, self._from_app.put)  # type: ignore[arg-type]
        )
        await self._to_app.put({"type": "lifespan.startup"})
        message = await self._from_app.get()
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"start-up failed: {message}")

    async def stop(self) -> None:
        await self._to_app.put({"type": "lifespan.shutdown"})
        await self._from_app.get()
        if self._lifespan is not None:
            await self._lifespan

    async def request(
        self, method: str, path: str, body: bytes = b"", query: bytes = b""
    ) -> tuple[int, bytes]:
        headers = [
            (b"host", HOST),
            (b"user-agent", b"wrk"),
            (b"accept", b"*/*"),
            *self.headers,
        ]
        if body:
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 50000),
            "scheme": "http",
            "method": method,
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "headers": headers,
            "state": self.state.copy(),  # uvicorn gives each request a shallow copy
        }
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # a disconnect never comes
            raise AssertionError

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)


async def _expect(driver: Driver, status: int, *args: Any) -> Any:
    got, body = await driver.request(*args)
    if got != status:
        raise RuntimeError(f"{args[:2]} answered {got}, expected {status}: {body[:300]!r}")
    return orjson.loads(body) if body else None


async def _prepare(driver: Driver, authenticated: bool) -> int:
    """Make the user and token (when authenticated) and seed todos; the id GET one asks for."""
    if authenticated:
        credentials = orjson.dumps({"username": USERNAME, "password": PASSWORD})
        await _expect(driver, 201, "POST", "/users", credentials)
        token = (await _expect(driver, 201, "POST", "/tokens", credentials))["token"]
        driver.headers = [(b"authorization", f"Bearer {token}".encode())]
    ids = []
    for number in range(SEED_COUNT):
        body = orjson.dumps({"title": f"seeded todo {number}"})
        ids.append((await _expect(driver, 201, "POST", "/todos", body))["id"])
    return int(ids[len(ids) // 2])


async def _check(driver: Driver, status: int, *args: Any) -> None:
    """A measured request: its status is checked, its body dropped (as a client would)."""
    got, body = await driver.request(*args)
    if got != status:
        raise RuntimeError(f"{args[:2]} answered {got}, expected {status}: {body[:300]!r}")


def _workload(name: str, driver: Driver, probe: int) -> Callable[[], Awaitable[None]]:
    if name == "get_one":
        path = f"/todos/{probe}"
        return lambda: _check(driver, 200, "GET", path)
    if name == "post":
        body = b'{"title": "buy milk"}'
        return lambda: _check(driver, 201, "POST", "/todos", body)
    query = f"limit={PAGE_SIZE}".encode()
    return lambda: _check(driver, 200, "GET", "/todos", b"", query)


async def _cpu_per_request(
    call: Callable[[], Awaitable[Any]], requests: int, concurrency: int
) -> tuple[float, float]:
    """(CPU µs, wall µs) per request, for `requests` requests `concurrency` at a time."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(requests // concurrency):
        if concurrency == 1:
            await call()
        else:
            await asyncio.gather(*(call() for _ in range(concurrency)))
    done = requests // concurrency * concurrency
    return (
        (time.process_time() - cpu) / done * 1e6,
        (time.perf_counter() - wall) / done * 1e6,
    )


async def _app(
    authenticated: bool, directory: Path, exits: AsyncExitStack, server_url: str | None = None
) -> tuple[Driver, int]:
    os.environ.setdefault("TODO_LOG_LEVEL", "warning")
    from todo_api import app as app_module
    from todo_api.config import Settings

    create = getattr(app_module, "create_served_app", None) or app_module.create_app  # older trees

    if server_url is None:
        database_url = f"sqlite:///{directory / ('auth' if authenticated else 'anon')}.db"
    else:
        from bench.postgres import bench_database

        created = exits.enter_context(bench_database(server_url))
        if created is None:
            raise SystemExit(f"no PostgreSQL answers at {server_url}")
        database_url = created
    wanted: dict[str, Any] = {
        "database_url": database_url,
        "access_log": False,
        "auth": "required" if authenticated else "disabled",
        # As the bench: on, so it costs, but out of reach (BENCH_RATE_LIMIT=off to leave it out).
        "rate_limit": os.environ.get("BENCH_RATE_LIMIT", "1000000000/minute"),
    }
    if server_url is not None:  # a server database needs a key shared by every replica
        wanted["secret_key"] = "inprocess-" + "k" * 40
    fields = Settings.model_fields
    settings = Settings(**{k: v for k, v in wanted.items() if k in fields})  # older trees too
    driver = Driver(create(settings))
    await driver.start()
    exits.push_async_callback(driver.stop)  # before the database is dropped
    probe = await _prepare(driver, authenticated)
    return driver, probe


async def _measure(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="todo-inprocess-") as scratch:
        exits = AsyncExitStack()
        modes = [(name, name == AUTHENTICATED) for name in args.modes]
        async with exits:
            drivers = {
                name: await _app(auth, Path(scratch), exits, args.database_url)
                for name, auth in modes
            }
            results = await _rounds(args, modes, drivers)
    _print_table(args, modes, results)


Results = dict[tuple[str, str, int], list[tuple[float, float]]]


async def _rounds(
    args: argparse.Namespace, modes: list[tuple[str, bool]], drivers: dict[str, tuple[Driver, int]]
) -> Results:
    results: dict[tuple[str, str, int], list[tuple[float, float]]] = {}
    for workload in args.workloads:
        for concurrency in (1, args.concurrency):
            calls = {name: _workload(workload, *drivers[name]) for name, _ in modes}
            for call in calls.values():  # warm up
                await _cpu_per_request(call, args.requests // 4, concurrency)
            for _ in range(args.rounds):  # alternate the modes, round by round
                for name, call in calls.items():
                    figure = await _cpu_per_request(call, args.requests, concurrency)
                    results.setdefault((workload, name, concurrency), []).append(figure)
    return results


def _print_table(args: argparse.Namespace, modes: list[tuple[str, bool]], results: Results) -> None:
    print(f"CPU µs per request, median of {args.rounds} rounds of {args.requests} [min-max]")
    with_wall = args.database_url is not None
    if with_wall:
        print("(PostgreSQL: this process's CPU only; 'wall' is the median wall time per request)")
    width = 30 if with_wall else 20
    print(
        f"{'workload':<9} {'mode':<14} {'lone':>{width}} {f'{args.concurrency} at a time':>{width}}"
    )
    for workload in args.workloads:
        for name, _ in modes:
            cells = []
            for concurrency in (1, args.concurrency):
                figures = results[(workload, name, concurrency)]
                cpu = [c for c, _w in figures]
                cell = f"{statistics.median(cpu):6.1f} [{min(cpu):.0f}-{max(cpu):.0f}]"
                if with_wall:
                    cell += f" wall {statistics.median(w for _c, w in figures):6.1f}"
                cells.append(cell)
            print(f"{workload:<9} {name:<14} {cells[0]:>{width}} {cells[1]:>{width}}")


async def _profile(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="todo-inprocess-") as scratch:
        async with AsyncExitStack() as exits:
            driver, probe = await _app(not args.anonymous, Path(scratch), exits, args.database_url)
            call = _workload(args.profile, driver, probe)
            await _cpu_per_request(call, args.requests // 4, args.profile_concurrency)
            profiler = cProfile.Profile()
            profiler.enable()
            await _cpu_per_request(call, args.requests, args.profile_concurrency)
            profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats(args.sort).print_stats(args.lines)
    if args.callers:
        stats.print_callers(args.callers)
    print(out.getvalue())


async def _layers(args: argparse.Namespace) -> None:
    """The edge priced layer by layer: the stack entered at each middleware in turn."""
    from todo_api.deps import CALLER_SCOPE_KEY

    with tempfile.TemporaryDirectory(prefix="todo-inprocess-") as scratch:
        exits = AsyncExitStack()
        authenticated = not args.anonymous
        driver, probe = await _app(authenticated, Path(scratch), exits, args.database_url)
        served = driver.app
        fastapi_app: Any = served
        while not hasattr(fastapi_app, "middleware_stack"):  # under the gc.freeze wrapper
            fastapi_app = fastapi_app.app
        stack: list[Any] = []
        layer = fastapi_app.middleware_stack
        while type(layer).__name__ not in _FRAMEWORK_INSIDE:
            stack.append(layer)
            layer = layer.app
        # Below authentication, the caller it would have resolved is put in the scope.
        callers = [entry.caller for entry in fastapi_app.state.token_cache._entries.values()]
        from todo_api.authentication import LOCAL_CALLER

        caller = callers[0] if authenticated and callers else LOCAL_CALLER
        figures = []
        for index, entry in enumerate(stack):
            below_authentication = any(
                type(outer).__name__ == "AuthenticationMiddleware" for outer in stack[:index]
            )

            async def entered(scope: Any, receive: Any, send: Any, entry: Any = entry) -> None:
                scope[CALLER_SCOPE_KEY] = caller
                await entry(scope, receive, send)

            driver.app = entered if below_authentication else entry
            call = _workload(args.layers, driver, probe)
            await _cpu_per_request(call, args.requests // 4, 1)
            rounds = [(await _cpu_per_request(call, args.requests, 1))[0] for _ in range(5)]
            figures.append((type(entry).__name__, min(rounds)))
        driver.app = served
        await exits.aclose()
    mode = "authenticated" if authenticated else "anonymous"
    print(f"{args.layers} ({mode}): CPU µs per lone request entering at each layer (best of 5)")
    for index, (name, figure) in enumerate(figures):
        below = figures[index + 1][1] if index + 1 < len(figures) else None
        cost = f"{figure - below:6.1f}" if below is not None else "  (the lane or router and below)"
        print(f"  {name:<32} {figure:7.1f} {cost}")


# FastAPI's innermost layers: the routes' exception handlers and the router itself.
_FRAMEWORK_INSIDE = ("ExceptionMiddleware", "AsyncExitStackMiddleware", "Router")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=7, help="default 7")
    parser.add_argument("--concurrency", type=int, default=32, help="default 32, as wrk's -c32")
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument(
        "--modes", nargs="+", choices=(ANONYMOUS, AUTHENTICATED), default=[ANONYMOUS, AUTHENTICATED]
    )
    parser.add_argument("--profile", choices=WORKLOADS, help="print a cProfile instead")
    parser.add_argument(
        "--layers", choices=WORKLOADS, help="price each layer of the edge for this workload"
    )
    parser.add_argument(
        "--anonymous", action="store_true", help="--profile, --layers: with TODO_AUTH=disabled"
    )
    parser.add_argument("--profile-concurrency", type=int, default=1)
    parser.add_argument(
        "--callers", metavar="PATTERN", help="--profile: also who calls the functions matching it"
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="a PostgreSQL server (e.g. postgresql://postgres@127.0.0.1:5432/postgres): serve"
        " from a new database there instead of SQLite",
    )
    parser.add_argument("--sort", default="tottime", help="pstats sort key (default tottime)")
    parser.add_argument("--lines", type=int, default=45)
    args = parser.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        runner: Callable[[Any], Any] = asyncio.run
    else:
        runner = uvloop.run
    if args.layers:
        runner(_layers(args))
    else:
        runner(_profile(args) if args.profile else _measure(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
