"""In-process fake of the Central Logger collector (test double).

Implements the server contract the SDK is written against:
  * auth with ``X-API-Key`` or ``Authorization: Bearer`` (401 otherwise);
  * ``POST /api/v1/logs/batch``: gzip bodies, 1..max_batch logs, body limit
    (413 ``payload_too_large``), per-log validation, dedupe by ``event_id``,
    201 / 207 / 400-with-``details.results`` answers, other 400s without;
  * scripted failures (429 + Retry-After, 503, 408, 401...), slowness, and
    being stopped and restarted on the same port (keep-alive connections are
    cut on stop, the "database" survives);
  * ``GET /health`` and ``GET /api/v1/logs?ticket_id=`` with pagination.

Run standalone (used by bench_ship.py): ``python fake_collector.py [port] [key]``.
"""
from __future__ import annotations

import collections
import gzip
import json
import socket
import sys
import threading
import time
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs, urlsplit

API_KEY = "clk_abcdef1234_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
ENVIRONMENTS = {"production", "staging", "development", "test"}
STATUSES = {"SUCCESS", "PARTIAL", "FAILED", "ERROR"}
STRING_FIELDS = (
    "ticket_id", "category", "workflow_version", "resolution_status", "customer_type",
    "workflow_error", "workflow_error_type", "workflow_error_node",
    "ticket_subject_hash", "requester_email_hash",
)


def validate_log(log: Any) -> Dict[str, List[str]]:
    if not isinstance(log, dict):
        return {"non_field_errors": ["Expected an object."]}
    errors: Dict[str, List[str]] = {}
    for field in ("environment", "executed_at", "status"):
        if log.get(field) in (None, ""):
            errors[field] = ["This field is required."]
    env = log.get("environment")
    if env not in (None, "") and env not in ENVIRONMENTS:
        errors["environment"] = ['"%s" is not a valid choice.' % env]
    status = log.get("status")
    if status not in (None, "") and status not in STATUSES:
        errors["status"] = ['"%s" is not a valid choice.' % status]
    executed_at = log.get("executed_at")
    if executed_at not in (None, ""):
        try:
            if datetime.fromisoformat(str(executed_at)).tzinfo is None:
                errors["executed_at"] = ["Timestamp must include a UTC offset."]
        except ValueError:
            errors["executed_at"] = ["Invalid ISO-8601 datetime."]
    ets = log.get("execution_time_seconds")
    if ets is not None and (isinstance(ets, bool) or not isinstance(ets, (int, float)) or ets < 0):
        errors["execution_time_seconds"] = ["Must be a number >= 0."]
    eid = log.get("event_id")
    if eid is not None and (not isinstance(eid, str) or len(eid) > 200):
        errors["event_id"] = ["Must be a string of at most 200 characters."]
    if "is_system_error" in log and not isinstance(log["is_system_error"], bool):
        errors["is_system_error"] = ["Must be a boolean."]
    for field in ("metrics", "metadata", "payload"):
        if field in log and not isinstance(log[field], dict):
            errors[field] = ["Must be an object."]
    for field in STRING_FIELDS:
        if field in log and log[field] is not None and not isinstance(log[field], str):
            errors[field] = ["Must be a string."]
    return errors


class FakeCollector:
    def __init__(self, api_key: str = API_KEY, *, max_batch: int = 100,
                 max_body_bytes: int = 10 * 1024 * 1024, port: int = 0,
                 keep_full_logs: bool = True) -> None:
        self.api_key = api_key
        self.max_batch = max_batch
        self.max_body_bytes = max_body_bytes
        self.port = port
        # standalone/benchmark mode keeps only a summary of each log, so the
        # fake's own memory and GC pauses do not distort the measurements
        self.keep_full_logs = keep_full_logs
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.logs: Dict[str, dict] = {}          # id -> stored log
        self.order: List[str] = []               # ids in insertion order
        self.by_event: Dict[str, str] = {}       # event_id -> id
        self.requests: List[dict] = []           # one record per batch request
        self.script: "collections.deque[tuple]" = collections.deque()
        self.slow: "collections.deque[float]" = collections.deque()
        self.release = threading.Event()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._conns: set = set()

    # -- lifecycle ---------------------------------------------------------
    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> "FakeCollector":
        collector = self

        class Handler(_Handler):
            pass

        Handler.collector = collector
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self.release.clear()
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True, name="fake-collector")
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self.release.set()  # let slow handlers finish at once
        server.shutdown()
        server.server_close()
        with self.lock:
            conns = list(self._conns)
        for sock in conns:  # cut keep-alive connections: a stopped server answers nothing
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> "FakeCollector":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- scripting -----------------------------------------------------------
    def fail_next(self, n: int, status: int = 503, retry_after: Optional[str] = None,
                  code: str = "service_unavailable") -> None:
        with self.lock:
            for _ in range(n):
                self.script.append((status, retry_after, code))

    def slow_next(self, n: int, seconds: float) -> None:
        """Delay the next n batch requests (the batch is still stored after the delay)."""
        with self.lock:
            self.slow.extend([seconds] * n)

    # -- inspection -----------------------------------------------------------
    def stored(self) -> List[dict]:
        with self.lock:
            return [self.logs[i] for i in self.order]

    def stored_event_ids(self) -> List[str]:
        return [log.get("event_id") for log in self.stored()]

    def wait_stored(self, n: int, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        with self.cond:
            while len(self.order) < n:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(remaining)
            return True

    def wait_requests(self, n: int, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        with self.cond:
            while len(self.requests) < n:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(remaining)
            return True

    # -- request processing ------------------------------------------------------
    def handle_batch(self, headers, raw: bytes):
        """Returns (status, body_dict, extra_headers); notes the request."""
        record = {"t": time.monotonic(), "status": None, "event_ids": [], "gzip": False}
        result = self._handle_batch(headers, raw, record)
        record["status"] = result[0]
        self.note_request(record)
        return result

    def _handle_batch(self, headers, raw: bytes, record: dict):
        with self.lock:
            forced = self.script.popleft() if self.script else None
            delay = self.slow.popleft() if self.slow else 0.0
        if delay:
            self.release.wait(delay)
        if forced is not None:
            status, retry_after, code = forced
            extra = {"Retry-After": retry_after} if retry_after is not None else {}
            return status, _error(code, "scripted failure"), extra
        if headers.get("Content-Encoding", "").lower() == "gzip":
            record["gzip"] = True
            try:
                raw = gzip.decompress(raw)
            except OSError:
                return 400, _error("malformed_body", "Invalid gzip body."), {}
        if len(raw) > self.max_body_bytes:
            return 413, _error("payload_too_large", "Body too large."), {}
        try:
            data = json.loads(raw)
        except ValueError:
            return 400, _error("parse_error", "Malformed JSON."), {}
        logs = data.get("logs") if isinstance(data, dict) else None
        if not isinstance(logs, list) or not logs:
            return 400, _error("validation_error", "`logs` must be a non-empty list."), {}
        if len(logs) > self.max_batch:
            return 400, _error("batch_too_large", "At most %d logs per batch." % self.max_batch), {}
        record["event_ids"] = [l.get("event_id") if isinstance(l, dict) else None for l in logs]
        results, ids = [], []
        with self.cond:
            for i, log in enumerate(logs):
                errors = validate_log(log)
                if errors:
                    results.append({"index": i, "status": "invalid", "errors": errors})
                    ids.append(None)
                    continue
                eid = log.get("event_id")
                if eid and eid in self.by_event:
                    lid = self.by_event[eid]
                    results.append({"index": i, "status": "duplicate", "id": lid})
                else:
                    lid = str(uuid.uuid4())
                    self.logs[lid] = log if self.keep_full_logs else {
                        "event_id": eid, "ticket_id": log.get("ticket_id")}
                    self.order.append(lid)
                    if eid:
                        self.by_event[eid] = lid
                    results.append({"index": i, "status": "created", "id": lid})
                ids.append(lid)
            self.cond.notify_all()
        n_valid = sum(1 for r in results if r["status"] != "invalid")
        if n_valid == len(logs):
            return 201, {"ids": ids, "count": n_valid, "results": results}, {}
        if n_valid:
            return 207, {"ids": ids, "count": n_valid, "results": results}, {}
        err = _error("validation_error", "No valid log in the batch.")
        err["error"]["details"] = {"results": results}
        return 400, err, {}

    def note_request(self, record: dict) -> None:
        with self.cond:
            self.requests.append(record)
            self.cond.notify_all()

    def list_logs(self, query: Dict[str, List[str]]):
        ticket = (query.get("ticket_id") or [None])[0]
        page = int((query.get("page") or ["1"])[0])
        size = int((query.get("page_size") or ["50"])[0])
        logs = [l for l in self.stored() if ticket is None or l.get("ticket_id") == ticket]
        total = len(logs)
        chunk = logs[(page - 1) * size: page * size]
        return {"data": chunk, "pagination": {"page": page, "page_size": size, "total": total,
                                               "pages": (total + size - 1) // size}}


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, "details": {}}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # like real servers; avoids 40 ms delayed-ACK stalls
    collector: FakeCollector

    def setup(self) -> None:
        super().setup()
        with self.collector.lock:
            self.collector._conns.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.collector.lock:
                self.collector._conns.discard(self.connection)

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: dict, headers: Optional[dict] = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        key = self.headers.get("X-API-Key")
        auth = self.headers.get("Authorization", "")
        if not key and auth.startswith("Bearer "):
            key = auth[7:]
        return key == self.collector.api_key

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/health":
            return self._send(200, {"status": "healthy"})
        if not self._authorized():
            return self._send(401, _error("authentication_failed", "Invalid API key."))
        if parts.path == "/api/v1/logs":
            return self._send(200, self.collector.list_logs(parse_qs(parts.query)))
        self._send(404, _error("not_found", "Not found."))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if urlsplit(self.path).path != "/api/v1/logs/batch":
            return self._send(404, _error("not_found", "Not found."))
        if not self._authorized():
            self.collector.note_request({"t": time.monotonic(), "status": 401, "event_ids": []})
            return self._send(401, _error("authentication_failed", "Invalid API key."))
        status, body, headers = self.collector.handle_batch(self.headers, raw)
        try:
            self._send(status, body, headers)
        except OSError:
            pass


if __name__ == "__main__":  # standalone, for benchmarks
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    key = sys.argv[2] if len(sys.argv) > 2 else API_KEY
    fc = FakeCollector(key, port=port, keep_full_logs=False).start()
    print(fc.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fc.stop()
