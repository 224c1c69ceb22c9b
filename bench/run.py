"""`python -m bench.run` (`make bench`): todo-api's throughput against reference servers.

Each workload drives every contender in turn, round after round, rotating who goes first, so
slow drifts of a shared, noisy machine land on all of them alike. See docs/performance.md.
"""

import argparse
import json
import os
import platform
import sqlite3
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import contenders
from bench.postgres import bench_database
from bench.report import ContenderRuns, failures, render, summarise
from bench.scale import ScaleError, scale_check
from bench.seed import SeedError, account_headers, probe_id, seed_todos
from bench.servers import Server, ServerError
from bench.workloads import WORKLOADS, Workload
from bench.wrk import (
    INSTALL_HINT,
    WrkError,
    WrkResult,
    run_wrk,
    write_post_script,
    wrk_available,
)

CONNECTIONS = 32
THREADS = 1
WARMUP_SECONDS = 1
DEFAULT_ROUNDS = 5
DEFAULT_DURATION_SECONDS = 3
UNSEEDED_TODO_ID = 1  # the in-memory references answer any id
# A 1-minute load average above this before we start means other work is competing for the CPUs.
BUSY_LOAD_AVERAGE = 0.5
SCALE_ROUNDS = 5
SCALE_QUICK_ROUNDS = 1


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 1 when the run could not be trusted (errors, crashes); a missed target is only shown."""
    args = _parse_args(argv)
    status = 0 if args.scale_only else _throughput(args)
    if args.scale and status in (0, 1):
        status = max(status, _scale(args))
    return status


def _scale(args: argparse.Namespace) -> int:
    """A page at 1 000 vs 1 000 000 todos (bench/scale.py); a FAIL is reported, not an error."""
    print("\nbench: scale check", flush=True)
    try:
        scale_check(rounds=SCALE_QUICK_ROUNDS if args.quick else SCALE_ROUNDS)
    except (ScaleError, sqlite3.Error, OSError) as error:
        print(f"\nbench: scale check FAILED: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbench: interrupted", file=sys.stderr)
        return 130
    return 0


def _throughput(args: argparse.Namespace) -> int:
    """The wrk part: every workload against every contender."""
    if not wrk_available():
        print(f"bench: {INSTALL_HINT}", file=sys.stderr)
        return 1
    _announce(args)
    load_before = os.getloadavg()[0]
    if load_before > BUSY_LOAD_AVERAGE:
        print(
            f"bench: WARNING: load average {load_before:.2f} before start; other work is"
            " sharing the CPUs, expect noisy numbers",
            flush=True,
        )
    try:
        summaries = _benchmark(args.rounds, args.duration, args.only, args.todo_workers)
    except (ServerError, SeedError, WrkError) as error:
        print(f"\nbench: FAILED: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the servers are already stopped by then
        print("\nbench: interrupted", file=sys.stderr)
        return 130
    load_after = os.getloadavg()[0]
    for summary in summaries:
        print(f"\n{render(summary)}")
    print(f"\nload average (1 min): {load_before:.2f} before, {load_after:.2f} after")
    if args.json:
        document = _document(args, summaries, (load_before, load_after))
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"\nresults written to {args.json}")
    problems = failures(summaries)
    for problem in problems:
        print(f"bench: FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument(
        "--rounds", type=int, default=DEFAULT_ROUNDS, help="alternations per workload (default 5)"
    )
    parser.add_argument(
        "--duration",
        type=int,
        default=DEFAULT_DURATION_SECONDS,
        help="seconds per wrk run, whole seconds (default 3)",
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s: a smoke test")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    parser.add_argument(
        "--scale",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after wrk, time a page at 1 000 vs 1 000 000 todos (default on; bench/scale.py)",
    )
    parser.add_argument(
        "--scale-only", action="store_true", help="only the scale check: no wrk, no servers"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=contenders.NAMES,
        metavar="NAME",
        help="run only these contenders (e.g. --only todo-api todo-api-pg); ratios between"
        f" the others are left out. Names: {', '.join(contenders.NAMES)}",
    )
    parser.add_argument(
        "--todo-workers",
        type=int,
        default=1,
        metavar="N",
        help="TODO_WORKERS of the todo-api contenders (default 1, as the targets assume)",
    )
    args = parser.parse_args(argv)
    if args.scale_only and not args.scale:
        parser.error("--scale-only and --no-scale exclude each other")
    if args.quick:
        args.rounds, args.duration = 1, 1
    if args.rounds < 1 or args.duration < 1 or args.todo_workers < 1:
        parser.error("--rounds, --duration and --todo-workers must be at least 1")
    return args


def _announce(args: argparse.Namespace) -> None:
    count = len(args.only or contenders.NAMES)
    runs = len(WORKLOADS) * count * (args.rounds * args.duration + WARMUP_SECONDS)
    print(
        f"bench: {args.rounds} rounds x {args.duration}s per contender and workload,"
        f" wrk -t{THREADS} -c{CONNECTIONS}, {os.cpu_count()} CPUs shared by wrk and the server;"
        f" about {runs // 60}m{runs % 60:02d}s of load",
        flush=True,
    )


def _benchmark(
    rounds: int, duration: int, only: Sequence[str] | None = None, todo_workers: int = 1
) -> list[dict[str, Any]]:
    """Start every contender (or those named in `only`), seed the ones that hold data, measure
    each workload, stop them all."""
    with tempfile.TemporaryDirectory(prefix="todo-bench-") as scratch, ExitStack() as servers:
        workdir = Path(scratch)
        wanted = set(only or contenders.NAMES)
        postgres_url = (
            servers.enter_context(bench_database()) if contenders.POSTGRES in wanted else None
        )
        lineup = [
            contenders.todo_api(workdir, workers=todo_workers),
            contenders.todo_api(workdir, authenticated=False, workers=todo_workers),
            *(
                [contenders.todo_api_postgres(postgres_url, workers=todo_workers)]
                if postgres_url
                else []
            ),
            *contenders.references(),
        ]
        lineup = [contender for contender in lineup if contender.name in wanted]
        running = []
        for contender in lineup:
            server = Server(contender, workdir)
            servers.callback(server.stop)
            running.append(server)
        probe_ids = {}
        auth = {}
        for server in running:
            server.wait_until_ready()
            auth[server.contender.name] = account_headers(server.contender)
            if server.contender.holds_data:
                ids = seed_todos(server.contender, auth=auth[server.contender.name])
                probe_ids[server.contender.name] = probe_id(ids)
        print(f"bench: {len(running)} servers up; seeded {', '.join(probe_ids)}", flush=True)
        return [
            _measure(workload, running, probe_ids, auth, rounds, duration, workdir)
            for workload in WORKLOADS
        ]


def _measure(
    workload: Workload,
    running: list[Server],
    probe_ids: dict[str, int],
    auth: dict[str, dict[str, str]],
    rounds: int,
    duration: int,
    workdir: Path,
) -> dict[str, Any]:
    """Warm each contender up, then alternate them for `rounds` rounds on one workload."""
    script = write_post_script(workdir, workload.post_body) if workload.post_body else None
    runs = {server.contender.name: ContenderRuns() for server in running}

    def drive(server: Server, seconds: int) -> WrkResult:
        name = server.contender.name
        path = workload.path_for(probe_ids.get(name, UNSEEDED_TODO_ID))
        result = run_wrk(
            server.contender.base_url + path,
            duration_s=seconds,
            connections=CONNECTIONS,
            threads=THREADS,
            script=script,
            headers=auth[name],
        )
        server.check_running()
        runs[name].count_errors(result)
        return result

    print(f"\n{workload.label}: warming up", flush=True)
    for server in running:
        drive(server, WARMUP_SECONDS)
    for number in range(rounds):
        shift = number % len(running)
        line = []
        for server in running[shift:] + running[:shift]:
            result = drive(server, duration)
            runs[server.contender.name].rounds.append(result)
            line.append(
                f"{server.contender.name} {result.requests_per_second:.0f}/s"
                f" p99 {result.p99_ms:.1f}ms"
            )
        print(f"  round {number + 1}/{rounds}: {' | '.join(line)}", flush=True)
    return summarise(
        workload,
        runs,
        contenders.OURS,
        contenders.FLOOR,
        anonymous=contenders.ANONYMOUS,
        on_postgres=contenders.POSTGRES,
    )


def _document(
    args: argparse.Namespace, summaries: list[dict[str, Any]], load: tuple[float, float]
) -> dict[str, Any]:
    return {
        "settings": {
            "rounds": args.rounds,
            "duration_s": args.duration,
            "warmup_s": WARMUP_SECONDS,
            "connections": CONNECTIONS,
            "threads": THREADS,
            "todo_workers": args.todo_workers,
            "only": args.only,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_before_after": load,
        },
        "workloads": summaries,
    }


if __name__ == "__main__":
    raise SystemExit(main())
