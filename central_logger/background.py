"""Per-process background loops: each a daemon thread that runs a round every few seconds.

The spool drainer, the metrics rollup flusher and the key snapshot's sync all need the same
thing: started once per process (after gunicorn has forked it, so a fork is detected by pid),
surviving any error of a round, and giving its database connection back to the pool between
rounds. The apps that own them register them here from their AppConfig.ready(); gunicorn's
worker hook starts them all.

A loop logs its state changes, not every failed round: one line when its rounds start failing
(a full traceback only for an error that is not the database being unavailable), one a minute
while they keep failing, one when a round succeeds again. During a database outage that is
three lines per loop and worker, not a traceback every second (issue 19).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

import psycopg
from django.db import InterfaceError, OperationalError, close_old_connections, connection

from central_logger import monitoring

logger = logging.getLogger("central_logger.background")
# While rounds keep failing, one line this often (seconds).
STILL_FAILING_EVERY = 60.0


# What a round returns when it did not get to try (another process holds the work): neither a
# success nor a failure for the log of its state.
SKIPPED = object()


class DatabaseUnavailable(Exception):
    """A round could not reach the database (raised by rounds that catch the error themselves)."""


def _unavailable(exc: BaseException) -> bool:
    return isinstance(exc, (OperationalError, InterfaceError, DatabaseUnavailable, psycopg.OperationalError))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0][:200]}" if text else exc.__class__.__name__


class FailureLog:
    """The failing/succeeding state of something that retries (a loop's rounds, a pool's
    connection attempts), and one log line per change of it."""

    def __init__(self, name: str, log: logging.Logger = logger) -> None:
        self.name = name
        self.log = log
        self.failing_since: float | None = None
        self.failure: str | None = None  # the kind of failure last reported
        self.reported_at = 0.0
        self._lock = threading.Lock()

    def failed(self, exc: BaseException, interval: float) -> None:
        now = time.monotonic()
        kind = "database unavailable" if _unavailable(exc) else exc.__class__.__name__
        with self._lock:
            if self.failing_since is None or kind != self.failure:
                self.failing_since = self.failing_since or now
                self.failure, self.reported_at = kind, now
                if _unavailable(exc):
                    self.log.warning("%s: database unavailable (%s); retrying every %ss", self.name, _describe(exc),
                                     interval)
                else:
                    self.log.error("%s: failed; retrying every %ss", self.name, interval, exc_info=exc)
            elif now - self.reported_at >= STILL_FAILING_EVERY:
                self.reported_at = now
                self.log.warning("%s: still failing after %.0f s (%s)", self.name, now - self.failing_since,
                                 _describe(exc))

    def succeeded(self) -> None:
        if self.failing_since is None:
            return
        with self._lock:
            if self.failing_since is not None:
                self.log.warning("%s: back after %.1f s (%s)", self.name, time.monotonic() - self.failing_since,
                                 self.failure)
                self.failing_since = self.failure = None


class ProcessLoop:
    def __init__(self, name: str, interval: Callable[[], float], round_: Callable[[], object]) -> None:
        self.name = name
        self._interval = interval  # read at start, so settings can change between tests
        self._round = round_
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stop = threading.Event()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _running(self) -> bool:
        return self._thread is not None and self._pid == os.getpid() and self._thread.is_alive()

    def _run(self, interval: float) -> None:
        health = FailureLog(self.name)
        while not self._stop.wait(interval):
            try:
                outcome = self._round()
            except Exception as exc:  # the loop must survive anything and try again next round
                health.failed(exc, interval)
            else:
                if outcome is not SKIPPED:
                    health.succeeded()
                monitoring.background_round_done(self.name)
            finally:
                close_old_connections()
                connection.close()  # give the connection back to the pool between rounds

    def ensure(self) -> None:
        """Start this process's thread once; a no-op when the interval is 0 (off)."""
        interval = self._interval()
        if interval <= 0 or self._running():
            return
        with self._lock:
            if self._running():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, args=(interval,), name=self.name, daemon=True)
            self._pid = os.getpid()
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop this process's thread (tests; gunicorn simply exits)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None


# The loops of this process, registered by the apps that own them (their AppConfig.ready()).
_registered: list[ProcessLoop] = []


def register(loop: ProcessLoop) -> ProcessLoop:
    if loop not in _registered:
        _registered.append(loop)
    return loop


def ensure_all() -> None:
    """Start every registered loop that is not running in this process (gunicorn's worker hook;
    ingestion calls it too, for servers without that hook)."""
    for loop in _registered:
        loop.ensure()


def stop_all() -> None:
    """Stop every registered loop of this process (tests)."""
    for loop in _registered:
        loop.stop()
