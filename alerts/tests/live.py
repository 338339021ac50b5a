"""A real Central Logger for the end-to-end alert tests: the suite's live gunicorn
(central_logger/tests/live.py) with the evaluator and delivery threads on and short intervals."""
from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import orjson

from central_logger.tests import live

INTERVAL = 1.0  # ALERT_EVAL_INTERVAL_SECONDS of the live servers


class LiveServer(live.LiveServer):
    """Started at once; `call` sends JSON with an API key and answers (status, decoded body)."""

    def __init__(self, **env: str) -> None:
        super().__init__(workers=2, env={
            "GUNICORN_ACCESSLOG": "",
            "ALERT_EVAL_INTERVAL_SECONDS": str(INTERVAL),
            "ALERT_DELIVERY_INTERVAL_SECONDS": "0.2",
            "ALERT_DELIVERY_BACKOFF_SECONDS": "0.5",
            "ALERT_ALLOW_PRIVATE_TARGETS": "true",
            "ROLLUP_FLUSH_INTERVAL": "1",
            "RATE_LIMIT_INGEST": "",
            "RATE_LIMIT_READ": "",
            "LOG_LEVEL": "WARNING",
            **env,
        })
        self.start()

    def call(self, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
        data = orjson.dumps(body) if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "X-API-Key": key, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
                return response.status, orjson.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            return exc.code, orjson.loads(exc.read() or b"null")
