"""Per-process background loops: each a daemon thread that runs a round every few seconds.

The spool drainer and the metrics rollup flusher both need the same thing: started once per
process (after gunicorn has forked it, so a fork is detected by pid), surviving any error of a
round, and giving its database connection back to the pool between rounds. The apps that own
them register them here from their AppConfig.ready(); gunicorn's worker hook starts them all.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from django.db import close_old_connections, connection

from central_logger import monitoring

logger = logging.getLogger("central_logger.background")


class ProcessLoop:
    def __init__(self, name: str, interval: Callable[[], float], round_: Callable[[], None]) -> None:
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
        while not self._stop.wait(interval):
            try:
                self._round()
                monitoring.background_round_done(self.name)
            except Exception:  # the loop must survive anything and try again next round
                logger.exception("%s: round failed; retrying in %ss", self.name, interval)
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
