"""Optional read replica for dashboard reads (`DATABASE_REPLICA_URL`).

Dashboards read much and tolerate a replica's lag of a second or so; ingestion, key lookups,
the admin and anything that must read its own writes must not. So routing is opt-in per
request, not per model: `ReplicaMiddleware` marks safe GET requests to the list, export and
metrics endpoints, and `ReplicaRouter` sends the ORM reads made while handling them to the
`replica` alias. Everything else (every write, every other read) uses `default`.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse

_use_replica: ContextVar[bool] = ContextVar("use_replica", default=False)
# GET /api/v1/logs (list), /api/v1/logs/export, /api/v1/metrics/*: not /api/v1/logs/<id>, which
# a client may fetch right after creating it.
REPLICA_PATHS = re.compile(r"^/api/v1/(logs/?$|logs/export/?$|metrics/)")


def reading_from_replica() -> bool:
    return _use_replica.get()


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


class ReplicaMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD") or not REPLICA_PATHS.match(request.path):
            return self.get_response(request)
        token = _use_replica.set(True)
        try:
            return self.get_response(request)
        finally:
            _use_replica.reset(token)
