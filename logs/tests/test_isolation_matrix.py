"""Tenant isolation matrix: with identical data in two tenants, every read endpoint, with every
filter, ordering and pagination mode, returns, counts and reveals only the caller's logs."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from conftest import Tenant
from logs.search_indexer import index_all
from logs.tests.factories import log_body

pytestmark = pytest.mark.django_db

WHEN = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).replace(microsecond=0)
SHARED = dict(
    executed_at=WHEN.isoformat().replace("+00:00", "Z"), environment="production", status="FAILED",
    category="billing", ticket_id="T-1", workflow_version="v9", resolution_status="ESCALATED",
    customer_type="VIP", workflow_error="boom", workflow_error_type="Timeout", workflow_error_node="llm",
    is_system_error=True, execution_time_seconds=7.5, metrics={"confidence": 0.4, "needs_more_info": True},
)
DAY = WHEN.date().isoformat()
FILTERS = [
    "", "environment=production", "environment=prod", "status=FAILED", "status=failed,ERROR", "category=billing",
    "ticket_id=T-1", "workflow_version=v9", "resolution_status=ESCALATED", "customer_type=VIP",
    "workflow_error_type=Timeout", "workflow_error_node=llm", "is_system_error=true", f"start_date={DAY}",
    f"end_date={DAY}", f"start_date={DAY}&end_date={DAY}", "min_execution_time=7", "max_execution_time=8",
    "q=boom", "q=billing", "q=T-1", "metrics.confidence=0.4", "metrics.confidence__lt=0.5",
    "metrics.confidence__gte=0.4", "metrics.needs_more_info=true", "metrics.needs_more_info__ne=false",
]
ORDERINGS = ["", "ordering=executed_at", "ordering=-executed_at", "ordering=execution_time_seconds",
             "ordering=-execution_time_seconds"]
METRICS = ["overview", "categories", "timeseries", "timeseries?interval=hour", "errors", "versions"]


@pytest.fixture
def two_tenants(alice: Tenant, bob: Tenant) -> tuple[set[str], set[str]]:
    mine = alice.api.post("/api/v1/logs/batch", {"logs": [log_body(**SHARED, event_id=f"e{i}") for i in range(2)]},
                          format="json").json()["ids"]
    theirs = bob.api.post("/api/v1/logs/batch", {"logs": [log_body(**SHARED, event_id=f"e{i}") for i in range(3)]},
                          format="json").json()["ids"]
    assert len(mine) == 2 and len(theirs) == 3
    index_all()  # searchable (the background indexer is off in tests)
    return set(mine), set(theirs)


# Every filter once, and every ordering once (with a filter, so both paths are exercised).
@pytest.mark.parametrize("params", FILTERS + [f"status=FAILED&{o}" for o in ORDERINGS if o])
def test_list_with_every_filter_and_ordering_sees_only_my_logs(alice: Tenant, two_tenants: Any, params: str) -> None:
    mine, theirs = two_tenants
    response = alice.api.get(f"/api/v1/logs?{params}")
    assert response.status_code == 200, response.content
    body = response.json()
    ids = {row["id"] for row in body["data"]}
    assert ids == mine
    assert body["pagination"]["total"] == 2


def test_pagination_and_cursor_never_cross_tenants(alice: Tenant, two_tenants: Any) -> None:
    mine, theirs = two_tenants
    page = alice.api.get("/api/v1/logs?page_size=1&page=2").json()
    assert page["pagination"]["total"] == 2 and page["pagination"]["pages"] == 2
    assert {r["id"] for r in page["data"]} <= mine
    seen: list[str] = []
    cursor = ""
    for _ in range(5):
        body = alice.api.get(f"/api/v1/logs?page_size=1&cursor={cursor}").json()
        seen += [r["id"] for r in body["data"]]
        cursor = body["pagination"]["next_cursor"]
        if not cursor:
            break
    assert set(seen) == mine and len(seen) == 2


def test_detail_of_another_tenants_log_is_404(alice: Tenant, bob: Tenant, two_tenants: Any) -> None:
    mine, theirs = two_tenants
    for log_id in theirs:
        response = alice.api.get(f"/api/v1/logs/{log_id}")
        assert response.status_code == 404 and log_id not in response.content.decode()
    for log_id in mine:
        assert alice.api.get(f"/api/v1/logs/{log_id}").status_code == 200
        assert bob.api.get(f"/api/v1/logs/{log_id}").status_code == 404


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
@pytest.mark.parametrize("query", ["", "status=FAILED", "q=boom", "metrics.confidence__lt=1"])
def test_export_contains_only_my_logs(alice: Tenant, two_tenants: Any, fmt: str, query: str) -> None:
    mine, theirs = two_tenants
    response = alice.api.get(f"/api/v1/logs/export?format={fmt}&{query}")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    assert all(log_id not in text for log_id in theirs)
    assert all(log_id in text for log_id in mine)
    lines = [line for line in text.splitlines() if line]
    assert len(lines) == (3 if fmt == "csv" else 2)
    if fmt == "ndjson":
        assert {json.loads(line)["id"] for line in lines} == mine


@pytest.mark.parametrize("endpoint", METRICS)
@pytest.mark.parametrize("query", ["", "environment=production", "category=billing", "workflow_version=v9"])
def test_metrics_count_only_my_logs(alice: Tenant, bob: Tenant, two_tenants: Any, endpoint: str, query: str) -> None:
    mine, theirs = two_tenants
    sep = "&" if "?" in endpoint else "?"
    body = alice.api.get(f"/api/v1/metrics/{endpoint}{sep}days=2&{query}").json()
    text = json.dumps(body)
    assert all(log_id not in text for log_id in theirs)
    if endpoint == "overview":
        assert body["total_tickets"] == 2 and body["error_count"] == 2
    elif endpoint.startswith("timeseries"):
        assert sum(bucket["count"] for bucket in body["data"]) == 2
    else:
        assert [row["count"] for row in body["data"]] == [2]
    if endpoint == "errors":
        assert body["data"][0]["latest_log_id"] in mine


def test_idempotency_keys_never_reveal_another_tenants_log(alice: Tenant, bob: Tenant, two_tenants: Any) -> None:
    mine, theirs = two_tenants
    # bob's event_ids e0..e2 exist; alice reusing e2 (which only bob has) creates her own log
    response = alice.api.post("/api/v1/logs", log_body(**SHARED, event_id="e2"), format="json")
    assert response.status_code == 201 and response.json()["id"] not in theirs
    again = alice.api.post("/api/v1/logs", log_body(**SHARED), format="json", HTTP_IDEMPOTENCY_KEY="e0")
    assert again.status_code == 200 and again.json()["id"] in mine


def test_unauthenticated_reads_are_401(anon: Any, two_tenants: Any) -> None:
    for path in ["/api/v1/logs", "/api/v1/logs/export", *[f"/api/v1/metrics/{m}" for m in METRICS]]:
        assert anon.get(path).status_code == 401, path
