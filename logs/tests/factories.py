"""Valid log bodies for tests, shaped like what the real ticket workflow sends."""
from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from django.utils import timezone

_BASE: dict[str, Any] = {
    "client_id": "whatever-the-client-says",
    "environment": "production",
    "workflow_version": "v1.2",
    "ticket_id": "12345",
    "executed_at": "2025-01-01T12:00:00Z",
    "execution_time_seconds": 5.2,
    "status": "SUCCESS",
    "category": "billing_issue",
    "resolution_status": "RESOLVED",
    "customer_type": "VIP",
    "workflow_error": None,
    "workflow_error_type": None,
    "workflow_error_node": None,
    "is_system_error": False,
    "ticket_subject_hash": "ab12",
    "requester_email_hash": "cd34",
    "metrics": {"overall_confidence": 0.95, "needs_more_info": False, "react_iterations": 3},
    "payload": {
        "trace": {
            "react_iterations": [
                {"iteration": 1, "thought": "Look up the invoice", "action": "lookup_order",
                 "action_input": {"query": "invoice 42"}, "observation": "Found it"},
            ],
        },
        "final_response": "Refund issued.",
    },
    "metadata": {"priority": "high", "ticket_tags": ["refund"]},
}


def log_body(**overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(_BASE)
    for key, value in overrides.items():
        if value is ...:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def ingest(tenant: Any, *bodies: dict[str, Any]) -> list[str]:
    """Store logs for `tenant` through the batch endpoint, as a client would; returns their ids."""
    response = tenant.api.post("/api/v1/logs/batch", {"logs": list(bodies)}, format="json")
    assert response.status_code == 201, response.content
    from logs.search_indexer import index_all

    index_all()  # searchable at once (the background indexer is off in tests)
    return response.json()["ids"]


def recent_log(hours_ago: float, **overrides: Any) -> dict[str, Any]:
    """A log executed `hours_ago` hours before now (inside the default metrics windows)."""
    return log_body(executed_at=(timezone.now() - dt.timedelta(hours=hours_ago)).isoformat(), **overrides)


# Every read endpoint; `{id}` is replaced by a log id in the tests that need it.
READ_ENDPOINTS = [
    "/api/v1/logs",
    "/api/v1/logs/{id}",
    "/api/v1/logs/export",
    "/api/v1/metrics/overview",
    "/api/v1/metrics/categories",
    "/api/v1/metrics/timeseries",
    "/api/v1/metrics/errors",
    "/api/v1/metrics/versions",
]
