"""The HTTP server as clients meet it: gunicorn with central_logger/gworker.py, real sockets.

Slow clients cost no thread (issue 19, item 6: the target, 250 slow connections for 25 s while a
normal client keeps >= 95 % of its POSTs and reads answered), no request holds a database
connection while its body arrives (item 7), requests that do not arrive in time get a 408, and
the errors gunicorn answers itself are in the JSON envelope (item 4).
"""
from __future__ import annotations

import http.client
import json
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from central_logger.tests.live import LiveServer, load_script
from conftest import Tenant, make_tenant
from logs.tests.factories import log_body

pytestmark = pytest.mark.django_db(transaction=True)
LOG = json.dumps(log_body()).encode()


slow_clients = load_script("slow_clients")


def _server_env(tmp: Path, **env: str) -> dict[str, str]:
    return {"SPOOL_PATH": str(tmp / "spool.sqlite3"), "KEY_SNAPSHOT_PATH": str(tmp / "keys.sqlite3"), "GUNICORN_ACCESSLOG": "",
            "RATE_LIMIT_INGEST": "", "RATE_LIMIT_READ": "", "INGEST_DB_TIMEOUT_MS": "1000", **env}


@pytest.fixture(scope="module")
def quick_server(django_db_setup: Any, tmp_path_factory: Any) -> Iterator[LiveServer]:
    """Short request timeouts (2 s) and a small database pool (3 per worker)."""
    env = _server_env(tmp_path_factory.mktemp("quick"), REQUEST_HEADER_TIMEOUT="2", REQUEST_BODY_TIMEOUT="2",
                      DB_POOL_MAX_SIZE="3")
    with LiveServer(threads=None, env=env) as server:
        yield server


def exchange(server: LiveServer, data: bytes, *, wait: float = 10) -> tuple[float, bytes]:
    """Send raw bytes, read until the server closes (or `wait` passes): (seconds, answer)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=wait)
    started = time.monotonic()
    sock.sendall(data)
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except TimeoutError:
        pass
    finally:
        sock.close()
    return time.monotonic() - started, answer


def envelope(answer: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), head
    return int(head.split(b" ")[1]), json.loads(body)["error"]


def post_head(key: str, length: int, path: str = "/api/v1/logs") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


# --- errors gunicorn answers itself (item 4) -------------------------------------------------------

@pytest.mark.parametrize("request_bytes, status, code", [
    (b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
     431, "request_header_fields_too_large"),
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 414, "uri_too_long"),
    (b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nNot a header\r\n\r\n", 400, "bad_request"),
    (b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Name: x\r\n\r\n", 400, "bad_request"),
    (b"HELLO\r\n\r\n", 400, "bad_request"),
    (b"GET /health/live HTTP/7.0\r\nHost: 127.0.0.1\r\n\r\n", 400, "bad_request"),
])
def test_errors_of_the_http_server_are_in_the_envelope(quick_server: LiveServer, request_bytes: bytes,
                                                       status: int, code: str) -> None:
    _seconds, answer = exchange(quick_server, request_bytes)
    got_status, error = envelope(answer)
    assert (got_status, error["code"]) == (status, code)
    assert error["message"] and error["details"] == {}


# --- requests that do not arrive (items 6 and 7) -----------------------------------------------------

def test_headers_that_never_finish_get_408_after_the_header_timeout(quick_server: LiveServer) -> None:
    seconds, answer = exchange(quick_server, b"POST /api/v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    assert envelope(answer) == (408, {"code": "request_timeout", "message": "The request did not arrive in time.",
                                      "details": {}})
    assert 1.5 <= seconds <= 4.5


def test_a_body_shorter_than_its_content_length_gets_408(quick_server: LiveServer) -> None:
    tenant = make_tenant("short-body")
    seconds, answer = exchange(quick_server, post_head(tenant.key, len(LOG) + 100) + LOG)
    assert envelope(answer)[0] == 408
    assert 1.5 <= seconds <= 4.5


def test_complete_requests_on_one_kept_alive_connection(quick_server: LiveServer) -> None:
    tenant = make_tenant("keep-alive")
    conn = http.client.HTTPConnection("127.0.0.1", quick_server.port, timeout=10)
    try:
        for _ in range(3):
            conn.request("POST", "/api/v1/logs", body=LOG,
                         headers={"X-API-Key": tenant.key, "Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            assert (response.status, response.getheader("Connection")) == (201, "keep-alive")
    finally:
        conn.close()


@pytest.mark.parametrize("head, status", [
    (b"Expect: 100-continue\r\nContent-Length: %d\r\n" % len(LOG), 201),  # the thread reads the body
    (b"Transfer-Encoding: chunked\r\n", 411),
])
def test_bodies_read_by_the_thread_still_work(quick_server: LiveServer, head: bytes, status: int) -> None:
    tenant = make_tenant("streamed")
    body = LOG if b"Content-Length" in head else b"%x\r\n%s\r\n0\r\n\r\n" % (len(LOG), LOG)
    _seconds, answer = exchange(quick_server, b"POST /api/v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                                + f"X-API-Key: {tenant.key}\r\nContent-Type: application/json\r\n".encode() + head
                                + b"\r\n" + body)
    answer = answer.removeprefix(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:200]


def test_slow_bodies_do_not_take_the_database_pool(quick_server: LiveServer) -> None:
    """More slow bodies (12) than the worker's pool has connections (3): reads and writes of a
    normal client are still answered from the database, none spooled, none refused (item 7)."""
    tenant = make_tenant("pool")
    result = slow_clients.run(quick_server.port, tenant.key, slow={"slow_body": 12}, seconds=4, baseline=0,
                              rate=4, read_rate=4)
    loaded = result["with_slow_clients"]
    assert loaded["posts"]["statuses"] == {"201": loaded["posts"]["requests"]}, result
    assert loaded["reads"]["statuses"] == {"200": loaded["reads"]["requests"]}, result


def test_no_query_runs_before_the_body_is_read(alice: Tenant) -> None:
    """Whatever the server: the body is read before authentication or anything else queries."""
    queries_at_read: list[int] = []

    class Body:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def read(self, size: int = -1) -> bytes:
            queries_at_read.append(len(captured.captured_queries))
            chunk, self.data = (self.data, b"") if size < 0 else (self.data[:size], self.data[size:])
            return chunk

        def readline(self, size: int = -1) -> bytes:
            return self.read(size)

    from django.core.handlers.wsgi import WSGIHandler

    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/logs", "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "CONTENT_TYPE": "application/json",
               "CONTENT_LENGTH": str(len(LOG)), "HTTP_X_API_KEY": alice.key, "wsgi.input": Body(LOG),
               "REMOTE_ADDR": "127.0.0.1"}
    statuses: list[str] = []
    with CaptureQueriesContext(connection) as captured:
        b"".join(WSGIHandler()(environ, lambda status, headers: statuses.append(status)))
    assert statuses == ["201 Created"]
    assert queries_at_read and queries_at_read[0] == 0


# --- the target (item 6) -------------------------------------------------------------------------------

def test_250_slow_connections_for_25_seconds_leave_a_normal_client_served(tmp_path: Path) -> None:
    """200 slowloris connections and 50 slow bodies, kept open (reopened when closed) for 25 s,
    against the shipped configuration (2 workers, 64 threads, default timeouts): a normal client
    gets >= 95 % of its POSTs (2xx) and reads (200) answered within its 3 s."""
    tenant = make_tenant("slow-target")
    with LiveServer(threads=None, env=_server_env(tmp_path, WEB_CONCURRENCY="2")) as server:
        result = slow_clients.run(server.port, tenant.key, slow={"slowloris": 200, "slow_body": 50}, seconds=25,
                                  baseline=0, rate=5, read_rate=2)
    loaded = result["with_slow_clients"]
    assert result["pass"], result
    assert loaded["posts"]["requests"] == 125 and loaded["reads"]["requests"] == 50


# --- a graceful reload (item 10) -------------------------------------------------------------------------

def _client(port: int, key: str, stop: float, gap: float, keep_alive: bool, outcomes: list[tuple[float, str]]) -> None:
    """POSTs until `stop`, `gap` apart: each on a new connection (the real client) or all on one.
    Each outcome is (when it ended, status or exception name)."""
    conn = None
    while time.monotonic() < stop:
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
            conn.request("POST", "/api/v1/logs", body=LOG, headers={"X-API-Key": key, "Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            outcomes.append((time.monotonic(), str(response.status)))
            if not keep_alive or response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            outcomes.append((time.monotonic(), exc.__class__.__name__))
            conn = None
        time.sleep(gap)


def test_a_graceful_reload_answers_every_request(tmp_path: Path) -> None:
    """SIGHUP twice while 20 clients post: on new connections (as the real client does) and on
    kept-alive ones. No connection refused, reset or left unanswered; every log acknowledged, and
    logs acknowledged in the second after each reload (the reload happened under traffic)."""
    tenant = make_tenant("reload")
    outcomes: list[tuple[float, str]] = []
    reloads: list[float] = []
    with LiveServer(threads=None, env=_server_env(tmp_path, WEB_CONCURRENCY="2")) as server:
        stop = time.monotonic() + 9
        # Kept-alive clients that pause 2-5 s met gunicorn's 2 s cut of idle connections at a stop.
        clients = [threading.Thread(target=_client, args=(server.port, tenant.key, stop, gap, keep_alive, outcomes))
                   for gap in (0.02, 0.05, 0.1, 0.3, 0.7, 1.1, 1.6, 2.3) for keep_alive in (False, True)]
        clients += [threading.Thread(target=_client, args=(server.port, tenant.key, stop, gap, True, outcomes))
                    for gap in (2.6, 3.1, 3.7, 4.3)]
        for thread in clients:
            thread.start()
        for at in (2.5, 5.5):
            time.sleep(max(0.0, at - (9 - (stop - time.monotonic()))))
            server.signal(signal.SIGHUP)
            reloads.append(time.monotonic())
        for thread in clients:
            thread.join(15)
    statuses = [status for _, status in outcomes]
    tally = {status: statuses.count(status) for status in set(statuses)}
    assert set(tally) == {"201"}, tally
    # A count floor (once "> 500 in 9 s") measured the machine's load, not the reload: what
    # matters is that answers kept coming across each reload.
    for reload in reloads:
        assert any(reload < ended <= reload + 1.5 for ended, _ in outcomes), (reload, sorted(outcomes)[-5:])
    assert tally["201"] >= 2 * len(clients)
