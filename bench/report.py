"""Turning wrk runs into the numbers we judge by: medians, paired ratios, targets, a table, JSON.

Ratios are paired: todo-api's req/s over a reference's within the same round, then the median of
those. On a noisy machine both sides of a pair share the same moment's noise, so the ratio is
steadier than a ratio of medians taken at different times.
"""

import statistics
from dataclasses import dataclass, field
from typing import Any

from bench.workloads import Workload
from bench.wrk import WrkResult


@dataclass
class ContenderRuns:
    """One contender's measured rounds in one workload, plus errors from every run (warm-up too)."""

    rounds: list[WrkResult] = field(default_factory=list)
    non_2xx: int = 0
    socket_errors: int = 0

    def count_errors(self, result: WrkResult) -> None:
        self.non_2xx += result.non_2xx
        self.socket_errors += result.socket_errors


def summarise(
    workload: Workload,
    runs: dict[str, ContenderRuns],
    ours: str,
    floor: str,
    anonymous: str | None = None,
    on_postgres: str | None = None,
) -> dict[str, Any]:
    """A JSON-ready summary of one workload: per-contender medians and paired ratios.

    Besides todo-api over each reference, it gives the floor over each reference that todo-api
    has a target against: what FastAPI alone reaches there, the ceiling for that target; and
    the `anonymous` todo-api (TODO_AUTH=disabled) over the floor, the figure runs before
    accounts reported; and todo-api on PostgreSQL (`on_postgres`) over todo-api on SQLite,
    against the workload's `postgres_target`.
    """
    contenders = {
        name: {
            "median_rps": statistics.median(r.requests_per_second for r in run.rounds),
            "median_p99_ms": statistics.median(r.p99_ms for r in run.rounds),
            "rps": [r.requests_per_second for r in run.rounds],
            "p99_ms": [r.p99_ms for r in run.rounds],
            "non_2xx": run.non_2xx,
            "socket_errors": run.socket_errors,
        }
        for name, run in runs.items()
    }
    pairs = [(ours, reference) for reference in runs if reference != ours]
    pairs += [
        (floor, reference)
        for reference in workload.targets
        if reference not in (floor, anonymous)  # floor / todo-api-anon says nothing new
    ]
    if anonymous is not None and anonymous in runs:
        pairs.append((anonymous, floor))
    if on_postgres is not None and on_postgres in runs:
        pairs.append((on_postgres, ours))
    pairs = [pair for pair in pairs if pair[0] in runs and pair[1] in runs]  # --only
    ratios = []
    for numerator, denominator in pairs:
        paired = [
            mine.requests_per_second / theirs.requests_per_second
            for mine, theirs in zip(runs[numerator].rounds, runs[denominator].rounds, strict=True)
        ]
        median = statistics.median(paired)
        target = workload.targets.get(denominator) if numerator == ours else None
        if numerator == on_postgres:
            target = workload.postgres_target
        ratios.append(
            {
                "numerator": numerator,
                "denominator": denominator,
                "per_round": paired,
                "median": median,
                "target": target,
                "passed": None if target is None else median >= target,
            }
        )
    return {
        "workload": workload.key,
        "label": workload.label,
        "request": workload.request,
        "contenders": contenders,
        "ratios": ratios,
    }


def failures(summaries: list[dict[str, Any]]) -> list[str]:
    """Every error response or socket error, from any contender: each one fails the run."""
    found = []
    for summary in summaries:
        for name, figures in summary["contenders"].items():
            for key, kind in (("non_2xx", "non-2xx responses"), ("socket_errors", "socket errors")):
                if figures[key]:
                    found.append(f"{summary['label']}: {name} had {figures[key]} {kind}")
    return found


def render(summary: dict[str, Any]) -> str:
    """The human-readable table for one workload."""
    lines = [
        f"{summary['label']}  ({summary['request']})",
        f"  {'contender':<14} {'req/s':>9} {'p99 ms':>9} {'non-2xx':>8} {'sock err':>9}",
    ]
    for name, figures in summary["contenders"].items():
        lines.append(
            f"  {name:<14} {figures['median_rps']:>9.0f} {figures['median_p99_ms']:>9.2f}"
            f" {figures['non_2xx']:>8} {figures['socket_errors']:>9}"
        )
    lines.append("  paired ratios of req/s (median of per-round ratios)")
    for ratio in summary["ratios"]:
        verdict = ""
        if ratio["target"] is not None:
            outcome = "PASS" if ratio["passed"] else "FAIL"
            verdict = f"  target >= {ratio['target']:.2f}x  {outcome}"
        label = f"{ratio['numerator']} / {ratio['denominator']}"
        lines.append(f"  {label:<24} {ratio['median']:>6.2f}x{verdict}")
    return "\n".join(lines)
