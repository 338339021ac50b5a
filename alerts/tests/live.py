"""A real Central Logger for the end-to-end alert tests: gunicorn in a subprocess on the test
database, with the evaluator and delivery threads on and short intervals."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
from django.db import connection

from alerts.tests.receivers import free_port
from conftest import database_url

ROOT = Path(__file__).resolve().parents[2]
INTERVAL = 1.0  # ALERT_EVAL_INTERVAL_SECONDS of the live servers


class LiveServer:
    def __init__(self, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "central_logger.settings_test",
            "DATABASE_URL": database_url(connection.settings_dict),
            "GUNICORN_ACCESSLOG": "",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_THREADS": "8",
            "ALERT_EVAL_INTERVAL_SECONDS": str(INTERVAL),
            "ALERT_DELIVERY_INTERVAL_SECONDS": "0.2",
            "ALERT_DELIVERY_BACKOFF_SECONDS": "0.5",
            "ALERT_ALLOW_PRIVATE_TARGETS": "true",
            "ROLLUP_FLUSH_INTERVAL": "1",
            "RATE_LIMIT_INGEST": "",
            "RATE_LIMIT_READ": "",
            "LOG_LEVEL": "WARNING",
            **env,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "central_logger.wsgi", "-c", "gunicorn.conf.py",
             "--bind", f"127.0.0.1:{self.port}"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health/live", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def request(self, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
        data = orjson.dumps(body) if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "X-API-Key": key, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
                return response.status, orjson.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            return exc.code, orjson.loads(exc.read() or b"null")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
