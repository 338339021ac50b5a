"""Real receivers for the tests: an HTTP server on loopback that records what it is sent and
answers what the test tells it to, and an SMTP server (aiosmtpd) that keeps the messages."""
from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from central_logger.tests.live import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return orjson.loads(self.body)

    def signature_ok(self, secret: str) -> bool:
        """What a receiver does: recompute the HMAC of "<timestamp>.<raw body>"."""
        timestamp = self.headers.get("x-central-logger-timestamp", "")
        expected = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + self.body,
                                        hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("x-central-logger-signature", ""))


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1. `answers`: statuses to answer in turn (then 200 for ever)."""

    answers: list[int] = field(default_factory=list)
    delay: float = 0.0
    location: str | None = None  # answered with 3xx statuses
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    outer.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                   body, time.monotonic()))
                    status = outer.answers.pop(0) if outer.answers else 200
                if outer.delay:
                    time.sleep(outer.delay)
                self.send_response(status)
                if outer.location and 300 <= status < 400:
                    self.send_header("Location", outer.location)
                answer = b'{"ok": true}' if status < 300 else b"x" * 5000
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, condition: Callable[[list[Received]], bool], timeout: float) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if condition(list(self.received)):
                    return list(self.received)
            time.sleep(0.05)
        with self.lock:
            raise AssertionError(f"receiver: condition not met in {timeout}s; got {[r.json() for r in self.received]}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpServer:
    """aiosmtpd on 127.0.0.1 keeping every message it accepts."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                outer.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()
