"""Optional read replica for dashboard reads (`DATABASE_REPLICA_URL`).

Dashboards read much and tolerate a replica's lag of a second or so; ingestion, key lookups,
the admin and anything that must read its own writes must not. So routing is opt-in per
request, not per model: `ReplicaMiddleware` marks safe GET requests to the list, export and
metrics endpoints, and `ReplicaRouter` sends the log reads made while handling them to the
`replica` alias. Everything else (every write, every other read) uses `default`.

The replica is used only while it is fresh and reachable (`replica_usable`): a check per
process at most every REPLICA_CHECK_INTERVAL seconds (one query on each server: the primary's
WAL position, and whether the replica has replayed it; if not, its lag is the time since this
process last saw it caught up, or the age of its last replayed commit if that is less). Behind by more than REPLICA_MAX_LAG_SECONDS, unreachable, or no longer in recovery (it was
promoted): skipped, and the request reads from the primary. A replica that fails during a
request (its connection breaks, the pool cannot reach it) is marked down and the request runs
once more on the primary; an export already streaming cannot start again (its download ends
early).
"""
from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse

from central_logger import dbguard

logger = logging.getLogger("central_logger.replica")
_use_replica: ContextVar[bool] = ContextVar("use_replica", default=False)
_failures: ContextVar[list[str] | None] = ContextVar("replica_failures", default=None)
# GET /api/v1/logs (list), /api/v1/logs/export, /api/v1/metrics/*: not /api/v1/logs/<id>, which
# a client may fetch right after creating it.
REPLICA_PATHS = re.compile(r"^/api/v1/(logs/?$|logs/export/?$|metrics/)")
CHECK_DEADLINE = 0.5  # seconds: a replica that cannot answer the check in time is skipped


def reading_from_replica() -> bool:
    return _use_replica.get()


@dataclass(frozen=True)
class ReplicaState:
    usable: bool
    lag: float | None  # seconds behind the primary; None when unknown
    reason: str  # why not usable ("" when usable)
    checked: float  # time.monotonic() of the check


_state: ReplicaState | None = None
_caught_up_at: float | None = None  # time.monotonic() of the last check that found it caught up
_checking = threading.Lock()


def configured() -> bool:
    return "replica" in settings.DATABASES


def _measure() -> ReplicaState:
    """One check: the primary's WAL position, then whether the replica has replayed it."""
    with dbguard.db_deadline(CHECK_DEADLINE):
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()::text")
            position = cursor.fetchone()[0]
        with connections["replica"].cursor() as cursor:
            cursor.execute(
                "SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, false), "
                "extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8", [position])
            recovering, caught_up, age = cursor.fetchone()
    global _caught_up_at
    now = time.monotonic()
    if not recovering:
        return ReplicaState(False, None, "not a replica (promoted?)", now)
    if caught_up:
        _caught_up_at, lag = now, 0.0
    else:
        # Two upper bounds of its staleness: since this process last saw it hold everything the
        # primary had written, and the age of the last commit it replayed (pessimistic after the
        # primary was idle). The smaller one.
        bounds = [now - _caught_up_at] if _caught_up_at is not None else []
        bounds += [float(age)] if age is not None else []
        lag = min(bounds) if bounds else None
    if lag is None or lag > settings.REPLICA_MAX_LAG_SECONDS:
        return ReplicaState(False, lag, f"behind by more than {settings.REPLICA_MAX_LAG_SECONDS:g} s", now)
    return ReplicaState(True, lag, "", now)


def replica_state(*, refresh: bool = False) -> ReplicaState:
    """The replica's state as this process last saw it, checked again when older than
    REPLICA_CHECK_INTERVAL (by one thread; the others use the last answer meanwhile)."""
    global _state
    state = _state
    fresh = state is not None and time.monotonic() - state.checked < settings.REPLICA_CHECK_INTERVAL
    if (fresh and not refresh) or not _checking.acquire(blocking=state is None or refresh):
        assert state is not None
        return state
    try:
        try:
            state = _measure()
        except Exception as exc:  # unreachable, too slow, a broken pool: skip it until the next check
            _close_replica()
            state = ReplicaState(False, None, f"unreachable ({exc.__class__.__name__})", time.monotonic())
        if _state is None or state.usable != _state.usable:
            logger.log(logging.INFO if state.usable else logging.WARNING, "replica %s%s",
                       "in use" if state.usable else "skipped: ", state.reason)
        _state = state
        return state
    finally:
        _checking.release()


def replica_usable() -> bool:
    return configured() and replica_state().usable


def note_failure(alias: str) -> None:
    """A database error on the replica's connection (called by the backend): the replica is
    skipped until the next check, and the current request is run again on the primary."""
    global _state
    if alias != "replica":
        return
    _state = ReplicaState(False, None, "failed during a request", time.monotonic())
    failures = _failures.get()
    if failures is not None:
        failures.append(alias)


def _close_replica() -> None:
    try:
        connections["replica"].close()
    except Exception:  # a broken connection may fail to close; it is discarded either way
        logger.debug("replica: closing a broken connection failed", exc_info=True)


def forget() -> None:
    """Forget the last check (tests)."""
    global _state, _caught_up_at
    _state = _caught_up_at = None


def readiness() -> dict[str, Any]:
    """Readiness detail: the replica's state. Never unready: reads fall back to the primary."""
    state = replica_state()
    out: dict[str, Any] = {"ok": True, "in_use": state.usable, "lag_seconds": state.lag}
    if not state.usable:
        out["warning"] = f"replica not used: {state.reason}"
    return out


class ReplicaRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        if not _use_replica.get():
            return None
        return "replica" if model._meta.app_label == "logs" else None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return True  # the replica holds the same rows

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return db == "default"  # the replica follows the primary by streaming replication


def _on_replica(chunks: Iterator[Any]) -> Iterator[Any]:
    """A streaming response's chunks, each read while routed to the replica (the export's rows
    are read as the download goes, after the middleware has returned)."""
    while True:
        token = _use_replica.set(True)
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        finally:
            _use_replica.reset(token)
        yield chunk


class ReplicaMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD") or not REPLICA_PATHS.match(request.path) or not replica_usable():
            return self.get_response(request)
        failures: list[str] = []
        token, failures_token = _use_replica.set(True), _failures.set(failures)
        try:
            response = self.get_response(request)
        finally:
            _use_replica.reset(token)
            _failures.reset(failures_token)
        if failures:
            logger.warning("replica failed during %s; answering from the primary", request.path)
            _close_replica()
            return self.get_response(request)
        if response.streaming:
            response.streaming_content = _on_replica(iter(response.streaming_content))
        return response
