"""Running wrk and reading its report: the only module that knows wrk's flags and output format."""

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

WRK = "wrk"
INSTALL_HINT = "wrk is not installed; install it with `apt-get install wrk` (or `brew install wrk`)"
# Seconds wrk may overrun its duration (connection setup, final report) before we give up on it.
GRACE_SECONDS = 30

_LATENCY_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_P99 = re.compile(r"^\s*99%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ", re.MULTILINE)
# wrk counts statuses above 399 here, despite the wording; the line is absent when there are none.
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class WrkError(RuntimeError):
    """wrk could not run, or printed a report we cannot read."""


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int


def wrk_available() -> bool:
    return shutil.which(WRK) is not None


def write_post_script(directory: Path, body: str) -> Path:
    """A wrk Lua script that sends every request as a JSON POST of `body`."""
    script = directory / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {_lua_string(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n',
        encoding="utf-8",
    )
    return script


def run_wrk(
    url: str,
    *,
    duration_s: int,
    connections: int,
    threads: int,
    script: Path | None = None,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    """Drive `url` for `duration_s` seconds, sending `headers` too; return what wrk measured."""
    command = [WRK, f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    try:
        finished = subprocess.run(
            command, capture_output=True, text=True, timeout=duration_s + GRACE_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise WrkError(f"wrk did not finish: {' '.join(command)}") from error
    if finished.returncode != 0:
        raise WrkError(f"wrk exited {finished.returncode}: {finished.stderr.strip()}")
    return parse_report(finished.stdout)


def parse_report(report: str) -> WrkResult:
    """Read req/s, p99 and error counts from wrk's `--latency` report."""
    rate, p99, total = _RATE.search(report), _P99.search(report), _TOTAL.search(report)
    if rate is None or p99 is None or total is None:
        raise WrkError(f"unexpected wrk output:\n{report}")
    non_2xx = _NON_2XX.search(report)
    socket = _SOCKET.search(report)
    return WrkResult(
        requests_per_second=float(rate.group(1)),
        p99_ms=float(p99.group(1)) * _LATENCY_UNIT_MS[p99.group(2)],
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(count) for count in socket.groups()) if socket else 0,
    )


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
