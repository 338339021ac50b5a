"""PostgreSQL stores a batch with one statement (INSERT from arrays, event ids claimed in it),
retried event_ids included: every new log exactly once, byte for byte, and counted."""
from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import Tenant
from logs.models import WorkflowLog
from logs.tests.factories import log_body, recent_log

BATCH_URL = "/api/v1/logs/batch"


def log_writes(queries: list[dict[str, Any]]) -> list[str]:
    """One "INSERT" per statement writing logs (with event ids, it starts with the CTE that
    claims them)."""
    return ["INSERT" for q in queries if "INSERT INTO workflow_logs" in q["sql"]]


def post_batch(tenant: Tenant, *bodies: dict[str, Any]) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = tenant.api.post(BATCH_URL, {"logs": list(bodies)}, format="json")
    return response, log_writes(queries.captured_queries)


def test_a_new_batch_is_one_insert_and_is_counted(alice: Tenant) -> None:
    response, writes = post_batch(alice, recent_log(1, event_id="a"), recent_log(2), recent_log(3, status="FAILED"))
    assert response.status_code == 201, response.content
    assert writes == ["INSERT"]
    assert [r["status"] for r in response.json()["results"]] == ["created"] * 3
    assert WorkflowLog.objects.filter(client=alice.client).count() == 3
    listed = alice.api.get("/api/v1/logs", {"status": "FAILED"}).json()
    assert listed["pagination"]["total"] == 1  # the rollup saw the new rows
    assert alice.api.get("/api/v1/metrics/overview", {"days": 1}).json()["total_tickets"] == 3


def test_a_retried_event_id_stores_each_log_once(alice: Tenant) -> None:
    first, _ = post_batch(alice, recent_log(1, event_id="e1"), recent_log(1, event_id="e2"))
    again, writes = post_batch(alice, recent_log(1, event_id="e0"), recent_log(1, event_id="e2"),
                               recent_log(1), recent_log(1, event_id="e3"))
    assert again.status_code == 201, again.content
    assert writes == ["INSERT"]  # ON CONFLICT skipped e2; one lookup found its id
    data = again.json()
    assert [r["status"] for r in data["results"]] == ["created", "duplicate", "created", "created"]
    assert data["ids"][1] == first.json()["ids"][1]
    stored = WorkflowLog.objects.filter(client=alice.client)
    assert stored.count() == 5
    assert sorted(e for e in stored.values_list("event_id", flat=True) if e) == ["e0", "e1", "e2", "e3"]
    assert alice.api.get("/api/v1/logs").json()["pagination"]["total"] == 5
    assert alice.api.get("/api/v1/metrics/overview", {"days": 1}).json()["total_tickets"] == 5


def test_another_tenants_event_id_does_not_conflict(alice: Tenant, bob: Tenant) -> None:
    post_batch(alice, recent_log(1, event_id="shared"), recent_log(1, event_id="other"))
    response, writes = post_batch(bob, recent_log(1, event_id="shared"), recent_log(1, event_id="other"))
    assert response.status_code == 201
    assert writes == ["INSERT"]
    assert [r["status"] for r in response.json()["results"]] == ["created", "created"]


# Characters that text formats give meaning to (backslashes, tabs, newlines, \N for NULL):
# every one must come back as sent, in columns and inside the JSON.
TRICKY = "back\\slash \\N tab\there\nnew line \r \\. quote\" é 日本 \U0001F600"


def test_a_batch_keeps_every_character(alice: Tenant) -> None:
    body = log_body(
        ticket_id="\\N", workflow_error=TRICKY, workflow_error_type="\\N", category="a\tb",
        metrics={"note": TRICKY, "\\N": 1.5, "big": 12345678901234567890},
        payload={"trace": {"react_iterations": [{"thought": TRICKY, "action_input": {"q": "\\\\N"}}]}},
        metadata={"k": "\\"}, status="FAILED",
    )
    response, writes = post_batch(alice, body, log_body(ticket_id=None, workflow_error_node=""))
    assert response.status_code == 201, response.content
    assert writes == ["INSERT"]
    first, second = response.json()["ids"]
    detail = alice.api.get(f"/api/v1/logs/{first}").json()
    for field in ("ticket_id", "workflow_error", "workflow_error_type", "category", "metrics", "payload", "metadata"):
        assert detail[field] == body[field], field
    other = alice.api.get(f"/api/v1/logs/{second}").json()
    assert other["ticket_id"] is None  # NULL stays NULL, not the text "None" or ""
    assert other["workflow_error_node"] == ""
