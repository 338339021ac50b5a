"""HTTP transport (http.client, one keep-alive connection per worker)."""
from __future__ import annotations

import http.client
import socket
import ssl
import threading
from typing import Dict, Optional, Tuple
from urllib.parse import urlsplit, urlunsplit

BATCH_PATH = "/api/v1/logs/batch"


def safe_url(url: str) -> str:
    """The URL without any user:password part (for diagnostics)."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if parts.port:
            netloc = "%s:%d" % (netloc, parts.port)
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except Exception:
        return "<invalid url>"


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: Dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class Transport:
    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        ssl_context: Optional[ssl.SSLContext] = None,
        user_agent: str = "central-logger-sdk",
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be http(s)://host[:port][/prefix]")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self.path = parts.path.rstrip("/") + BATCH_PATH
        self._ssl_context = ssl_context
        self._headers = {
            "X-API-Key": api_key,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": user_agent,
        }
        self._conn: Optional[http.client.HTTPConnection] = None
        self._lock = threading.Lock()  # guards _conn against abort() from another thread

    def __repr__(self) -> str:  # never shows headers (the api key)
        return "Transport(%s)" % self.path

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=self._ssl_context
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def post(self, body: bytes, *, gzipped: bool, timeout: float) -> Response:
        """POST a batch body. Raises OSError/http.client.HTTPException on failure.

        A request on a reused keep-alive connection that fails before any
        response is retried once on a fresh connection (the server may have
        closed an idle connection); this is safe because logs carry event_ids.
        """
        headers = dict(self._headers)
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        with self._lock:
            conn = self._conn
            reused = conn is not None
            if conn is None:
                conn = self._conn = self._connect(timeout)
        try:
            return self._roundtrip(conn, body, headers, timeout)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.reset()
            if not reused:
                raise
            with self._lock:
                conn = self._conn = self._connect(timeout)
            try:
                return self._roundtrip(conn, body, headers, timeout)
            except BaseException:
                self.reset()
                raise
        except BaseException:
            self.reset()
            raise

    def _roundtrip(self, conn, body, headers, timeout) -> Response:
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        conn.request("POST", self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        if resp.will_close:
            self.reset()
        return Response(resp.status, hdrs, data)

    def reset(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def abort(self) -> None:
        """Interrupt an in-flight request from another thread (used by close)."""
        with self._lock:
            conn = self._conn
        sock = getattr(conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def forget(self) -> None:
        """After fork: drop the parent's connection without touching its socket."""
        self._conn = None
        self._lock = threading.Lock()
