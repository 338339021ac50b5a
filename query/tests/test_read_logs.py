"""GET /api/v1/logs and /api/v1/logs/{id}: filters, ordering, pagination, detail."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings

from conftest import Tenant
from logs.tests.factories import ingest, log_body

pytestmark = pytest.mark.django_db
URL = "/api/v1/logs"

SUMMARY_KEYS = {
    "id", "event_id", "environment", "workflow_version", "ticket_id", "executed_at",
    "execution_time_seconds", "status", "category", "resolution_status", "customer_type",
    "workflow_error", "workflow_error_type", "workflow_error_node", "is_system_error", "metrics", "created_at",
}


def _log(ticket: str, at: str, status: str, ets: float | None, **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ticket_id": ticket, "executed_at": at, "status": status, "execution_time_seconds": ets,
        "is_system_error": False, "metrics": {}, "workflow_error": None,
        "workflow_error_type": None, "workflow_error_node": None,
    }
    fields.update(extra)
    return log_body(**fields)


@pytest.fixture
def logs(alice: Tenant, bob: Tenant) -> dict[str, str]:
    """Five logs of alice (t1 oldest … t5 newest) and one of bob that must never show up."""
    ids = ingest(
        alice,
        _log("1001", "2025-01-06T10:00:00Z", "SUCCESS", 5.0, category="billing", environment="production",
             workflow_version="v1", resolution_status="RESOLVED", customer_type="VIP",
             metrics={"overall_confidence": 0.9, "needs_more_info": False}),
        _log("1002", "2025-01-07T09:00:00Z", "FAILED", 12.5, category="shipping", environment="staging",
             workflow_version="v1", resolution_status="ESCALATED", customer_type="REGULAR",
             workflow_error="Timeout calling CRM", workflow_error_type="TimeoutError",
             workflow_error_node="crm_lookup", is_system_error=True,
             metrics={"overall_confidence": 0.3, "needs_more_info": True}),
        _log("1003", "2025-01-07T23:59:59Z", "ERROR", None, category="billing", environment="prod",
             workflow_version="v2", workflow_error="KeyError: order_id", workflow_error_type="KeyError",
             workflow_error_node="parse_order",
             metrics={"overall_confidence": 0.45, "needs_more_info": True, "label": "high"}),
        _log("1004", "2025-01-08T00:00:00Z", "PARTIAL", 30.0, category="refund", environment="dev",
             workflow_version="v2", metrics={"overall_confidence": "0.2", "needs_more_info": False}),
        _log("12345", "2025-01-09T12:00:00Z", "SUCCESS", 2.0, category="billing", environment="production",
             workflow_version="v2", metrics={"overall_confidence": 0.5, "react_iterations": 3}),
    )
    (bob_id,) = ingest(bob, _log("1001", "2025-01-07T10:00:00Z", "FAILED", 99.0, category="billing",
                                 workflow_error="Timeout for bob", workflow_error_type="TimeoutError",
                                 metrics={"overall_confidence": 0.1, "needs_more_info": True}))
    return {"t1": ids[0], "t2": ids[1], "t3": ids[2], "t4": ids[3], "t5": ids[4], "bob": bob_id}


def names(logs: dict[str, str], response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    by_id = {v: k for k, v in logs.items()}
    return [by_id[row["id"]] for row in response.json()["data"]]


def assert_400(response: Any, param: str) -> None:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert param in error["details"], error


# --- the list ------------------------------------------------------------------------------------

def test_lists_own_logs_newest_first_with_summary_fields_only(alice: Tenant, logs: dict[str, str]) -> None:
    response = alice.api.get(URL)
    assert names(logs, response) == ["t5", "t4", "t3", "t2", "t1"]
    body = response.json()
    assert body["pagination"] == {"page": 1, "page_size": 50, "total": 5, "pages": 1,
                                  "total_is_exact": True, "next_cursor": None}
    row = body["data"][3]
    assert set(row) == SUMMARY_KEYS  # no payload, metadata, extra
    assert row["executed_at"] == "2025-01-07T09:00:00Z"
    assert row["environment"] == "staging" and row["status"] == "FAILED" and row["execution_time_seconds"] == 12.5
    assert row["metrics"] == {"overall_confidence": 0.3, "needs_more_info": True}


@pytest.mark.parametrize(("query", "expected"), [
    ("status=FAILED", ["t2"]),
    ("status=failed,Error", ["t3", "t2"]),
    ("environment=prod", ["t5", "t3", "t1"]),  # aliases normalised like ingestion
    ("environment=production,dev", ["t5", "t4", "t3", "t1"]),
    ("category=billing,refund", ["t5", "t4", "t3", "t1"]),
    ("category=billing&status=SUCCESS", ["t5", "t1"]),
    ("ticket_id=12345", ["t5"]),
    ("ticket_id=1001,1002", ["t2", "t1"]),
    ("workflow_version=v1", ["t2", "t1"]),
    ("resolution_status=ESCALATED", ["t2"]),
    ("customer_type=REGULAR", ["t2"]),
    ("workflow_error_type=KeyError", ["t3"]),
    ("workflow_error_node=crm_lookup,parse_order", ["t3", "t2"]),
    ("is_system_error=true", ["t2"]),
    ("is_system_error=false", ["t5", "t4", "t3", "t1"]),
    ("start_date=2025-01-07", ["t5", "t4", "t3", "t2"]),
    ("end_date=2025-01-07", ["t3", "t2", "t1"]),  # a date-only end includes the whole day
    ("end_date=2025-01-07T23:59:59Z", ["t3", "t2", "t1"]),  # a datetime end is inclusive
    ("end_date=2025-01-07T23:59:58", ["t2", "t1"]),  # naive = UTC
    ("start_date=2025-01-07T10:00:00%2B01:00&end_date=2025-01-08", ["t4", "t3", "t2"]),  # 09:00 UTC
    ("min_execution_time=5&max_execution_time=12.5", ["t2", "t1"]),
    ("min_execution_time=12.6", ["t4"]),
    ("q=timeout", ["t2"]),  # error message, any case
    ("q=BILL*", ["t5", "t3", "t1"]),  # category: a prefix, any case
    ("q=1234", ["t5"]),  # ticket id: a number is a prefix
    ("metrics.overall_confidence__lt=0.5", ["t3", "t2"]),  # t4's "0.2" is a string, not a number
    ("metrics.overall_confidence__lte=0.5", ["t5", "t3", "t2"]),
    ("metrics.overall_confidence__gte=0.5", ["t5", "t1"]),
    ("metrics.overall_confidence__gt=0.45&metrics.overall_confidence__lt=1", ["t5", "t1"]),
    ("metrics.overall_confidence=0.2", []),
    ("metrics.overall_confidence__eq=0.3", ["t2"]),
    ("metrics.needs_more_info=true", ["t3", "t2"]),
    ("metrics.needs_more_info=FALSE", ["t4", "t1"]),
    ("metrics.needs_more_info__ne=true", ["t5", "t4", "t1"]),  # ne includes logs without the key
    ("metrics.label=high", ["t3"]),
    ("metrics.react_iterations=3", ["t5"]),
    ("metrics.overall_confidence__ne=0.9", ["t5", "t4", "t3", "t2"]),
    ("unknown_param=1&status=SUCCESS", ["t5", "t1"]),  # unknown parameters are ignored
])
def test_filters(alice: Tenant, logs: dict[str, str], query: str, expected: list[str]) -> None:
    assert names(logs, alice.api.get(f"{URL}?{query}")) == expected


@pytest.mark.parametrize(("query", "param"), [
    ("status=MAYBE", "status"),
    ("status=SUCCESS,nope", "status"),
    ("environment=moon", "environment"),
    ("is_system_error=maybe", "is_system_error"),
    ("start_date=yesterday", "start_date"),
    ("end_date=2025-13-01", "end_date"),
    ("start_date=2025-01-08&end_date=2025-01-07", "start_date"),
    ("start_date=2025-01-07T12:00:00Z&end_date=2025-01-07T11:59:59Z", "start_date"),
    ("min_execution_time=fast", "min_execution_time"),
    ("min_execution_time=-1", "min_execution_time"),
    ("max_execution_time=nan", "max_execution_time"),
    ("min_execution_time=10&max_execution_time=5", "min_execution_time"),
    ("q=" + "x" * 201, "q"),
    ("metrics.bad-key=1", "metrics.bad-key"),
    ("metrics.a')%3B%20DROP%20TABLE%20workflow_logs%3B--=1", "metrics.a'); DROP TABLE workflow_logs;--"),
    ("metrics.=1", "metrics."),
    ("metrics.label__lt=high", "metrics.label__lt"),
    ("metrics.needs_more_info__gt=true", "metrics.needs_more_info__gt"),
    ("ordering=status", "ordering"),
    ("ordering=-id", "ordering"),
    ("page=0", "page"),
    ("page=two", "page"),
    ("page_size=0", "page_size"),
    ("page_size=501", "page_size"),
    ("cursor=not-a-cursor", "cursor"),
])
def test_bad_parameters_are_400s_naming_the_parameter(alice: Tenant, logs: dict[str, str], query: str,
                                                       param: str) -> None:
    assert_400(alice.api.get(f"{URL}?{query}"), param)


def test_all_bad_parameters_are_reported_at_once(alice: Tenant, logs: dict[str, str]) -> None:
    response = alice.api.get(f"{URL}?status=MAYBE&page_size=9999")
    assert_400(response, "status")
    assert "page_size" in response.json()["error"]["details"]


def test_metrics_filters_count_at_most_ten(alice: Tenant, logs: dict[str, str]) -> None:
    query = "&".join(f"metrics.k{i}=1" for i in range(11))
    assert_400(alice.api.get(f"{URL}?{query}"), "metrics")


def test_hides_other_clients_logs(alice: Tenant, bob: Tenant, logs: dict[str, str]) -> None:
    assert names(logs, bob.api.get(URL)) == ["bob"]
    assert names(logs, alice.api.get(f"{URL}?q=bob")) == []
    assert names(logs, alice.api.get(f"{URL}?ticket_id=1001")) == ["t1"]
    assert names(logs, alice.api.get(f"{URL}?metrics.overall_confidence__lt=0.2")) == []
    assert alice.api.get(URL).json()["pagination"]["total"] == 5


# --- ordering and pagination ----------------------------------------------------------------------

@pytest.mark.parametrize(("ordering", "expected"), [
    ("-executed_at", ["t5", "t4", "t3", "t2", "t1"]),
    ("executed_at", ["t1", "t2", "t3", "t4", "t5"]),
    ("-execution_time_seconds", ["t4", "t2", "t1", "t5", "t3"]),  # t3 has no time: last
    ("execution_time_seconds", ["t3", "t5", "t1", "t2", "t4"]),
])
def test_ordering(alice: Tenant, logs: dict[str, str], ordering: str, expected: list[str]) -> None:
    assert names(logs, alice.api.get(f"{URL}?ordering={ordering}")) == expected


def test_page_numbers(alice: Tenant, logs: dict[str, str]) -> None:
    first = alice.api.get(f"{URL}?page_size=2")
    assert names(logs, first) == ["t5", "t4"]
    assert first.json()["pagination"] == {"page": 1, "page_size": 2, "total": 5, "pages": 3,
                                          "total_is_exact": True, "next_cursor": None}
    assert names(logs, alice.api.get(f"{URL}?page_size=2&page=2")) == ["t3", "t2"]
    last = alice.api.get(f"{URL}?page_size=2&page=3")
    assert names(logs, last) == ["t1"]
    assert last.json()["pagination"]["total"] == 5
    beyond = alice.api.get(f"{URL}?page_size=2&page=4")
    assert names(logs, beyond) == []
    assert beyond.json()["pagination"]["total"] == 5 and beyond.json()["pagination"]["pages"] == 3


# A filter the metrics rollup has no dimension for: the total is counted up to the bound (on
# PostgreSQL, totals of status/category/version/date filters come from the rollup, exact:
# test_list_totals.py).
BEYOND_ROLLUP = "min_execution_time=0"


@override_settings(LIST_COUNT_EXACT_LIMIT=3)
def test_total_above_the_exact_limit_is_an_estimate(alice: Tenant, logs: dict[str, str]) -> None:
    pagination = alice.api.get(f"{URL}?page_size=2&{BEYOND_ROLLUP}").json()["pagination"]
    assert pagination["total_is_exact"] is False
    # At least limit + 1 rows were seen; PostgreSQL may estimate more (EXPLAIN), never fewer.
    assert pagination["total"] >= 4
    assert pagination["pages"] == math.ceil(pagination["total"] / 2)
    # Under the limit the count is exact again.
    exact = alice.api.get(f"{URL}?page_size=1&status=FAILED,ERROR&{BEYOND_ROLLUP}").json()["pagination"]
    assert (exact["total"], exact["pages"], exact["total_is_exact"]) == (1, 1, True)


@override_settings(LIST_COUNT_EXACT_LIMIT=3)
def test_estimate_comes_from_the_planner_on_postgres(alice: Tenant, logs: dict[str, str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE workflow_logs")
    pagination = alice.api.get(f"{URL}?page_size=2&{BEYOND_ROLLUP}").json()["pagination"]
    # After ANALYZE the planner knows the 6-row table; its estimate for alice's 4 rows is 4..6,
    # plus up to one row for each partition the rows are spread over (a partition's estimate is
    # never below one row).
    assert 4 <= pagination["total"] <= 9 and pagination["total_is_exact"] is False


def test_cursor_pages_through_in_order(alice: Tenant, logs: dict[str, str]) -> None:
    first = alice.api.get(f"{URL}?cursor=&page_size=2")
    assert names(logs, first) == ["t5", "t4"]
    pagination = first.json()["pagination"]
    assert pagination["page"] is None and pagination["total"] is None and pagination["pages"] is None
    assert pagination["total_is_exact"] is False and pagination["next_cursor"]
    second = alice.api.get(URL, {"cursor": pagination["next_cursor"], "page_size": 2})
    assert names(logs, second) == ["t3", "t2"]
    third = alice.api.get(URL, {"cursor": second.json()["pagination"]["next_cursor"], "page_size": 2})
    assert names(logs, third) == ["t1"]
    assert third.json()["pagination"]["next_cursor"] is None


@pytest.mark.parametrize("ordering", ["-executed_at", "executed_at", "-execution_time_seconds",
                                      "execution_time_seconds"])
@pytest.mark.parametrize("page_size", [1, 3])
def test_cursor_walk_returns_every_row_exactly_once(alice: Tenant, ordering: str, page_size: int) -> None:
    # Ties on both sort keys and several logs without an execution time.
    times = [None, 1.0, 1.0, 3.0, None, 2.0, 1.0, None, 5.0, 3.0]
    stamps = ["2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z", "2025-01-02T00:00:00Z",
              "2025-01-03T00:00:00Z", "2025-01-01T00:00:00Z", "2025-01-04T00:00:00Z", "2025-01-04T00:00:00Z",
              "2025-01-05T00:00:00Z", "2025-01-02T00:00:00Z"]
    ids = ingest(alice, *(_log(str(i), at, "SUCCESS", ets) for i, (ets, at) in enumerate(zip(times, stamps))))
    rows = list(zip(ids, times, stamps))
    # The documented order, computed here independently: ties by id in the same direction,
    # a missing time counts as the smallest.
    field = 1 if "execution_time" in ordering else 2
    desc = ordering.startswith("-")

    def key(row: tuple[str, float | None, str]) -> tuple[Any, ...]:
        value = row[field]
        return ((value is not None, value or 0) if field == 1 else (value,)) + (row[0].replace("-", ""),)

    expected = [row[0] for row in sorted(rows, key=key, reverse=desc)]

    seen: list[str] = []
    params: dict[str, Any] = {"cursor": "", "page_size": page_size, "ordering": ordering}
    for _ in range(20):
        body = alice.api.get(URL, params).json()
        seen.extend(row["id"] for row in body["data"])
        assert len(body["data"]) <= page_size
        if body["pagination"]["next_cursor"] is None:
            break
        params["cursor"] = body["pagination"]["next_cursor"]
    assert seen == expected
    paged = alice.api.get(URL, {"ordering": ordering, "page_size": 500}).json()["data"]
    assert [row["id"] for row in paged] == expected


def test_cursor_is_tied_to_its_ordering(alice: Tenant, logs: dict[str, str]) -> None:
    token = alice.api.get(f"{URL}?cursor=&page_size=1").json()["pagination"]["next_cursor"]
    response = alice.api.get(URL, {"cursor": token, "ordering": "execution_time_seconds"})
    assert_400(response, "cursor")


def test_a_cursor_cannot_reach_another_tenant(alice: Tenant, bob: Tenant, logs: dict[str, str]) -> None:
    token = alice.api.get(f"{URL}?cursor=&page_size=1").json()["pagination"]["next_cursor"]
    assert names(logs, bob.api.get(URL, {"cursor": token})) == ["bob"]


def test_list_queries_stay_few(alice: Tenant, logs: dict[str, str], django_assert_max_num_queries: Any) -> None:
    # key lookup + the page (a short page needs no count query)
    with django_assert_max_num_queries(3):
        assert alice.api.get(URL).status_code == 200


# --- detail --------------------------------------------------------------------------------------

def test_detail_is_the_complete_log(alice: Tenant, logs: dict[str, str]) -> None:
    response = alice.api.get(f"{URL}/{logs['t2']}")
    assert response.status_code == 200
    data = response.json()
    assert set(data) == SUMMARY_KEYS | {"payload", "metadata", "extra", "ticket_subject_hash", "requester_email_hash",
                                       "scrubbed"}
    assert data["id"] == logs["t2"] and data["ticket_id"] == "1002"
    assert data["payload"]["trace"]["react_iterations"][0]["action"] == "lookup_order"
    assert data["metadata"] == {"priority": "high", "ticket_tags": ["refund"]}
    assert data["extra"] == {"client_id": "whatever-the-client-says"}
    assert (data["ticket_subject_hash"], data["requester_email_hash"]) == ("ab12", "cd34")
    assert data["workflow_error"] == "Timeout calling CRM"


def test_json_columns_are_read_back_as_sent(alice: Tenant) -> None:
    """The detail and the list (both read by hand-written statements on PostgreSQL): numbers,
    escapes, non-ASCII text and nesting in JSON columns come back as sent."""
    metrics = {"tokens": 1234, "cost": 0.1, "tiny": 1e-7, "neg": -0.0025,
               "note": 'naïve ✓ "quoted" \\ back\nslash', "nested": {"a": [1, 2.5, None, True, False, {}, []]}}
    payload = {"trace": {"steps": [{"action": "lookup", "text": "é\u2028\t"}]}, "emoji": "🙂"}
    (log_id,) = ingest(alice, log_body(metrics=metrics, payload=payload))
    detail = alice.api.get(f"{URL}/{log_id}")
    assert detail.status_code == 200 and detail["Content-Type"] == "application/json"
    assert detail.json()["metrics"] == metrics and detail.json()["payload"] == payload
    (row,) = alice.api.get(URL).json()["data"]
    assert row["metrics"] == metrics


@pytest.mark.parametrize("log_id", ["bob", "not-a-uuid", "00000000-0000-0000-0000-000000000000", "12345"])
def test_detail_of_another_tenants_or_malformed_id_is_404(alice: Tenant, logs: dict[str, str], log_id: str) -> None:
    response = alice.api.get(f"{URL}/{logs.get(log_id, log_id)}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_list_level_paths_route_before_the_id(alice: Tenant, logs: dict[str, str]) -> None:
    assert alice.api.get(f"{URL}/batch").status_code == 405  # POST-only action, not an id lookup
    assert alice.api.get(f"{URL}/export").status_code == 200


def nested(depth: int, wrap: Callable[[Any], Any]) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = wrap(value)
    return value


@override_settings(MAX_JSON_DEPTH=400)
def test_detail_renders_payload_nested_deeper_than_orjson_allows(alice: Tenant) -> None:
    """Past orjson's 255 levels the stdlib renders the detail, ids and times as orjson would."""
    deep = nested(300, lambda inner: {"d": inner})
    (log_id,) = ingest(alice, log_body(payload={"trace": deep}, executed_at="2025-01-01T12:00:00.250Z"))
    response = alice.api.get(f"{URL}/{log_id}")
    assert response.status_code == 200
    data = response.json()
    assert data["payload"] == {"trace": deep}
    assert data["id"] == log_id and data["executed_at"] == "2025-01-01T12:00:00.250000Z"
    assert data["created_at"].endswith("Z")


@override_settings(MAX_JSON_DEPTH=400)
def test_list_renders_metrics_nested_deeper_than_orjson_allows(alice: Tenant) -> None:
    """The list writes the stored metrics text as is (no parse, no re-serialisation), so nesting
    past orjson's 255 levels, which an operator may allow, still renders."""
    deep = nested(300, lambda inner: [inner])
    ingest(alice, log_body(metrics={"deep": deep, "big": 12345678901234567890}))
    response = alice.api.get(URL)
    assert response.status_code == 200
    (row,) = response.json()["data"]
    assert row["metrics"] == {"deep": deep, "big": 12345678901234567890}
