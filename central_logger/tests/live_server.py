"""A real gunicorn (gunicorn.conf.py) in a subprocess, on the test database: for the tests where
the HTTP server, its worker processes or real sockets are what is under test.

PostgreSQL only: the server sees what the test process commits, so tests using it run with
`django_db(transaction=True)`.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import ModuleType

from django.db import connection

from conftest import database_url

ROOT = Path(__file__).resolve().parents[2]


def load_script(name: str) -> ModuleType:
    """A script of scripts/ as a module (the drills' measurements are also the tests')."""
    path = ROOT / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up
    sys.path.insert(0, str(path.parent))  # its own imports of its neighbours
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """gunicorn on 127.0.0.1:`port`, with `env` on top of the test settings."""

    def __init__(self, port: int | None = None, **env: str) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "central_logger.settings_test",
            "DATABASE_URL": database_url(connection.settings_dict),
            "GUNICORN_ACCESSLOG": "",
            "WEB_CONCURRENCY": "1",
            **env,
        }

    def start(self, timeout: float = 30) -> LiveServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "central_logger.wsgi", "-c", "gunicorn.conf.py",
             "--bind", f"127.0.0.1:{self.port}"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health/live", timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError("gunicorn did not start")

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """A crash of master and workers: quicker than a graceful stop, and harsher on clients."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
            self.proc = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
