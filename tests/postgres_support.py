"""The test run's own databases on the machine's PostgreSQL (127.0.0.1:5432, user postgres).

Each run names its databases with a prefix of its own and migrates one template, holding the
template account (support.add_template_account) as SQLite's does. A test gets a
migrated database that no other test is using: a copy of the template (`CREATE DATABASE …
TEMPLATE`) the first time, then one a finished test gave back, reset to the template's rows and
sequences (~5 ms: copying and dropping a database forces checkpoints, 0.3-1 s each on a busy
machine). A database that should start empty (migration tests) is made for the test and dropped
on a thread of its own. Everything the run made is gone when it ends.

`ThrowawayCluster` is a server of one test's own (initdb into a temporary directory, a free
port, run as `nobody`), for tests that stop and start PostgreSQL: never the machine's.
"""

import contextlib
import itertools
import os
import pwd
import queue
import secrets
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from support import add_template_account
from todo_api.db import create_engine
from todo_api.db_postgres import engine_url
from todo_api.migrate import is_at_head, upgrade_to_head
from todo_api.tables import metadata

# Another server (or user) for the tests: TODO_TEST_POSTGRES_URL, a URL of a database to connect
# to for CREATE DATABASE (the user must be allowed to create databases).
ADMIN_URL = os.environ.get(
    "TODO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CONNECT_TIMEOUT_SECONDS = 3
# TODO_SECRET_KEY of the apps the tests run on PostgreSQL (a server database needs one set).
POSTGRES_SECRET_KEY = "postgres-tests-" + secrets.token_urlsafe(32)
_DONE = ""
_SEQUENCES = "SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences"


class TemplateState:
    """The rows and sequence positions of a freshly migrated database, to reset a used one to."""

    def __init__(self, connection: sa.Connection) -> None:
        self.rows = [
            (table, [row._asdict() for row in connection.execute(sa.select(table))])
            for table in metadata.sorted_tables
        ]
        self.sequences: list[tuple[str, Any]] = [
            (name, value) for name, value in connection.exec_driver_sql(_SEQUENCES)
        ]
        self.table_names = set(sa.inspect(connection).get_table_names())

    def restore(self, connection: sa.Connection) -> None:
        for table, _rows in reversed(self.rows):
            connection.execute(sa.delete(table))
        for table, rows in self.rows:
            if rows:
                connection.execute(sa.insert(table), rows)
        for name, value in self.sequences:
            # A sequence never used restarts at 1; a used one goes on after its template value.
            connection.execute(
                sa.text("SELECT setval(:name, :value, :called)"),
                {"name": name, "value": value or 1, "called": value is not None},
            )


class PostgresDatabases:
    """Creates and drops the run's databases; `template` is migrated to head once."""

    def __init__(self, admin_url: str = ADMIN_URL) -> None:
        self.prefix = f"todo_test_{os.getpid()}_{secrets.token_hex(3)}"
        self._url = engine_url(admin_url)
        self._admin = sa.create_engine(
            self._url,
            isolation_level="AUTOCOMMIT",
            poolclass=NullPool,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
        )
        self._numbers = itertools.count()
        self._template: str | None = None
        self._template_state: TemplateState | None = None
        self._free: list[str] = []  # migrated databases given back, to be reset and reused
        self._to_drop: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._dropper = threading.Thread(target=self._drop_queued, daemon=True)
        self._dropper.start()

    def check_reachable(self) -> None:
        """Raise the driver's error when the server cannot be reached."""
        with self._admin.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def url(self, name: str) -> str:
        return self._url.set(database=name).render_as_string(hide_password=False)

    def create(self, *, migrated: bool) -> str:
        """A database of this test alone (migrated, or empty); its URL. Give it back with
        `release` once the test is done."""
        while migrated and self._free:
            url = self._free.pop()
            if self._reset(url):
                return url
            self.drop_later(url)  # a test changed its schema (a downgrade, say): not reusable
        name = f"{self.prefix}_{next(self._numbers)}"
        template = f" TEMPLATE {self.template()}" if migrated else ""
        with self._admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}{template}")
        return self.url(name)

    def release(self, url: str, *, migrated: bool) -> None:
        """The test is done with `url`: a migrated database is reused, an empty one dropped."""
        if migrated:
            self._free.append(url)
        else:
            self.drop_later(url)

    def _reset(self, url: str) -> bool:
        """Give a used database the template's rows and sequences; False if it cannot be."""
        assert self._template_state is not None
        engine = sa.create_engine(engine_url(url), poolclass=NullPool)
        try:
            with engine.begin() as connection:
                tables = set(sa.inspect(connection).get_table_names())
                if tables != self._template_state.table_names or not is_at_head(connection):
                    return False
                self._template_state.restore(connection)
        except sa.exc.DBAPIError:  # a table or sequence the template has is gone
            return False
        finally:
            engine.dispose()
        return True

    def template(self) -> str:
        if self._template is None:
            name = f"{self.prefix}_template"
            with self._admin.connect() as connection:
                connection.exec_driver_sql(f"CREATE DATABASE {name}")
            engine = create_engine(self.url(name))
            try:
                upgrade_to_head(engine)
                add_template_account(self.url(name))
                with engine.connect() as connection:
                    self._template_state = TemplateState(connection)
            finally:
                engine.dispose()  # a template must have no connections while it is copied
            self._template = name
        return self._template

    def drop_later(self, url: str) -> None:
        name = sa.make_url(url).database
        assert name is not None and name.startswith(self.prefix)
        self._to_drop.put(name)

    def _drop_queued(self) -> None:
        while (name := self._to_drop.get()) != _DONE:
            self._drop(name)

    def _drop(self, name: str) -> None:
        with self._admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def close(self) -> None:
        """Drop every database of the run (the queued copies, then the template)."""
        for url in self._free:
            self.drop_later(url)
        self._to_drop.put(_DONE)
        self._dropper.join()
        if self._template is not None:
            self._drop(self._template)
        self._admin.dispose()


POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
# The cluster runs as this user: PostgreSQL refuses to run as root.
CLUSTER_USER = "nobody"
CLUSTER_START_SECONDS = 60  # pg_ctl's own deadline for "started"/"stopped", not a wait


class ThrowawayCluster:
    """A PostgreSQL cluster of one test: initdb'd into a directory of its own, on a free port,
    run by an unprivileged user; stopped and started at will. Never the machine's server."""

    def __init__(self, port: int) -> None:
        if not (POSTGRES_BIN / "initdb").exists():
            raise FileNotFoundError(f"no PostgreSQL 15 binaries in {POSTGRES_BIN}")
        self.port = port
        # Not under pytest's tmp_path: its parents are root's alone, and the cluster's user
        # must reach the directory.
        self.directory = Path(tempfile.mkdtemp(prefix="todo-cluster-"))
        self.data = self.directory / "data"
        if os.geteuid() == 0:
            user = pwd.getpwnam(CLUSTER_USER)
            os.chown(self.directory, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", CLUSTER_USER, "--"]
        else:
            self._as_user = []
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [*self._as_user, str(POSTGRES_BIN / program), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.directory,
        )

    def start(self) -> None:
        """Start the server and return once it accepts connections (pg_ctl -w)."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1"
            f" -c unix_socket_directories={self.directory}"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.directory / "log"),
            "-w", "-t", str(CLUSTER_START_SECONDS), "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server as an operator would (fast: sessions are ended, work rolled back)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        """Stop the server if it runs, and delete the cluster."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)
