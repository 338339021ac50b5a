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
after another timeout); the first request after that window tries the database again.
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

_lock = threading.Lock()
_open_until = 0.0


def circuit_open() -> bool:
    return time.monotonic() < _open_until


def mark_failure() -> None:
    global _open_until
    with _lock:
        _open_until = time.monotonic() + settings.DB_CIRCUIT_OPEN_SECONDS


def mark_success() -> None:
    global _open_until
    if _open_until:
        with _lock:
            _open_until = 0.0


def reset() -> None:
    """Close the breaker (tests)."""
    mark_success()
