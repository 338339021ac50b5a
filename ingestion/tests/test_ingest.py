from __future__ import annotations

import datetime as dt
import gzip
import json
from typing import Any

import pytest
from django.test import override_settings

from conftest import Tenant
from logs.models import WorkflowLog
from logs.models import SUMMARY_FIELDS
from logs.tests.factories import log_body

pytestmark = pytest.mark.django_db
URL = "/api/v1/logs"
BATCH_URL = "/api/v1/logs/batch"


def post_raw(tenant: Tenant, body: bytes, url: str = URL, content_type: str = "application/json", **extra: Any) -> Any:
    return tenant.api.generic("POST", url, body, content_type=content_type, **extra)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return error


# --- single log ---------------------------------------------------------------------------------

def test_ingest_stores_log_and_returns_its_id(alice: Tenant) -> None:
    response = alice.api.post(URL, log_body(), format="json")
    assert response.status_code == 201
    data = response.json()
    row = WorkflowLog.objects.get(pk=data["id"])
    assert row.client == alice.client
    assert data["duplicate"] is False and data["ticket_id"] == "12345" and data["status"] == "SUCCESS"
    assert row.executed_at == dt.datetime(2025, 1, 1, 12, tzinfo=dt.timezone.utc)
    assert row.metrics["overall_confidence"] == 0.95
    assert row.payload["trace"]["react_iterations"][0]["action"] == "lookup_order"
    assert row.metadata == {"priority": "high", "ticket_tags": ["refund"]}
    assert (row.customer_type, row.is_system_error, row.requester_email_hash) == ("VIP", False, "cd34")


def test_answer_is_the_summary_of_the_stored_log(alice: Tenant) -> None:
    # The answer is built from the values sent to the database, not read back: it must equal
    # what a later read returns, field for field, for a new log and for its duplicate.
    body = log_body(status=" failed ", environment="PROD", executed_at="2025-03-01T10:00:00+02:00",
                    execution_time_seconds=3, ticket_id=987, workflow_error="boom")
    created = alice.api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="summary-1")
    duplicate = alice.api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="summary-1")
    assert (created.status_code, duplicate.status_code) == (201, 200)
    stored = alice.api.get(f"{URL}/{created.json()['id']}").json()
    expected = {name: stored[name] for name in SUMMARY_FIELDS}
    assert expected["status"] == "FAILED" and expected["ticket_id"] == "987"
    for answer in (created.json(), duplicate.json()):
        assert {name: answer[name] for name in SUMMARY_FIELDS} == expected
        assert set(answer) == {*SUMMARY_FIELDS, "duplicate", "spooled"}


def test_tenant_comes_from_key_never_from_body(alice: Tenant, bob: Tenant) -> None:
    body = log_body(client_id=bob.client.slug, client=bob.client.pk, id="00000000-0000-0000-0000-000000000001",
                    created_at="2000-01-01T00:00:00Z", api_key=bob.key)
    response = alice.api.post(URL, body, format="json")
    assert response.status_code == 201
    row = WorkflowLog.objects.get(pk=response.json()["id"])
    assert row.client == alice.client
    assert str(row.id) != "00000000-0000-0000-0000-000000000001"
    assert row.created_at.year >= 2025
    assert row.extra["client_id"] == "bob"  # what the client reported is kept
    assert row.extra["api_key"] == "[redacted:api_key]"  # but a secret never is
    assert bob.key not in json.dumps(row.extra)


def test_naive_timestamp_is_read_as_utc(alice: Tenant) -> None:
    response = alice.api.post(URL, log_body(executed_at="2025-01-01T12:00:00"), format="json")
    row = WorkflowLog.objects.get(pk=response.json()["id"])
    assert row.executed_at == dt.datetime(2025, 1, 1, 12, tzinfo=dt.timezone.utc)


@override_settings(NAIVE_TIMESTAMP_TIMEZONE="Europe/Berlin")
def test_naive_timestamp_zone_is_a_setting(alice: Tenant) -> None:
    response = alice.api.post(URL, log_body(executed_at="2025-01-01T12:00:00"), format="json")
    row = WorkflowLog.objects.get(pk=response.json()["id"])
    assert row.executed_at == dt.datetime(2025, 1, 1, 11, tzinfo=dt.timezone.utc)


def test_offset_timestamp_is_converted_to_utc(alice: Tenant) -> None:
    response = alice.api.post(URL, log_body(executed_at="2025-01-01T12:00:00+02:00"), format="json")
    assert WorkflowLog.objects.get(pk=response.json()["id"]).executed_at.hour == 10


@pytest.mark.parametrize("raw, stored", [("success", "SUCCESS"), ("Failed", "FAILED"), ("error", "ERROR")])
def test_status_is_case_insensitive(alice: Tenant, raw: str, stored: str) -> None:
    response = alice.api.post(URL, log_body(status=raw), format="json")
    assert WorkflowLog.objects.get(pk=response.json()["id"]).status == stored


@pytest.mark.parametrize("raw, stored", [("prod", "production"), ("STAGE", "staging"), ("dev", "development"),
                                         ("testing", "test"), ("Production", "production")])
def test_environment_aliases_are_normalised(alice: Tenant, raw: str, stored: str) -> None:
    response = alice.api.post(URL, log_body(environment=raw), format="json")
    assert WorkflowLog.objects.get(pk=response.json()["id"]).environment == stored


def test_unknown_fields_are_kept_in_extra(alice: Tenant) -> None:
    response = alice.api.post(URL, log_body(model_name="gpt-x", cost={"usd": 0.01}), format="json")
    row = WorkflowLog.objects.get(pk=response.json()["id"])
    assert row.extra["model_name"] == "gpt-x" and row.extra["cost"] == {"usd": 0.01}


def test_top_level_trace_is_stored_as_payload_trace(alice: Tenant) -> None:
    body = log_body(payload={"final_response": "ok"}, trace={"nodes": ["planner", "responder"]})
    response = alice.api.post(URL, body, format="json")
    row = WorkflowLog.objects.get(pk=response.json()["id"])
    assert row.payload == {"final_response": "ok", "trace": {"nodes": ["planner", "responder"]}}


def test_numeric_ticket_id_is_stored_as_text(alice: Tenant) -> None:
    response = alice.api.post(URL, log_body(ticket_id=12345), format="json")
    assert WorkflowLog.objects.get(pk=response.json()["id"]).ticket_id == "12345"


@pytest.mark.parametrize("overrides, field", [
    ({"status": "MAYBE"}, "status"),
    ({"status": ...}, "status"),
    ({"environment": "moon"}, "environment"),
    ({"environment": ...}, "environment"),
    ({"executed_at": ...}, "executed_at"),
    ({"executed_at": "yesterday"}, "executed_at"),
    ({"executed_at": "2025-02-30T00:00:00Z"}, "executed_at"),
    ({"executed_at": 1735732800}, "executed_at"),
    ({"execution_time_seconds": -1}, "execution_time_seconds"),
    ({"execution_time_seconds": "5"}, "execution_time_seconds"),
    ({"execution_time_seconds": 1e306}, "execution_time_seconds"),  # overflowed the rollup (issue 19)
    ({"execution_time_seconds": 2_592_000.001}, "execution_time_seconds"),  # over 30 days
    ({"metrics": [1, 2]}, "metrics"),
    ({"payload": "trace"}, "payload"),
    ({"is_system_error": "yes"}, "is_system_error"),
    ({"category": "x" * 300}, "category"),
    ({"event_id": ""}, "event_id"),
])
def test_invalid_fields_are_400_naming_the_field(alice: Tenant, overrides: dict[str, Any], field: str) -> None:
    error = assert_error(alice.api.post(URL, log_body(**overrides), format="json"), 400, "validation_error")
    assert field in error["details"]
    assert WorkflowLog.objects.count() == 0


@pytest.mark.parametrize("seconds", [0, 2_592_000])
def test_execution_time_limits_are_inclusive(alice: Tenant, seconds: int) -> None:
    response = alice.api.post(URL, log_body(execution_time_seconds=seconds), format="json")
    assert response.status_code == 201
    assert WorkflowLog.objects.get().execution_time_seconds == seconds


def test_execution_time_over_the_limit_names_the_limit(alice: Tenant) -> None:
    error = assert_error(alice.api.post(URL, log_body(execution_time_seconds=1e306), format="json"),
                         400, "validation_error")
    assert error["details"]["execution_time_seconds"] == ["Must be at most 2592000 seconds (30 days)."]


def test_unknown_environment_lists_allowed_values(alice: Tenant) -> None:
    error = assert_error(alice.api.post(URL, log_body(environment="moon"), format="json"), 400, "validation_error")
    message = error["details"]["environment"][0]
    assert all(name in message for name in ("production", "staging", "development", "test"))


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_finite_numbers_are_400(alice: Tenant, literal: str) -> None:
    body = json.dumps(log_body(execution_time_seconds=0)).replace('"execution_time_seconds": 0',
                                                                  '"execution_time_seconds": ' + literal.decode())
    assert_error(post_raw(alice, body.encode()), 400, "invalid_json")


def test_invalid_json_is_400(alice: Tenant) -> None:
    assert_error(post_raw(alice, b'{"status": '), 400, "invalid_json")


@pytest.mark.parametrize("body", [b"[]", b"null", b'"str"', b"42"])
def test_non_object_body_is_400(alice: Tenant, body: bytes) -> None:
    assert_error(post_raw(alice, body), 400, "validation_error")


def test_non_json_content_type_is_415(alice: Tenant) -> None:
    assert_error(post_raw(alice, b"status=SUCCESS", content_type="application/x-www-form-urlencoded"),
                 415, "unsupported_media_type")


@override_settings(MAX_LOG_BYTES=2000)
def test_oversized_body_is_413(alice: Tenant) -> None:
    body = json.dumps(log_body(workflow_error="x" * 3000)).encode()
    error = assert_error(post_raw(alice, body), 413, "payload_too_large")
    assert error["details"]["limit_bytes"] == 2000


def test_gzip_body_is_accepted(alice: Tenant) -> None:
    body = gzip.compress(json.dumps(log_body()).encode())
    response = post_raw(alice, body, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 201


@override_settings(MAX_LOG_BYTES=100_000)
def test_gzip_bomb_is_413(alice: Tenant) -> None:
    bomb = gzip.compress(b'{"a": "' + b"0" * 50_000_000 + b'"}')
    assert len(bomb) < 100_000
    assert_error(post_raw(alice, bomb, HTTP_CONTENT_ENCODING="gzip"), 413, "payload_too_large")


def test_unknown_content_encoding_is_415(alice: Tenant) -> None:
    assert_error(post_raw(alice, b"{}", HTTP_CONTENT_ENCODING="br"), 415, "unsupported_media_type")


@pytest.mark.parametrize("depth", [100, 2000, 100_000])
def test_deep_nesting_is_400(alice: Tenant, depth: int) -> None:
    deep = "[" * depth + "]" * depth
    body = json.dumps(log_body()).replace('"metadata": {', f'"deep": {deep}, "metadata": {{')
    error = assert_error(post_raw(alice, body.encode()), 400, "json_too_deep" if depth < 1024 else "invalid_json")
    assert error["message"]


def test_nesting_within_the_limit_is_stored(alice: Tenant) -> None:
    nested: Any = "leaf"
    for _ in range(50):
        nested = {"n": nested}
    response = alice.api.post(URL, log_body(metadata=nested), format="json")
    assert response.status_code == 201


def test_nul_characters_are_replaced_and_recorded(alice: Tenant) -> None:
    body = log_body(category="bill\u0000ing", metadata={"k\u0000ey": "v\u0000"})
    response = alice.api.post(URL, body, format="json")
    assert response.status_code == 201
    row = WorkflowLog.objects.get(pk=response.json()["id"])
    assert row.category == "bill\ufffding"
    assert row.metadata == {"k\ufffdey": "v\ufffd"}
    assert set(row.extra["_sanitized"]["nul_replaced_at"]) == {"category", "metadata.k\ufffdey"}


def test_lone_surrogate_is_400(alice: Tenant) -> None:
    body = json.dumps(log_body()).replace('"billing_issue"', '"\\ud800"')
    assert_error(post_raw(alice, body.encode()), 400, "invalid_json")


def test_hostile_strings_are_stored_verbatim(alice: Tenant) -> None:
    hostile = "<script>alert(1)</script> \u202e \x1b[31mred"
    response = alice.api.post(URL, log_body(workflow_error=hostile), format="json")
    assert WorkflowLog.objects.get(pk=response.json()["id"]).workflow_error == hostile


# --- idempotency -----------------------------------------------------------------------------------

def test_idempotency_key_header_returns_original_id(alice: Tenant) -> None:
    first = alice.api.post(URL, log_body(), format="json", HTTP_IDEMPOTENCY_KEY="run-1")
    again = alice.api.post(URL, log_body(), format="json", HTTP_IDEMPOTENCY_KEY="run-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and again.json()["duplicate"] is True
    assert WorkflowLog.objects.count() == 1


def test_event_id_in_body_is_idempotent(alice: Tenant) -> None:
    first = alice.api.post(URL, log_body(event_id="evt-1"), format="json")
    again = alice.api.post(URL, log_body(event_id="evt-1", status="FAILED"), format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert WorkflowLog.objects.get().status == "SUCCESS"


def test_idempotency_keys_are_per_tenant(alice: Tenant, bob: Tenant) -> None:
    mine = alice.api.post(URL, log_body(event_id="shared"), format="json")
    theirs = bob.api.post(URL, log_body(event_id="shared"), format="json")
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]
    assert WorkflowLog.objects.filter(client=bob.client).count() == 1


# --- connectivity check ---------------------------------------------------------------------------

def test_connectivity_check_stores_nothing(alice: Tenant) -> None:
    response = alice.api.post(URL, {"client_id": "x", "environment": "production", "test": True}, format="json")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "test": True}
    assert WorkflowLog.objects.count() == 0


def test_connectivity_check_needs_a_valid_key(anon: Any) -> None:
    response = anon.post(URL, {"environment": "production", "test": True}, format="json")
    assert response.status_code == 401


# --- batch ----------------------------------------------------------------------------------------

def test_batch_stores_all_and_returns_ids_in_order(alice: Tenant) -> None:
    logs = [log_body(ticket_id=str(i)) for i in range(5)]
    response = alice.api.post(BATCH_URL, {"logs": logs}, format="json")
    assert response.status_code == 201
    data = response.json()
    assert data["count"] == 5 and data["created"] == 5 and data["rejected"] == 0
    tickets = [WorkflowLog.objects.get(pk=pk).ticket_id for pk in data["ids"]]
    assert tickets == ["0", "1", "2", "3", "4"]


def test_batch_with_some_invalid_stores_the_valid_ones(alice: Tenant) -> None:
    logs = [log_body(ticket_id="a"), log_body(status="NOPE"), log_body(ticket_id="c"), "not an object"]
    response = alice.api.post(BATCH_URL, {"logs": logs}, format="json")
    assert response.status_code == 207
    data = response.json()
    assert [r["status"] for r in data["results"]] == ["created", "invalid", "created", "invalid"]
    assert [r["index"] for r in data["results"]] == [0, 1, 2, 3]
    assert "status" in data["results"][1]["errors"]
    assert data["ids"][1] is None and data["ids"][3] is None
    assert data["count"] == 2 and data["rejected"] == 2
    assert sorted(WorkflowLog.objects.values_list("ticket_id", flat=True)) == ["a", "c"]


def test_batch_with_no_valid_log_is_400_with_per_item_errors(alice: Tenant) -> None:
    response = alice.api.post(BATCH_URL, {"logs": [log_body(status="X"), log_body(environment="moon")]}, format="json")
    error = assert_error(response, 400, "validation_error")
    results = error["details"]["results"]
    assert [(r["index"], r["status"]) for r in results] == [(0, "invalid"), (1, "invalid")]
    assert "environment" in results[1]["errors"]
    assert WorkflowLog.objects.count() == 0


@override_settings(MAX_BATCH_SIZE=3)
def test_batch_over_the_limit_is_400_naming_the_limit(alice: Tenant) -> None:
    response = alice.api.post(BATCH_URL, {"logs": [log_body()] * 4}, format="json")
    error = assert_error(response, 400, "batch_too_large")
    assert error["details"]["limit"] == 3 and "3" in error["message"]


@pytest.mark.parametrize("body", [{"logs": []}, {"logs": "x"}, {"nologs": []}, []])
def test_batch_shape_errors_are_400(alice: Tenant, body: Any) -> None:
    assert_error(alice.api.post(BATCH_URL, body, format="json"), 400, "validation_error")


def test_batch_duplicates_return_original_ids(alice: Tenant) -> None:
    first = alice.api.post(BATCH_URL, {"logs": [log_body(event_id="e1"), log_body(event_id="e2")]}, format="json")
    again = alice.api.post(BATCH_URL, {"logs": [log_body(event_id="e1"), log_body(event_id="e3"),
                                                log_body(event_id="e3")]}, format="json")
    assert again.status_code == 201
    data = again.json()
    assert data["ids"][0] == first.json()["ids"][0]
    assert [r["status"] for r in data["results"]] == ["duplicate", "created", "duplicate"]
    assert data["ids"][1] == data["ids"][2]
    assert WorkflowLog.objects.count() == 3
    replay = alice.api.post(BATCH_URL, {"logs": [log_body(event_id="e1")]}, format="json")
    assert replay.status_code == 200


def test_batch_needs_ingest_scope(bob: Tenant, anon: Any) -> None:
    assert anon.post(BATCH_URL, {"logs": [log_body()]}, format="json").status_code == 401
