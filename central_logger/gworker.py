"""The gunicorn worker of Central Logger: gthread, where a slow client costs no thread.

gunicorn's gthread worker hands a connection to a thread as soon as its first bytes arrive, and
the thread then reads the request line, the headers and the body with blocking reads: a client
trickling one byte a second holds a thread for as long as it likes (issue 19: 200 slowloris
connections and 50 slow bodies made 10 of 10 normal POSTs time out; a body shorter than its
Content-Length held a thread for over 150 s). `BufferingThreadWorker` reads every request in the
worker's main loop instead, non-blocking, as nginx does: a connection reaches a thread only once
its headers and its whole body (Content-Length) are in memory, so a thread only ever does the
request's own work, and no request holds a database connection while its body trickles in.

Bounds (settings, README "Slow clients"):
* `REQUEST_HEADER_TIMEOUT` (10 s): the request line and headers must have arrived by then;
* `REQUEST_BODY_TIMEOUT` (10 s): the longest silence while the body arrives;
* `REQUEST_TIMEOUT` (60 s): the whole request, however steadily it trickles;
  past any of them the connection gets `408 request_timeout` (the JSON envelope) and is closed;
* `REQUEST_BUFFER_BYTES` (64 MiB per worker): bytes held for requests still arriving. A request
  that would pass it, a body over `MAX_BATCH_BYTES` (which the app refuses with 413 unread),
  `Transfer-Encoding` (the app answers 411) and `Expect: 100-continue` go to a thread once their
  headers are complete, as with gthread, but every read of the rest waits at most
  `REQUEST_BODY_TIMEOUT`;
* the number of connections a worker holds is gunicorn's `worker_connections`.

Errors gunicorn answers itself, before the app (a malformed request line or header: 400; a
request line over `limit_request_line`: 414; headers over `limit_request_field_size` or
`limit_request_fields`: 431; ...), are answered in the API's JSON error envelope, not HTML.
"""
from __future__ import annotations

import errno
import re
import select
import selectors
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson
from gunicorn import http
from gunicorn.http.errors import NoMoreData
from gunicorn.workers.gthread import TConn, ThreadWorker

# The envelope's code for each status gunicorn (or this worker) answers by itself.
SERVER_ERROR_CODES = {
    400: "bad_request", 403: "permission_denied", 408: "request_timeout", 414: "uri_too_long",
    417: "expectation_failed", 431: "request_header_fields_too_large", 500: "internal_error",
    501: "not_implemented",
}
_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3}) ([^\r\n]*)")
_SWEEP_SECONDS = 0.5


class RequestTimedOut(NoMoreData):
    """The client sent nothing for REQUEST_BODY_TIMEOUT seconds (a NoMoreData: gunicorn closes
    the connection quietly; Django reports an unreadable body, answered 408 by
    central_logger.middleware.ReadBodyFirstMiddleware)."""

    def __str__(self) -> str:
        return "the client stopped sending"


class IdleTimeoutSocket:
    """What gunicorn's parser reads a connection's requests from: the socket, but no read waits
    longer than the timeout (only reached for what the main loop did not buffer)."""

    def __init__(self, sock: Any, timeout: float) -> None:
        self._sock = sock
        self._timeout: float | None = timeout

    def recv(self, size: int) -> bytes:
        ready, _, _ = select.select([self._sock], [], [], self._timeout)
        if not ready:
            raise RequestTimedOut()
        return self._sock.recv(size)

    def gettimeout(self) -> float | None:  # the parser bounds its drain of a keep-alive body with these
        return self._timeout

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout


class _Captured:
    """A stand-in socket that keeps what gunicorn writes (its HTML error page)."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0

    def setblocking(self, flag: bool) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self.data += data


def error_response(status: int, reason: str, message: str) -> bytes:
    body = orjson.dumps({"error": {"code": SERVER_ERROR_CODES.get(status, "bad_request"), "message": message,
                                   "details": {}}})
    return (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body


@dataclass
class _Arrival:
    """A request still arriving on a connection: read by the worker's main loop, no thread."""

    conn: TConn
    started: float
    last_read: float
    data: bytearray = field(default_factory=bytearray)
    head_end: int = -1  # where the body starts, once the headers are complete
    body_length: int = 0
    stream: bool = False  # hand over once the headers are complete; a thread reads the body


class BufferingThreadWorker(ThreadWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._arrivals: dict[int, _Arrival] = {}
        self._buffered = 0
        self._next_sweep = 0.0
        limit_head = self.cfg.limit_request_line + self.cfg.limit_request_fields * (self.cfg.limit_request_field_size + 2)
        self._max_head = limit_head + 4 if self.cfg.limit_request_line and self.cfg.limit_request_field_size else 1 << 20

    def load_wsgi(self) -> None:
        super().load_wsgi()
        from django.conf import settings  # configured now: the app is loaded

        self._header_timeout = float(settings.REQUEST_HEADER_TIMEOUT)
        self._body_timeout = float(settings.REQUEST_BODY_TIMEOUT)
        self._request_timeout = float(settings.REQUEST_TIMEOUT)
        self._buffer_limit = int(settings.REQUEST_BUFFER_BYTES)
        self._max_body = int(settings.MAX_BATCH_BYTES)

    # --- connections arrive in the main loop --------------------------------------------------------

    def accept(self, listener: Any) -> None:
        try:
            sock, addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, sock, addr, listener.getsockname())  # non-blocking
        if self.cfg.is_ssl:  # TLS bytes cannot be read here: gthread's way (TLS belongs to the proxy)
            self.enqueue_req(conn)
            return
        self._arrive(conn)

    def on_client_socket_readable(self, conn: TConn, client: Any) -> None:
        """A kept-alive connection sends its next request: buffered like the first."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._arrive(conn)

    def _arrive(self, conn: TConn) -> None:
        now = time.monotonic()
        arrival = _Arrival(conn, now, now)
        self._arrivals[id(conn)] = arrival
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, arrival))

    def _on_readable(self, arrival: _Arrival, sock: Any) -> None:
        try:
            chunk = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client went away before its request was complete
            self._drop(arrival)
            return
        arrival.data += chunk
        arrival.last_read = time.monotonic()
        self._buffered += len(chunk)
        if self._complete(arrival):
            self._hand_over(arrival)

    def _complete(self, arrival: _Arrival) -> bool:
        data = arrival.data
        if arrival.head_end < 0:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                # Too long to be a request head: gunicorn's parser answers 414 or 431 at once.
                first_line_too_long = data.find(b"\r\n", 0, self.cfg.limit_request_line + 2) < 0 and \
                    len(data) > self.cfg.limit_request_line + 2 > 2
                return len(data) > self._max_head or first_line_too_long
            arrival.head_end = end + 4
            self._read_head(arrival, bytes(data[:end]))
        return arrival.stream or len(data) - arrival.head_end >= arrival.body_length

    def _read_head(self, arrival: _Arrival, head: bytes) -> None:
        """Content-Length says when the request is complete. Anything else that concerns the body
        (Transfer-Encoding, Expect, several or malformed lengths, a line that is not a header)
        goes to gunicorn's parser as soon as the headers are in: it answers such heads itself."""
        lengths = []
        for line in head.split(b"\r\n")[1:]:
            name, sep, value = line.partition(b":")
            name = name.strip().lower()
            if not sep or name in (b"transfer-encoding", b"expect"):
                arrival.stream = True
            elif name == b"content-length":
                lengths.append(value.strip())
        if len(lengths) > 1 or (lengths and not lengths[0].isdigit()):
            arrival.stream = True
        if arrival.stream:
            return
        arrival.body_length = int(lengths[0]) if lengths else 0
        if arrival.body_length > self._max_body or self._buffered + arrival.body_length > self._buffer_limit:
            arrival.stream = True

    def _hand_over(self, arrival: _Arrival) -> None:
        """The request is in memory (or must be streamed): a thread serves it now."""
        conn = arrival.conn
        self._forget(arrival)
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, IdleTimeoutSocket(conn.sock, self._body_timeout), conn.client)
        pending = conn.parser.unreader.take_buffered()  # normally empty: read-ahead of a previous request
        conn.parser.unreader.unread(pending + bytes(arrival.data))
        conn.data_ready = True
        self.enqueue_req(conn)

    def _forget(self, arrival: _Arrival) -> None:
        self._arrivals.pop(id(arrival.conn), None)
        self._buffered -= len(arrival.data)
        try:
            self.poller.unregister(arrival.conn.sock)
        except (KeyError, ValueError, OSError):
            pass

    def _drop(self, arrival: _Arrival, answer: bytes = b"") -> None:
        self._forget(arrival)
        self.nr_conns -= 1
        if answer:
            try:
                arrival.conn.sock.send(answer)  # non-blocking, best effort
            except OSError:
                pass
        arrival.conn.close()

    def murder_pending(self) -> None:
        """Also time out requests that arrive too slowly (checked twice a second)."""
        super().murder_pending()
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_SECONDS
        for arrival in list(self._arrivals.values()):
            if arrival.head_end < 0:
                deadline = arrival.started + self._header_timeout
            else:
                deadline = min(arrival.last_read + self._body_timeout, arrival.started + self._request_timeout)
            if now >= deadline:
                self.log.info("request from %s timed out after %.1f s (%d bytes received)",
                              arrival.conn.client[0] if arrival.conn.client else "?", now - arrival.started,
                              len(arrival.data))
                self._drop(arrival, error_response(408, "Request Timeout", "The request did not arrive in time."))

    # --- a graceful stop (SIGHUP, SIGTERM) -------------------------------------------------------------

    def _cap_keepalive(self, deadline: float) -> None:
        """Kept-alive connections keep their usual keepalive timeout when the worker stops.

        gunicorn closes them within 2 s of the stop. A client that sends its next request on one
        just as it is closed sees a broken pipe: a lost log if it never retries (measured: 2-3
        of ~500 requests per reload with clients reusing connections). Kept open, a request that
        comes is answered with `Connection: close` (the worker is stopping), and a connection
        that stays idle is closed at the same moment it would have been without the reload."""

    def finish_request(self, conn: TConn, fs: Any) -> None:
        """The same for a connection whose answer, begun before the stop, promised keep-alive."""
        super().finish_request(conn, fs)
        if not self.alive and self.keepalived_conns and self.keepalived_conns[-1] is conn:
            conn.set_timeout()  # the usual keepalive; appended last, so the deque stays in order

    # --- gunicorn's own error answers, in the envelope ---------------------------------------------------

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """gunicorn decides the status and logs as usual; the answer is the JSON envelope."""
        captured = _Captured()
        super().handle_error(req, captured, addr, exc)
        match = _STATUS_LINE.match(captured.data)
        status, reason = (int(match.group(1)), match.group(2).decode("latin-1")) if match else (500, "Internal Server Error")
        message = reason if status >= 500 else f"{reason}: {exc}"[:300]
        try:
            client.sendall(error_response(status, reason, message))
        except OSError:
            self.log.debug("Failed to send error message.")
