"""The optional dashboard replica: which requests' reads may go to it (the router alone; a real
streaming replica is in test_replica_live.py)."""
from __future__ import annotations

from typing import Any

import pytest
from django.db import router
from django.http import HttpResponse
from django.test import RequestFactory

from central_logger import replica
from central_logger.replica import ReplicaMiddleware, ReplicaRouter
from logs.models import WorkflowLog
from tenants.models import ApiKey


def route(method: str, path: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    replica_router = ReplicaRouter()

    def view(request: Any) -> HttpResponse:
        seen["logs"] = replica_router.db_for_read(WorkflowLog)
        seen["keys"] = replica_router.db_for_read(ApiKey)
        seen["write"] = replica_router.db_for_write(WorkflowLog)
        return HttpResponse()

    ReplicaMiddleware(view)(getattr(RequestFactory(), method)(path))
    return seen


@pytest.fixture
def usable(monkeypatch: Any) -> None:
    monkeypatch.setattr(replica, "replica_usable", lambda: True)


@pytest.mark.parametrize("path", ["/api/v1/logs", "/api/v1/logs/export", "/api/v1/metrics/overview"])
def test_dashboard_reads_go_to_the_replica(path: str, usable: None) -> None:
    assert route("get", path) == {"logs": "replica", "keys": None, "write": "default"}


def test_a_replica_not_usable_is_skipped(monkeypatch: Any) -> None:
    monkeypatch.setattr(replica, "replica_usable", lambda: False)
    assert route("get", "/api/v1/logs")["logs"] is None


@pytest.mark.parametrize("method,path", [
    ("post", "/api/v1/logs"), ("post", "/api/v1/logs/batch"),
    ("get", "/api/v1/logs/0190d9c4-0000-7000-8000-000000000000"), ("get", "/health"),
])
def test_writes_and_read_your_writes_stay_on_the_primary(method: str, path: str, usable: None) -> None:
    assert route(method, path)["logs"] is None


def test_outside_a_request_everything_uses_default() -> None:
    assert router.db_for_read(WorkflowLog) == "default"
    assert ReplicaRouter().allow_migrate("replica", "logs") is False
