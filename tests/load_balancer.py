"""A real nginx (Debian's package) in front of a test's replicas: the load balancer of
tests/test_rolling_upgrade.py, run as the test's own process with its own files.

It stands in for what routes traffic in a cluster (a Service's endpoints, an ingress): the
upstream is changed by rewriting the configuration and reloading (SIGHUP), and `route_to`
returns only once no worker of the previous configuration is left, i.e. once no request can
reach a server that was taken out any more. That is the moment Kubernetes' preStop pause waits
for before the pod gets SIGTERM.

Passive health checks (`max_fails`, `fail_timeout`) take a server that refuses connections out
for a while, and a request whose connection is refused goes to the next server (a POST too:
nothing was sent). The access log names the server(s) each request went to.
"""

import os
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support import missing_part, poll_until

NGINX = Path("/usr/sbin/nginx")
RELOAD_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 10
MAX_FAILS = 1
FAIL_TIMEOUT_SECONDS = 10

CONFIG = """\
daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
{user}
events {{ worker_connections 1024; }}

http {{
    log_format upstreams '$request_method $status $upstream_addr $upstream_status';
    access_log {directory}/access.log upstreams;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;

    upstream todo_api {{
{servers}
    }}

    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://todo_api;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


@dataclass
class AccessLine:
    """One request as nginx logged it: its answer and the server(s) it was passed to, in order
    (more than one when a server refused and nginx tried the next)."""

    method: str
    status: int
    upstreams: list[str]


@dataclass
class Nginx:
    """nginx on 127.0.0.1:`port` balancing over `servers` ("127.0.0.1:PORT" each)."""

    port: int
    directory: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="todo-api-nginx-"))
    )
    process: subprocess.Popen[bytes] | None = None
    servers: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, servers: list[str]) -> None:
        if not NGINX.exists():
            missing_part("nginx is not installed; run scripts/install-deploy-tools nginx")
        # Workers run as `nobody` when the test is root: they must reach their temp folders.
        self.directory.chmod(0o755)
        self._write(servers)
        with (self.directory / "stderr.log").open("wb") as stderr:
            self.process = subprocess.Popen(
                self._command(), stdout=subprocess.DEVNULL, stderr=stderr
            )
        poll_until(lambda: self._accepts() or self._exited(), RELOAD_TIMEOUT_SECONDS, "nginx up")
        if self.process.poll() is not None:
            pytest.fail(f"nginx exited {self.process.returncode}:\n{self.errors()}")

    def route_to(self, servers: list[str]) -> None:
        """Reload with this upstream; return once every worker of the old one has exited."""
        self._write(servers)
        checked = subprocess.run([*self._command(), "-t"], capture_output=True, check=False)
        if checked.returncode != 0:
            pytest.fail(f"nginx -t refused the new upstream:\n{checked.stderr.decode()}")
        before = set(self.workers())
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)

        def only_new_workers() -> bool:
            titles = self.workers()
            return bool(titles) and not set(titles) & before

        poll_until(only_new_workers, RELOAD_TIMEOUT_SECONDS, f"nginx reloaded:\n{self.errors()}")

    def workers(self) -> dict[int, bytes]:
        """The master's worker processes now: pid to process title (an old one's says
        "worker process is shutting down" while it finishes its requests)."""
        assert self.process is not None
        master = self.process.pid
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                title = (entry / "cmdline").read_bytes()
            except OSError:
                continue  # exited meanwhile
            # pid (comm) state ppid ...: comm may hold spaces, so split after its ")".
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == master:
                found[int(entry.name)] = title
        return found

    def stop(self) -> None:
        """Graceful stop (SIGQUIT: finish the requests in flight), then the files."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def access_lines(self) -> list[AccessLine]:
        lines = []
        for line in (self.directory / "access.log").read_text().splitlines():
            method, status, upstreams = line.split(" ", 2)
            addresses = upstreams.rsplit(" ", 1)[0]
            lines.append(AccessLine(method, int(status), addresses.split(", ")))
        return lines

    def errors(self) -> str:
        logs = [self.directory / "error.log", self.directory / "stderr.log"]
        return "".join(path.read_text(errors="replace")[-3000:] for path in logs if path.exists())

    def _command(self) -> list[str]:
        return [
            str(NGINX), "-p", str(self.directory), "-c", str(self.directory / "nginx.conf"),
            "-e", str(self.directory / "error.log"),
        ]  # fmt: skip

    def _write(self, servers: list[str]) -> None:
        self.servers = list(servers)
        lines = [
            f"        server {server} max_fails={MAX_FAILS} fail_timeout={FAIL_TIMEOUT_SECONDS}s;"
            for server in servers
        ]
        user = "user nobody nogroup;" if os.geteuid() == 0 else ""
        config = CONFIG.format(
            directory=self.directory, user=user, servers="\n".join(lines), port=self.port
        )
        (self.directory / "nginx.conf").write_text(config)

    def _accepts(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def _exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None
