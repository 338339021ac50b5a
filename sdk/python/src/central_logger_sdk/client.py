"""CentralLogger: non-blocking, batched, retried, idempotent log shipping."""
from __future__ import annotations

import atexit
import collections
import gzip
import http.client
import itertools
import json
import logging
import os
import random
import ssl
import threading
import time
import weakref
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .builder import Environment
from .spool import Spool, default_spool_dir
from .transport import Transport, safe_url

__all__ = ["CentralLogger"]

logger = logging.getLogger("central_logger_sdk")

SERVER_MAX_BATCH = 100
# spool_dir's default: a private directory under the user's state directory, when there is one.
AUTO_SPOOL = "auto"
_EXIT = object()
_MEMORY = "memory"
_SPOOL = "spool"

# An entry is (event_id or None, serialized log bytes).
Entry = Tuple[Optional[str], bytes]


def _json_default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        if obj.tzinfo is None:
            obj = obj.replace(tzinfo=timezone.utc)
        return obj.isoformat()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    return str(obj)


_dumps = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), default=_json_default, allow_nan=False
).encode


class CentralLogger:
    """Ships logs to a Central Logger collector from a background thread.

    ``ship_log`` (alias ``log``) only copies the dict and appends it to a
    bounded in-memory queue; a daemon worker thread serializes, batches and
    POSTs to ``{url}/api/v1/logs/batch``. No method ever raises; diagnostics go
    to the ``central_logger_sdk`` logger. See README.md for every option.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        environment: str = Environment.PRODUCTION,
        enabled: bool = True,
        batch_size: int = SERVER_MAX_BATCH,
        flush_interval: float = 1.0,
        max_queue_size: int = 10_000,
        timeout: float = 5.0,
        compress: bool = True,
        compress_min_bytes: int = 1024,
        compress_level: int = 1,
        max_batch_bytes: int = 5 * 1024 * 1024,
        backoff_base: float = 0.5,
        backoff_factor: float = 2.0,
        backoff_max: float = 30.0,
        max_retry_duration: float = 300.0,
        max_retry_after: float = 300.0,
        spool_dir: Optional[str] = AUTO_SPOOL,
        spool_max_bytes: int = 256 * 1024 * 1024,
        close_timeout: float = 5.0,
        flush_at_exit: bool = True,
        ssl_context: Optional[ssl.SSLContext] = None,
        user_agent: str = "central-logger-sdk/0.2",
        rng: Optional[random.Random] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api_key = api_key if isinstance(api_key, str) else ""
        self._url = safe_url(url) if isinstance(url, str) else "<invalid url>"
        self._environment = environment
        self._enabled = bool(enabled)
        self._disabled_reason = "disabled"
        self._batch_size = max(1, min(int(batch_size), SERVER_MAX_BATCH))
        self._flush_interval = max(0.001, float(flush_interval))
        self._max_queue = max(1, int(max_queue_size))
        self._timeout = float(timeout)
        self._compress = bool(compress)
        self._compress_min = int(compress_min_bytes)
        self._compress_level = max(1, min(9, int(compress_level)))
        self._max_batch_bytes = int(max_batch_bytes)
        self._backoff_base = float(backoff_base)
        self._backoff_factor = float(backoff_factor)
        self._backoff_max = float(backoff_max)
        self._max_retry_duration = float(max_retry_duration)
        self._max_retry_after = float(max_retry_after)
        self._close_timeout = float(close_timeout)
        self._rng = rng or random.Random()
        self._clock = clock

        self._transport: Optional[Transport] = None
        self._spool: Optional[Spool] = None
        if self._enabled:
            try:
                if not self._api_key or not self._api_key.isascii() or not self._api_key.isprintable() \
                        or " " in self._api_key:
                    raise ValueError("api_key is empty or not printable ASCII")
                if environment not in Environment.ALL:
                    logger.warning(
                        "central_logger_sdk: environment %r is not one of %s; the collector will reject logs",
                        environment, sorted(Environment.ALL),
                    )
                self._transport = Transport(url, self._api_key, ssl_context=ssl_context, user_agent=user_agent)
                if spool_dir == AUTO_SPOOL:
                    spool_dir = default_spool_dir(self._url, self._api_key)
                    if spool_dir is None:
                        logger.info("central_logger_sdk: no writable user directory for a spool; logs still "
                                    "undelivered when the process exits are lost (set spool_dir=...)")
                if spool_dir:
                    self._spool = Spool(spool_dir, spool_max_bytes)
            except Exception as exc:  # misconfiguration: disable, never raise
                logger.error("central_logger_sdk: disabled, invalid configuration: %s", self._redact(str(exc)))
                self._enabled = False
                self._disabled_reason = "misconfigured"

        self._init_state()
        self._refresh_spool()  # so flush() right after start-up waits for the replay
        _instances.add(self)
        if flush_at_exit:
            _atexit_instances.add(self)
        if self._enabled:
            self._ensure_worker()

    # ------------------------------------------------------------------ state
    def _init_state(self) -> None:
        self._pid = os.getpid()
        # event_id = 64 random bits per process (new after fork) + a counter:
        # unique like a uuid4 but ~30x cheaper on the caller's thread.
        self._eid_prefix = os.urandom(8).hex()
        self._eid_counter = itertools.count()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: "collections.deque[Tuple[dict, float]]" = collections.deque()
        self._worker: Optional[threading.Thread] = None
        self._closed = getattr(self, "_closed", False)
        self._closing = False
        self._deadline = 0.0
        self._flush_waiters = 0
        self._next_flush_at = 0.0
        self._in_flight = 0
        self._healthy = True
        self._spool_logs = 0
        self._spool_bytes = 0
        self._spool_retry_at = 0.0
        self._spool_attempt = 0
        self._last_error: Optional[str] = None
        # counters
        self._accepted = 0
        self._resolved = 0
        self._sent = 0
        self._duplicates = 0
        self._retried = 0
        self._retried_batches = 0
        self._batches = 0
        self._spooled_total = 0
        self._replayed = 0
        self._dropped: Dict[str, int] = collections.defaultdict(int)
        self._undelivered_reported = 0  # _undelivered() when flush()/close() last returned

    def _after_fork(self) -> None:
        """In a forked child: fresh lock, queue, counters and worker.

        Logs queued in the parent stay the parent's responsibility (they are
        not copied, so they are not sent twice); the child starts its own
        worker lazily on its first ship_log.
        """
        if self._transport is not None:
            self._transport.forget()
        self._init_state()
        try:
            self._refresh_spool()
        except Exception:
            pass

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is not None or self._closed or not self._enabled:
                return
            t = threading.Thread(target=self._run, name="central-logger-sdk-worker", daemon=True)
            self._worker = t
        t.start()

    def _redact(self, text: str) -> str:
        key = getattr(self, "_api_key", "")
        if key and text:
            text = text.replace(key, "***")
        return text

    def __repr__(self) -> str:
        return "<CentralLogger url=%r environment=%r enabled=%r>" % (
            self._url, self._environment, self._enabled)

    __str__ = __repr__

    # ------------------------------------------------------------- caller API
    def ship_log(self, log: Mapping[str, Any]) -> bool:
        """Queue one log; returns at once. True if queued, False if dropped."""
        try:
            if not self._enabled:
                self._count_drop(self._disabled_reason)
                return False
            if self._pid != os.getpid():
                self._after_fork()
            if self._closed:
                self._count_drop("closed")
                return False
            item = dict(log)
            if not item.get("event_id"):
                item["event_id"] = "%s%016x" % (self._eid_prefix, next(self._eid_counter))
            if "environment" not in item:
                item["environment"] = self._environment
            if self._worker is None:
                self._ensure_worker()
            with self._lock:
                q = self._queue
                if len(q) >= self._max_queue:
                    self._dropped["queue_full"] += 1
                    return False
                q.append((item, time.time()))
                self._accepted += 1
                if len(q) % self._batch_size == 0:
                    self._cond.notify_all()
            return True
        except Exception:
            self._count_drop("invalid")
            return False

    log = ship_log

    def _count_drop(self, reason: str, n: int = 1) -> None:
        try:
            with self._lock:
                self._dropped[reason] += n
        except Exception:
            pass

    def _undelivered(self) -> int:
        """Logs given to ship_log that will never be delivered (lock held): every drop but the
        deliberate ones of ``enabled=False``."""
        return sum(n for reason, n in self._dropped.items() if reason != "disabled")

    def _report_delivery(self, settled: bool) -> bool:
        """True when everything is settled and no log was lost since the previous report (lock held)."""
        lost = self._undelivered()
        ok = settled and lost == self._undelivered_reported
        self._undelivered_reported = lost
        return ok

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until everything shipped before this call has left memory and the spool is
        empty. Returns True only if the logs were delivered: False on timeout (logs still queued
        or spooled), and False when any log shipped since the previous flush()/close() was lost
        (rejected by the collector, e.g. a 401 for a revoked key, dropped because the queue or
        the spool was full, or unserializable): see stats() for which. Never raises."""
        try:
            timeout = self._close_timeout if timeout is None else float(timeout)
            if self._pid != os.getpid():
                self._after_fork()
            if self._enabled and not self._closed:
                self._ensure_worker()
            end = self._clock() + timeout
            with self._cond:
                target = self._accepted
                self._flush_waiters += 1
                self._cond.notify_all()
                try:
                    while not (self._resolved >= target and self._spool_logs == 0):
                        remaining = end - self._clock()
                        worker = self._worker
                        if remaining <= 0 or worker is None or not worker.is_alive():
                            return self._report_delivery(self._resolved >= target and self._spool_logs == 0)
                        self._cond.wait(min(remaining, 0.5))
                    return self._report_delivery(True)
                finally:
                    self._flush_waiters -= 1
        except Exception:
            logger.exception("central_logger_sdk: flush failed")
            return False

    def close(self, timeout: Optional[float] = None) -> bool:
        """Stop accepting logs, try to deliver what is queued within
        ``timeout`` seconds, then spool (if there is a spool: at the first failed
        attempt, without waiting out the timeout) or drop the rest. Returns True
        if no log shipped since the previous flush()/close() was lost (spooled
        logs are not lost: the next start delivers them). Never raises."""
        try:
            timeout = self._close_timeout if timeout is None else max(0.0, float(timeout))
            if self._pid != os.getpid():
                self._after_fork()
            with self._cond:
                already = self._closed
                self._closed = True
                if not self._closing:
                    self._closing = True
                    self._deadline = self._clock() + timeout
                self._cond.notify_all()
                worker = self._worker
            _atexit_instances.discard(self)
            if worker is not None and worker is not threading.current_thread():
                worker.join(timeout)
                if worker.is_alive() and self._transport is not None:
                    # stuck in a request: abort it so the worker can spool and exit
                    self._transport.abort()
                    worker.join(1.0)
            with self._cond:
                leftovers = list(self._queue)
                self._queue.clear()
            if leftovers:  # no (live) worker: handle the queue here
                self._spool_or_drop(self._serialize(leftovers), "close_timeout", from_memory=True)
            with self._lock:
                return not already and self._report_delivery(True)
        except Exception:
            logger.exception("central_logger_sdk: close failed")
            return False

    def stats(self) -> Dict[str, Any]:
        """Counters for monitoring (a snapshot; cheap). Never raises."""
        try:
            return self._stats()
        except Exception:
            return {}

    def _stats(self) -> Dict[str, Any]:
        with self._lock:
            dropped = dict(self._dropped)
            worker = self._worker
            return {
                "queued": len(self._queue),
                "in_flight": self._in_flight,
                "spooled": self._spool_logs,
                "accepted": self._accepted,
                "sent": self._sent,
                "duplicates": self._duplicates,
                "retried": self._retried,
                "retried_batches": self._retried_batches,
                "batches": self._batches,
                "spooled_total": self._spooled_total,
                "replayed": self._replayed,
                "dropped": dropped,
                "dropped_total": sum(dropped.values()),
                "healthy": self._healthy,
                "last_error": self._last_error,
                "worker_alive": bool(worker is not None and worker.is_alive()),
                "closed": self._closed,
                "spool_dir": self._spool.directory if self._spool is not None else None,
            }

    def __enter__(self) -> "CentralLogger":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> "CentralLogger":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aflush(self, timeout: Optional[float] = None) -> bool:
        """``flush`` for asyncio code: waits in a thread, the loop keeps running."""
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, self.flush, timeout)

    async def aclose(self, timeout: Optional[float] = None) -> bool:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, self.close, timeout)

    # ----------------------------------------------------------------- worker
    def _run(self) -> None:
        try:
            if self._spool is not None:
                self._spool.cleanup_stale_tmp()
                self._refresh_spool()
            while True:
                work = self._wait_for_work()
                if work is _EXIT:
                    break
                kind, items = work
                if kind == _MEMORY:
                    self._process_memory(items)
                else:
                    self._process_spool_file()
        except Exception:
            logger.exception("central_logger_sdk: worker crashed")
        finally:
            self._finish()

    def _wait_for_work(self):
        with self._cond:
            while True:
                now = self._clock()
                n = len(self._queue)
                if self._closing:
                    if n and now < self._deadline:
                        return _MEMORY, self._take()
                    return _EXIT
                if n >= self._batch_size:
                    return _MEMORY, self._take()
                if self._spool_logs and now >= self._spool_retry_at:
                    return _SPOOL, None
                if n and (self._flush_waiters or now >= self._next_flush_at):
                    self._next_flush_at = now + self._flush_interval
                    return _MEMORY, self._take()
                if not n:
                    self._next_flush_at = now + self._flush_interval
                    self._cond.notify_all()  # idle: wake flush() waiters
                wait = self._next_flush_at - now
                if self._spool_logs:
                    wait = min(wait, self._spool_retry_at - now)
                self._cond.wait(max(wait, 0.001))

    def _take(self) -> List[Tuple[dict, float]]:
        """Pop up to batch_size items (lock held)."""
        q = self._queue
        n = min(len(q), self._batch_size)
        items = [q.popleft() for _ in range(n)]
        self._in_flight += n
        return items

    def _resolve(self, n: int) -> None:
        with self._cond:
            self._resolved += n
            self._in_flight -= n
            self._cond.notify_all()

    def _serialize(self, items: List[Tuple[dict, float]]) -> List[Entry]:
        entries: List[Entry] = []
        bad = 0
        for log, ts in items:
            try:
                if "executed_at" not in log:
                    log["executed_at"] = datetime.fromtimestamp(ts, timezone.utc).isoformat()
                entries.append((log.get("event_id"), _dumps(log).encode("utf-8")))
                time.sleep(0)  # let the caller's threads take the GIL between logs
            except Exception as exc:
                bad += 1
                logger.warning("central_logger_sdk: dropping a log that cannot be serialized to JSON: %s",
                               self._redact(repr(exc)))
        if bad:
            self._count_drop("unserializable", bad)
        return entries

    def _process_memory(self, items: List[Tuple[dict, float]]) -> None:
        n = len(items)
        try:
            entries = self._serialize(items)
            if not entries:
                return
            if self._spool is not None and self._spool_logs and not self._healthy:
                # collector down and a backlog already on disk: keep order, go to disk
                self._spool_or_drop(entries, "spool_full", from_memory=False)
                return
            self._deliver(entries)
        except Exception:
            logger.exception("central_logger_sdk: unexpected error while delivering")
            self._count_drop("internal_error", n)
        finally:
            self._resolve(n)

    def _deliver(self, entries: List[Entry]) -> None:
        """Send memory entries, retrying until delivered, expired or closing."""
        pending = entries
        first_failure: Optional[float] = None
        attempt = 0
        while True:
            pending, retry_after = self._attempt(pending)
            if not pending:
                return
            attempt += 1
            now = self._clock()
            if first_failure is None:
                first_failure = now
            if self._closing and (now >= self._deadline or self._spool is not None):
                # Closing (the process is ending): with a spool, keep the logs on disk at once
                # for the next start rather than hold the exit retrying a collector that is down.
                self._spool_or_drop(pending, "close_timeout")
                return
            if now - first_failure >= self._max_retry_duration:
                self._spool_or_drop(pending, "retry_exhausted")
                return
            self._backoff_wait(self._retry_delay(attempt, retry_after))
            if self._closing and self._clock() >= self._deadline:
                self._spool_or_drop(pending, "close_timeout")
                return
            with self._lock:
                self._retried += len(pending)
                self._retried_batches += 1

    def _process_spool_file(self) -> None:
        spool = self._spool
        assert spool is not None
        files = spool.files()
        if not files:
            self._refresh_spool()
            return
        path = files[0][0]
        lines = spool.read(path)
        if lines is None:  # vanished (replayed by a sibling process) or unreadable
            self._refresh_spool()
            return
        entries: List[Entry] = [(None, line) for line in lines]
        if self._spool_attempt:
            with self._lock:
                self._retried += len(entries)
                self._retried_batches += 1
        pending, retry_after = self._attempt(entries)
        if not pending:
            spool.remove(path)
            self._spool_attempt = 0
            with self._lock:
                self._replayed += len(entries)
        else:
            if len(pending) < len(entries):
                spool.replace(path, [e[1] for e in pending])
                with self._lock:
                    self._replayed += len(entries) - len(pending)
            self._spool_attempt += 1
            delay = self._retry_delay(self._spool_attempt, retry_after)
            self._spool_retry_at = self._clock() + delay
        self._refresh_spool()

    def _refresh_spool(self) -> None:
        if self._spool is None:
            return
        _, logs, size = self._spool.pending()
        with self._cond:
            self._spool_logs = logs
            self._spool_bytes = size
            self._cond.notify_all()

    def _spool_or_drop(self, entries: List[Entry], reason: str, from_memory: bool = False) -> None:
        """Persist entries to the spool if configured, else count them dropped."""
        if not entries:
            return
        if self._spool is not None:
            ok = True
            for i in range(0, len(entries), self._batch_size):
                chunk = [e[1] for e in entries[i:i + self._batch_size]]
                if self._spool.write(chunk):
                    with self._lock:
                        self._spooled_total += len(chunk)
                else:
                    ok = False
                    self._count_drop("spool_full", len(chunk))
            if not ok:
                logger.warning("central_logger_sdk: spool %s is full; logs dropped", self._spool.directory)
            self._refresh_spool()
        else:
            self._count_drop(reason, len(entries))
            logger.warning("central_logger_sdk: dropped %d log(s) (%s)", len(entries), reason)
        if from_memory:
            with self._cond:
                self._resolved += len(entries)
                self._cond.notify_all()

    def _backoff_wait(self, delay: float) -> None:
        """Sleep ``delay`` seconds (cut short by close()). While the collector
        is down, queued logs are moved to the spool (if any) so the queue does
        not overflow."""
        end = self._clock() + delay
        while True:
            chunk = None
            with self._cond:
                now = self._clock()
                limit = min(end, self._deadline) if self._closing else end
                if now >= limit:
                    return
                if self._spool is not None and not self._closing and len(self._queue) >= self._batch_size:
                    chunk = self._take()
                else:
                    self._cond.wait(min(limit - now, self._flush_interval))
            if chunk is not None:
                try:
                    self._spool_or_drop(self._serialize(chunk), "spool_full")
                finally:
                    self._resolve(len(chunk))

    def _retry_delay(self, attempt: int, retry_after: Optional[float]) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self._max_retry_after)
        cap = min(self._backoff_max, self._backoff_base * (self._backoff_factor ** (attempt - 1)))
        return self._rng.uniform(0, cap)  # full jitter

    def _finish(self) -> None:
        """Worker exit: spool or drop whatever is still queued."""
        with self._cond:
            leftovers = list(self._queue)
            self._queue.clear()
            self._in_flight += len(leftovers)
        if leftovers:
            try:
                self._spool_or_drop(self._serialize(leftovers), "close_timeout")
            finally:
                self._resolve(len(leftovers))
        with self._cond:
            self._cond.notify_all()

    # --------------------------------------------------------------- sending
    def _attempt(self, entries: List[Entry]) -> Tuple[List[Entry], Optional[float]]:
        """Send entries (split into chunks of at most max_batch_bytes). Returns
        the entries still to retry and the server's Retry-After, if any."""
        chunks: List[List[Entry]] = []
        current: List[Entry] = []
        size = 0
        for e in entries:
            if current and size + len(e[1]) + 1 > self._max_batch_bytes:
                chunks.append(current)
                current, size = [], 0
            current.append(e)
            size += len(e[1]) + 1
        if current:
            chunks.append(current)
        for i, chunk in enumerate(chunks):
            pending, retry_after = self._send(chunk)
            if pending:
                rest = [e for c in chunks[i + 1:] for e in c]
                return pending + rest, retry_after
        return [], None

    def _send(self, entries: List[Entry]) -> Tuple[List[Entry], Optional[float]]:
        body = b'{"logs":[' + b",".join(e[1] for e in entries) + b"]}"
        gzipped = self._compress and len(body) > self._compress_min
        if gzipped:
            body = gzip.compress(body, compresslevel=self._compress_level, mtime=0)
        timeout = self._timeout
        if self._closing:
            timeout = max(0.05, min(timeout, self._deadline - self._clock()))
        assert self._transport is not None
        try:
            resp = self._transport.post(body, gzipped=gzipped, timeout=timeout)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self._note_failure("%s: %s" % (type(exc).__name__, exc))
            return entries, None
        status = resp.status
        if status in (200, 201, 202, 207):
            self._note_success()
            self._apply_results(entries, _parse_json(resp.body), status)
            return [], None
        if status in (408, 429) or 500 <= status <= 599:
            err = _error_of(_parse_json(resp.body))
            self._note_failure("HTTP %d %s" % (status, err.get("code") or ""))
            return entries, _parse_retry_after(resp.headers.get("retry-after"))
        self._note_success()  # the collector answered: it is up
        data = _parse_json(resp.body)
        err = _error_of(data)
        details = err.get("details") if isinstance(err.get("details"), dict) else {}
        if status == 400 and isinstance(details.get("results"), list):
            self._apply_results(entries, {"results": details["results"]}, status)
            return [], None
        code = err.get("code") or ""
        if len(entries) > 1 and (status == 413 or code in ("batch_too_large", "payload_too_large")):
            mid = len(entries) // 2
            logger.info("central_logger_sdk: batch of %d too large (HTTP %d %s); splitting",
                        len(entries), status, code)
            first, ra = self._send(entries[:mid])
            if first:
                return first + entries[mid:], ra
            return self._send(entries[mid:])
        with self._lock:
            self._dropped["rejected"] += len(entries)
            self._batches += 1
        logger.warning(
            "central_logger_sdk: collector rejected a batch of %d log(s) with HTTP %d (%s: %s); not retried",
            len(entries), status, code or "no_code", self._redact(str(err.get("message") or "")[:300]),
        )
        return [], None

    def _apply_results(self, entries: List[Entry], data: Any, status: int) -> None:
        results = data.get("results") if isinstance(data, dict) else None
        invalid: List[Tuple[int, Any]] = []
        dup = 0
        if isinstance(results, list):
            for r in results:
                if not isinstance(r, dict):
                    continue
                st = r.get("status")
                idx = r.get("index")
                if st == "invalid" and isinstance(idx, int) and 0 <= idx < len(entries):
                    invalid.append((idx, r.get("errors")))
                elif st == "duplicate":
                    dup += 1
        elif status == 400:
            invalid = [(i, None) for i in range(len(entries))]
        with self._lock:
            self._sent += len(entries) - len(invalid)
            self._duplicates += dup
            self._batches += 1
            if invalid:
                self._dropped["rejected"] += len(invalid)
        if invalid:
            shown = []
            for idx, errors in invalid[:10]:
                eid = entries[idx][0]
                if eid is None:
                    try:
                        eid = json.loads(entries[idx][1]).get("event_id")
                    except Exception:
                        eid = None
                shown.append("#%d event_id=%s errors=%s" % (
                    idx, eid, json.dumps(errors, ensure_ascii=False, default=str)[:500]))
            logger.warning(
                "central_logger_sdk: collector rejected %d invalid log(s) of %d (not resent): %s%s",
                len(invalid), len(entries), self._redact("; ".join(shown)),
                " ..." if len(invalid) > 10 else "",
            )

    def _note_failure(self, msg: str) -> None:
        msg = self._redact(msg)[:500]
        with self._lock:
            was_healthy = self._healthy
            self._healthy = False
            self._last_error = msg
        if was_healthy:
            logger.warning("central_logger_sdk: cannot deliver to %s (%s); retrying with backoff", self._url, msg)
        else:
            logger.debug("central_logger_sdk: delivery to %s failed again (%s)", self._url, msg)

    def _note_success(self) -> None:
        with self._lock:
            was_healthy = self._healthy
            self._healthy = True
        if not was_healthy:
            logger.info("central_logger_sdk: collector %s reachable again", self._url)


# ---------------------------------------------------------------- helpers
def _parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except Exception:
        return None


def _error_of(data: Any) -> Dict[str, Any]:
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return data["error"]
    return {}


def _parse_retry_after(value: Optional[str]) -> Optional[float]:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    except Exception:
        return None


# ------------------------------------------------------ fork and exit hooks
_instances: "weakref.WeakSet[CentralLogger]" = weakref.WeakSet()
_atexit_instances: "weakref.WeakSet[CentralLogger]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for inst in list(_instances):
        try:
            inst._after_fork()
        except Exception:
            pass


def _close_all_at_exit() -> None:
    for inst in list(_atexit_instances):
        try:
            inst.close(inst._close_timeout)
        except Exception:
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all_at_exit)
