"""GET /api/v1/logs/export: streamed CSV and NDJSON with the list's filters."""
from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from conftest import Tenant
from logs.tests.factories import ingest, log_body

pytestmark = pytest.mark.django_db
URL = "/api/v1/logs/export"


@pytest.fixture
def logs(alice: Tenant, bob: Tenant) -> list[str]:
    ids = ingest(
        alice,
        log_body(ticket_id="A-1", executed_at="2025-01-01T10:00:00Z", status="SUCCESS", execution_time_seconds=1.5,
                 metrics={"overall_confidence": 0.9, "needs_more_info": False}),
        log_body(ticket_id="A-2", executed_at="2025-01-02T10:00:00Z", status="FAILED", execution_time_seconds=None,
                 category="=HYPERLINK(\"http://evil\")", workflow_error="Timeout, then \"retry\"\nfailed",
                 metrics={"overall_confidence": 0.2, "tools": ["crm", "kb"]}),
    )
    ingest(bob, log_body(ticket_id="B-1", executed_at="2025-01-01T11:00:00Z", metrics={"bob_only": 1}))
    return ids


def content(response: Any) -> bytes:
    assert response.status_code == 200, response.content if not response.streaming else ""
    assert response.streaming
    return b"".join(response.streaming_content)


def test_csv_has_header_and_flattened_metrics_columns(alice: Tenant, logs: list[str]) -> None:
    response = alice.api.get(URL)  # csv is the default
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="logs-alice-')
    assert response["Content-Disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(content(response).decode())))
    header = list(rows[0])
    assert header[:3] == ["id", "event_id", "environment"]
    assert "metrics" not in header and "payload" not in header
    # the union of metric keys (sorted); bob's key is not there
    assert header[-3:] == ["metrics.needs_more_info", "metrics.overall_confidence", "metrics.tools"]
    assert [row["ticket_id"] for row in rows] == ["A-2", "A-1"]  # newest first, only alice's
    newest, oldest = rows
    assert newest["id"] == logs[1] and newest["status"] == "FAILED"
    assert newest["execution_time_seconds"] == "" and newest["metrics.needs_more_info"] == ""
    assert newest["metrics.tools"] == '["crm","kb"]'
    assert newest["workflow_error"] == 'Timeout, then "retry"\nfailed'  # quoted, round-trips
    assert newest["category"] == "'=HYPERLINK(\"http://evil\")"  # never runs as a formula
    assert oldest["executed_at"] == "2025-01-01T10:00:00Z" and oldest["execution_time_seconds"] == "1.5"
    assert (oldest["metrics.overall_confidence"], oldest["metrics.needs_more_info"]) == ("0.9", "false")


def test_ndjson_is_one_complete_log_per_line(alice: Tenant, logs: list[str]) -> None:
    response = alice.api.get(URL, {"format": "ndjson", "ordering": "executed_at"})
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"].endswith('.ndjson"')
    lines = content(response).decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == logs
    assert records[0]["payload"]["trace"]["react_iterations"][0]["action"] == "lookup_order"
    assert records[0]["metadata"] == {"priority": "high", "ticket_tags": ["refund"]}
    assert records[1]["metrics"] == {"overall_confidence": 0.2, "tools": ["crm", "kb"]}
    assert records[1]["executed_at"] == "2025-01-02T10:00:00Z"


def test_filters_apply_to_the_export(alice: Tenant, logs: list[str]) -> None:
    rows = list(csv.DictReader(io.StringIO(content(alice.api.get(URL, {"status": "failed"})).decode())))
    assert [row["ticket_id"] for row in rows] == ["A-2"]
    ndjson = content(alice.api.get(URL, {"format": "ndjson", "metrics.overall_confidence__gt": "0.5"}))
    assert [json.loads(line)["ticket_id"] for line in ndjson.splitlines()] == ["A-1"]
    empty = content(alice.api.get(URL, {"ticket_id": "B-1"})).decode()
    assert empty.count("\n") == 1 and empty.startswith("id,")  # the header only


def test_other_tenants_rows_are_absent(bob: Tenant, logs: list[str]) -> None:
    body = content(bob.api.get(URL)).decode()
    assert "A-1" not in body and "A-2" not in body and "B-1" in body
    assert body.splitlines()[0].endswith("metrics.bob_only")


@pytest.mark.parametrize(("query", "param"), [
    ({"format": "xml"}, "format"),
    ({"status": "MAYBE"}, "status"),
    ({"ordering": "ticket_id"}, "ordering"),
    ({"start_date": "2025-02-01", "end_date": "2025-01-01"}, "start_date"),
])
def test_errors_before_streaming_use_the_envelope(alice: Tenant, logs: list[str], query: dict[str, str],
                                                   param: str) -> None:
    response = alice.api.get(URL, query)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert param in response.json()["error"]["details"]


def test_export_streams_in_chunks(alice: Tenant, logs: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Small flush size: the body arrives in several chunks, not as one buffered blob.
    monkeypatch.setattr("query.export.FLUSH_BYTES", 100)
    response = alice.api.get(URL, {"format": "ndjson"})
    chunks = list(response.streaming_content)
    assert len(chunks) >= 2
