"""psycopg's connection pool, serving again within a moment of PostgreSQL's return.

psycopg_pool retries a lost server with exponential backoff (1, 2, 4, 8, 16 s, ...): after an
outage of 20 s the first new connection came up to 16 s after PostgreSQL was back, after 35 s
up to 32 s (issue 19: reads answered 503 and ingestion kept spooling for 7.2 s and 23.1 s after
the outage). `RecoveringPool` changes three things:

* it retries every `DB_RECONNECT_INTERVAL` (0.25 s) for as long as it takes: a refused
  connection costs a fraction of a millisecond, so steady retries cost nothing while the server
  is away and find it back at once;
* when a connection comes back broken (the server went away, or our deadline cut it), it checks
  every idle connection at once, so the requests that follow do not each meet a dead one;
* when it connects again after failing to, it closes the ingestion circuit breaker
  (central_logger/dbguard.py): the server is back, so ingestion stops spooling without waiting
  out `DB_CIRCUIT_OPEN_SECONDS`.

Every wait for a connection also stops at the thread's database deadline (`getconn`). It
extends private methods of psycopg_pool 3.3 (`_add_connection`, `_return_connection`,
`_connect`), whose version is pinned; central_logger/tests/test_db_recovery.py and
scripts/recovery_drill.py hold the behaviour.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool
from psycopg_pool.base import AttemptWithBackoff

from central_logger import dbguard
from central_logger.background import FailureLog

# A check of the idle connections after a broken one, at most this often, each bounded.
CHECK_INTERVAL_SECONDS = 1.0
CHECK_DEADLINE_SECONDS = 1.0


class SteadyAttempt(AttemptWithBackoff):
    """Reconnection attempts at a steady interval instead of an exponential backoff."""

    DELAY_BACKOFF = 1.0

    def __init__(self, *, timeout: float, interval: float) -> None:
        super().__init__(timeout=timeout)
        self.INITIAL_DELAY = interval


class RecoveringPool(ConnectionPool):  # type: ignore[type-arg]
    def __init__(self, *args: Any, reconnect_interval: float = 0.25, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reconnect_interval = reconnect_interval
        self._next_check = 0.0
        self._check_lock = threading.Lock()
        self._unreachable = False
        # One line when the server becomes unreachable, one a minute, one when it is back (the
        # steady retries would otherwise log psycopg's warning four times a second; settings
        # raise the "psycopg.pool" logger to ERROR).
        self._failures = FailureLog(f"database pool {self.name!r}", logging.getLogger("central_logger.db"))

    def getconn(self, timeout: float | None = None) -> Any:
        """A connection, waiting at most DB_POOL_TIMEOUT and never past the thread's database
        deadline (dbguard.db_deadline): an ingestion request that already waited (for the pool,
        for its group commit) spools when its budget is spent instead of waiting a second more."""
        left = dbguard.remaining()
        if left is not None:
            timeout = max(min(self.timeout if timeout is None else timeout, left), 0.001)
        return super().getconn(timeout)

    def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        if attempt is None:
            attempt = SteadyAttempt(timeout=self.reconnect_timeout, interval=self.reconnect_interval)
        super()._add_connection(attempt, growing=growing)

    def _connect(self, timeout: float | None = None) -> Any:
        try:
            conn = super()._connect(timeout)
        except Exception as exc:
            self._unreachable = True
            self._failures.failed(exc, self.reconnect_interval)
            raise
        if self._unreachable:  # the server is back: ingestion may use it again at once
            self._unreachable = False
            self._failures.succeeded()
            dbguard.mark_success()
        return conn

    def _return_connection(self, conn: Any, from_getconn: bool) -> None:
        broken = conn.pgconn.transaction_status == TransactionStatus.UNKNOWN
        super()._return_connection(conn, from_getconn)
        if broken:
            self._check_idle_soon()

    def _check_idle_soon(self) -> None:
        """Check the idle connections in a thread of their own, at most once a second: after a
        restart of the server they are all dead, and each would fail a request."""
        with self._check_lock:
            now = time.monotonic()
            if now < self._next_check:
                return
            self._next_check = now + CHECK_INTERVAL_SECONDS
        threading.Thread(target=self._check_idle, name="pool-check", daemon=True).start()

    def _check_idle(self) -> None:
        # A frozen server never answers a check: each one waits at most the deadline.
        with dbguard.db_deadline(CHECK_DEADLINE_SECONDS):
            try:
                self.check()
            except Exception:  # a check that cannot run changes nothing; the next broken return retries
                pass
