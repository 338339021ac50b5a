"""Bounded waits on PostgreSQL, and a small circuit breaker for the ingestion path.

The real client posts each log once, with a 3-second timeout and no retry, so no request may
wait on the database without a bound. Timeouts on the server side (`statement_timeout`) do not
help when PostgreSQL is frozen (SIGSTOP, a stalled disk, a network partition): the kernel keeps
the TCP connection alive and the query simply never answers. So the bound is enforced on the
client side as well:

* `db_deadline(seconds)` sets a per-thread deadline (a context variable);
* `DeadlineConnection` (the psycopg connection class of the pool, see settings) passes the
  remaining time to every wait on the socket; when it runs out the connection is closed (its
  state is unknown, so it must never be reused) and `OperationalError` is raised, which the
  ingestion path answers by spooling and every other path by a 503.

A query that was cut off this way was never committed by us (we had not read the COMMIT's answer),
but the server may still commit it if the COMMIT had already left. Ingestion pre-assigns log ids
and the spool drainer inserts with ON CONFLICT DO NOTHING, so such a log is stored exactly once.

The breaker: after a connection-level failure, ingestion skips PostgreSQL for
`DB_CIRCUIT_OPEN_SECONDS` and goes straight to the spool (answers in milliseconds instead of
after another timeout); the first request after that window tries the database again. On a Citus
cluster a worker that is down opens the breaker of its tenants only (`node_failure`).
"""
from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from django.conf import settings
from psycopg import errors as _pg_errors

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("db_deadline", default=None)


class DeadlineExceeded(Exception):
    """Raised by `remaining()` callers that want to fail before starting work."""


@contextlib.contextmanager
def db_deadline(seconds: float | None) -> Iterator[None]:
    """Bound every PostgreSQL wait in this block (nested deadlines keep the earliest)."""
    if seconds is None:
        yield
        return
    new = time.monotonic() + seconds
    current = _deadline.get()
    token = _deadline.set(new if current is None else min(current, new))
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left before the current deadline (None: no deadline)."""
    deadline = _deadline.get()
    if deadline is None:
        return None
    return deadline - time.monotonic()


class DeadlineConnection(psycopg.Connection):  # type: ignore[type-arg]
    """A psycopg connection whose every socket wait honours the thread's `db_deadline`."""

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        left = remaining()
        if left is not None:
            left = max(left, 0.001)
            timeout = left if timeout is None else min(timeout, left)
        try:
            return super().wait(gen, interval=interval, timeout=timeout)
        except _pg_errors._WaitTimeout:
            # The server did not answer in time; the protocol state is now unknown, so the
            # connection is closed (the pool discards closed connections) rather than reused.
            self.pgconn.finish()
            raise psycopg.OperationalError("the database did not answer within the deadline") from None


# --- circuit breaker -------------------------------------------------------------------------------
#
# Two scopes. The database itself unavailable (no connection, no answer within the deadline, the
# pool exhausted): every tenant skips it. On a Citus cluster the coordinator may answer while one
# worker is down: it then raises a connection error of its own (SQLSTATE class 08, "connection to
# the remote node ... failed"), which only the tenants whose shards that worker holds get. Such a
# failure opens the breaker of that tenant alone, so the tenants on the live workers keep being
# stored (201) while the others spool (202).

_lock = threading.Lock()
_open_until = 0.0
_open_clients: dict[int, float] = {}  # client id -> monotonic time its breaker closes


def node_failure(exc: BaseException | None) -> bool:
    """Whether `exc` (Django's or psycopg's) is the database server telling us it could not reach
    another node: an error the server sent (it has a SQLSTATE) in class 08, connection exception.
    PostgreSQL alone never sends one (a broken connection to it has no SQLSTATE: the server could
    not say anything), Citus does when a worker is unreachable."""
    while exc is not None and not isinstance(exc, psycopg.Error):
        exc = exc.__cause__
    # diag: what the server sent (psycopg's own client-side errors have none).
    return isinstance(exc, psycopg.Error) and (exc.diag.sqlstate or "").startswith("08")


def circuit_open(client_id: int | None = None) -> bool:
    """Whether ingestion should skip the database: for everyone, or for this client (its worker)."""
    now = time.monotonic()
    if now < _open_until:
        return True
    return client_id is not None and _open_clients.get(client_id, 0.0) > now


def mark_failure(exc: BaseException | None = None, client_id: int | None = None) -> None:
    """A failure: of the node holding `client_id` when `exc` says so (`node_failure`), else of the
    database."""
    global _open_until
    until = time.monotonic() + settings.DB_CIRCUIT_OPEN_SECONDS
    with _lock:
        if client_id is not None and node_failure(exc):
            _open_clients[client_id] = until
        else:
            _open_until = until


def mark_success(client_id: int | None = None) -> None:
    global _open_until
    if _open_until or (client_id is not None and client_id in _open_clients):
        with _lock:
            _open_until = 0.0
            if client_id is not None:
                _open_clients.pop(client_id, None)


def reset() -> None:
    """Close every breaker (tests)."""
    global _open_until
    with _lock:
        _open_until = 0.0
        _open_clients.clear()
