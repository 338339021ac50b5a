"""A real gunicorn serving the test database, for tests through the interfaces users touch (HTTP
through nginx, several workers, signals and crashes, the process's log output, the static files of
a collected build). The one live server of the test suite: every test that needs one starts it here.

The server runs the same gunicorn.conf.py as `make run` and the container; its output (stdout and
stderr) goes to a file the test can read (`log`). PostgreSQL only: the server must see the rows the
test commits, so tests using it are `transactional_db`.
"""
from __future__ import annotations

import http.client
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from django.db import connection

from conftest import database_url

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body)


def request(url: str, method: str = "GET", path: str = "/", body: bytes | None = None,
            headers: dict[str, str] | None = None, timeout: float = 10.0) -> Answer:
    """One HTTP request, whatever its status (urllib raises on 4xx/5xx and follows redirects)."""
    host, _, port = url.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port or 80), timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        conn.close()


class LiveServer:
    """gunicorn on the test database, on a free port; `log` holds what it wrote.

    `threads=None` keeps gunicorn.conf.py's own thread count (the shipped configuration, for the
    tests of the HTTP server itself); without `log_path` the output goes to a temporary file.
    """

    def __init__(self, log_path: Path | None = None, *, settings_module: str = "central_logger.settings_test",
                 workers: int = 1, threads: int | None = 8, env: dict[str, str] | None = None,
                 args: list[str] | None = None, prefix: list[str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if log_path is None:
            log_path = Path(tempfile.mkdtemp(prefix="live-server-")) / "gunicorn.log"
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.args = args or []
        self.prefix = prefix or []  # a command that runs gunicorn (e.g. in a mount namespace)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DATABASE_URL": database_url(connection.settings_dict),
            "WEB_CONCURRENCY": str(workers),
            "BIND": f"127.0.0.1:{self.port}",
            # Its own spool (and key snapshot beside it), never the worktree's var/.
            "SPOOL_PATH": str(log_path.parent / f"spool-{self.port}.sqlite3"),
            **({"GUNICORN_THREADS": str(threads)} if threads else {}),
            **(env or {}),
        }

    def start(self, timeout: float = 30.0) -> LiveServer:
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [*self.prefix, sys.executable, "-m", "gunicorn", "central_logger.wsgi", "-c", "gunicorn.conf.py",
                 *self.args],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log}")
            try:
                request(self.url, path="/health/live", timeout=1)  # any answer: it serves
                return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{self.log}")

    def stop(self) -> None:
        """A graceful stop (SIGTERM), then SIGKILL after 20 s."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        self.proc = None

    def kill(self) -> None:
        """A crash of master and workers: quicker than a graceful stop, and harsher on clients."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
            self.proc = None

    def signal(self, sig: int) -> None:
        """A signal to gunicorn's master (SIGHUP: a graceful reload)."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def request(self, method: str = "GET", path: str = "/", **kwargs: Any) -> Answer:
        return request(self.url, method, path, **kwargs)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


class NginxFront:
    """A shipped nginx configuration (deploy/nginx.conf or nginx-tls.conf), unchanged but for
    where it listens (each `listen N` on a free local port), its upstream (a LiveServer) and its
    certificate directory, in front of the app (Debian's nginx; tests using it skip without one)."""

    def __init__(self, upstream: LiveServer, workdir: Path, conf: Path = ROOT / "deploy" / "nginx.conf",
                 tls_dir: Path | None = None) -> None:
        self.workdir = workdir
        text = conf.read_text()
        assert "server app:8000" in text, f"{conf.name} changed shape"
        text = text.replace("server app:8000", f"server 127.0.0.1:{upstream.port}")
        self.ports: dict[int, int] = {}

        def local(match: re.Match[str]) -> str:
            self.ports[int(match.group(1))] = free_port()
            return f"listen 127.0.0.1:{self.ports[int(match.group(1))]}{match.group(2)};"

        text = re.sub(r"listen (\d+)([^;]*);", local, text)
        if tls_dir is not None:
            text = text.replace("/etc/nginx/tls/", f"{tls_dir}/")
        self.url = f"https://127.0.0.1:{self.ports[443]}" if 443 in self.ports else f"http://127.0.0.1:{self.ports[8000]}"
        self.conf = workdir / "nginx.conf"
        self.conf.write_text(text)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> NginxFront:
        assert NGINX, "nginx is not installed"
        directives = f"daemon off; pid {self.workdir}/nginx.pid; error_log {self.workdir}/error.log;"
        self.proc = subprocess.Popen([NGINX, "-c", str(self.conf), "-p", str(self.workdir), "-g", directives],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", next(iter(self.ports.values())))) == 0:
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not start: " + (self.workdir / "error.log").read_text(errors="replace"))

    def stop(self) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGQUIT)  # graceful
            self.proc.wait(timeout=10)
            self.proc = None

    def __enter__(self) -> NginxFront:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def self_signed_certificate(directory: Path) -> Path:
    """fullchain.pem and privkey.pem for 127.0.0.1 and localhost (openssl), as certbot names them."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(directory / "privkey.pem"), "-out", str(directory / "fullchain.pem")],
                   check=True, capture_output=True)
    return directory
