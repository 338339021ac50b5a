"""GET /api/v1/metrics/*: every figure pinned with numbers computed by hand.

The clock is fixed at Wednesday 2025-03-12 15:30:00 UTC, so `days=7` is
[2025-03-06 00:00, 2025-03-12 15:30) and its previous period [2025-02-27 00:00, 2025-03-06 00:00).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from conftest import Tenant, make_tenant
from logs.tests.factories import ingest, log_body

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2025, 3, 12, 15, 30, tzinfo=dt.timezone.utc)
BASE = "/api/v1/metrics"
ZERO_COUNTS = {"SUCCESS": 0, "PARTIAL": 0, "FAILED": 0, "ERROR": 0}


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)


def _log(at: str, status: str, ets: float | None, **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"executed_at": at, "status": status, "execution_time_seconds": ets,
                              "category": "billing", "workflow_version": "v2", "environment": "production",
                              "workflow_error": None, "workflow_error_type": None, "workflow_error_node": None}
    fields.update(extra)
    return log_body(**fields)


@pytest.fixture
def logs(alice: Tenant, bob: Tenant) -> dict[str, str]:
    ids = ingest(
        alice,
        # the current period (days=7)
        _log("2025-03-06T00:00:00Z", "SUCCESS", 1.0),                                   # a: first instant
        _log("2025-03-08T10:00:00Z", "SUCCESS", 2.0),                                   # b
        _log("2025-03-10T10:00:00Z", "FAILED", 4.0, category="shipping", workflow_error="Timeout A",
             workflow_error_type="TimeoutError", workflow_error_node="crm_lookup"),     # c
        _log("2025-03-11T09:00:00Z", "ERROR", 10.0, category="shipping", workflow_error="Timeout B",
             workflow_error_type="TimeoutError", workflow_error_node="crm_lookup"),     # d
        _log("2025-03-12T15:00:00Z", "PARTIAL", None, workflow_version="v3"),           # e: no time
        _log("2025-03-12T15:10:00Z", "FAILED", 3.0, category=None, workflow_version="v3",
             workflow_error="boom"),                                                    # f: no type/node
        _log("2025-03-12T15:20:00Z", "SUCCESS", 7.0, workflow_version="v3", environment="staging"),  # g
        # the previous period
        _log("2025-03-05T23:59:59Z", "SUCCESS", 6.0, workflow_version="v1"),            # h: last second
        _log("2025-02-27T00:00:00Z", "FAILED", 2.0, workflow_version="v1", workflow_error_type="KeyError",
             workflow_error_node="parse"),                                              # i: first instant
        # outside both
        _log("2025-02-26T23:59:59Z", "SUCCESS", 100.0),                                 # j: too early
        _log("2025-03-12T15:40:00Z", "SUCCESS", 50.0),                                  # k: after now
    )
    ingest(bob, _log("2025-03-10T12:00:00Z", "FAILED", 99.0, workflow_error="bob's",
                     workflow_error_type="TimeoutError", workflow_error_node="crm_lookup"))
    return dict(zip("abcdefghijk", ids))


def get(tenant: Tenant, path: str, **params: Any) -> dict[str, Any]:
    response = tenant.api.get(f"{BASE}/{path}", params)
    assert response.status_code == 200, response.content
    return response.json()


# --- overview ----------------------------------------------------------------------------------------

def test_overview_last_7_days_with_previous_period(alice: Tenant, logs: dict[str, str]) -> None:
    data = get(alice, "overview", days=7)
    # a b c d e f g: 3 SUCCESS, 1 PARTIAL, 2 FAILED, 1 ERROR; times 1 2 4 10 3 7 (e has none)
    # sorted 1 2 3 4 7 10: mean 27/6 = 4.5; p50 at 2.5 → 3.5; p95 at 4.75 → 7 + 0.75·3 = 9.25
    assert data == {
        "total_tickets": 7, "success_rate": 42.9, "avg_execution_time": 4.5, "error_count": 3,
        "status_counts": {"SUCCESS": 3, "PARTIAL": 1, "FAILED": 2, "ERROR": 1},
        "p50_execution_time": 3.5, "p95_execution_time": 9.25,
        "period_days": 7, "period_start": "2025-03-06T00:00:00Z", "period_end": "2025-03-12T15:30:00Z",
        "previous": {
            # h i: 1 SUCCESS, 1 FAILED; times 2 6: mean 4, p50 at 0.5 → 4, p95 at 0.95 → 2 + 0.95·4 = 5.8
            "total_tickets": 2, "success_rate": 50.0, "avg_execution_time": 4.0, "error_count": 1,
            "status_counts": {"SUCCESS": 1, "PARTIAL": 0, "FAILED": 1, "ERROR": 0},
            "p50_execution_time": 4.0, "p95_execution_time": 5.8,
            "period_start": "2025-02-27T00:00:00Z", "period_end": "2025-03-06T00:00:00Z",
        },
    }


def test_overview_today_only(alice: Tenant, logs: dict[str, str]) -> None:
    data = get(alice, "overview", days=1)
    # e f g: 1 SUCCESS of 3 → 33.3; times 3 7: mean 5, p50 5, p95 3 + 0.95·4 = 6.8
    assert (data["total_tickets"], data["success_rate"], data["error_count"]) == (3, 33.3, 1)
    assert (data["avg_execution_time"], data["p50_execution_time"], data["p95_execution_time"]) == (5.0, 5.0, 6.8)
    assert data["period_start"] == "2025-03-12T00:00:00Z"
    # yesterday: d alone
    previous = data["previous"]
    assert (previous["total_tickets"], previous["success_rate"], previous["error_count"]) == (1, 0.0, 1)
    assert previous["period_start"] == "2025-03-11T00:00:00Z" and previous["period_end"] == "2025-03-12T00:00:00Z"


def test_overview_default_is_7_days_and_filters_apply(alice: Tenant, logs: dict[str, str]) -> None:
    assert get(alice, "overview")["total_tickets"] == 7
    staging = get(alice, "overview", environment="stage")
    assert (staging["total_tickets"], staging["success_rate"], staging["p95_execution_time"]) == (1, 100.0, 7.0)
    shipping = get(alice, "overview", category="shipping")
    assert (shipping["total_tickets"], shipping["error_count"], shipping["avg_execution_time"]) == (2, 2, 7.0)
    v3 = get(alice, "overview", workflow_version="v3,v1")
    assert (v3["total_tickets"], v3["previous"]["total_tickets"]) == (3, 2)


def test_overview_custom_range(alice: Tenant, logs: dict[str, str]) -> None:
    data = get(alice, "overview", start_date="2025-03-08", end_date="2025-03-10")
    # [03-08, 03-11): b c; previous [03-05, 03-08): a h
    assert (data["total_tickets"], data["success_rate"], data["period_days"]) == (2, 50.0, 3)
    assert (data["period_start"], data["period_end"]) == ("2025-03-08T00:00:00Z", "2025-03-11T00:00:00Z")
    assert data["previous"]["total_tickets"] == 2
    assert data["previous"]["period_start"] == "2025-03-05T00:00:00Z"


def test_empty_periods_give_zeros_not_nulls(db: Any) -> None:
    charlie = make_tenant("charlie")
    data = get(charlie, "overview", days=90)
    figures = {"total_tickets": 0, "success_rate": 0.0, "avg_execution_time": 0.0, "error_count": 0,
               "status_counts": ZERO_COUNTS, "p50_execution_time": 0.0, "p95_execution_time": 0.0}
    assert {k: data[k] for k in figures} == figures
    assert {k: data["previous"][k] for k in figures} == figures
    assert get(charlie, "categories")["data"] == []
    assert get(charlie, "errors")["data"] == []
    assert get(charlie, "versions")["data"] == []
    series = get(charlie, "timeseries", days=3)["data"]
    assert [row["count"] for row in series] == [0, 0, 0]


# --- categories ------------------------------------------------------------------------------------

def test_categories_sorted_by_count(alice: Tenant, logs: dict[str, str]) -> None:
    data = get(alice, "categories", days=7)
    assert data["data"] == [
        # a b e g: successes a b g; times 1 2 7 (e none) → 10/3 = 3.333
        {"category": "billing", "count": 4, "success_count": 3, "success_rate": 75.0, "error_count": 0,
         "avg_execution_time": 3.333},
        {"category": "shipping", "count": 2, "success_count": 0, "success_rate": 0.0, "error_count": 2,
         "avg_execution_time": 7.0},
        {"category": None, "count": 1, "success_count": 0, "success_rate": 0.0, "error_count": 1,
         "avg_execution_time": 3.0},
    ]
    assert (data["period_days"], data["period_start"]) == (7, "2025-03-06T00:00:00Z")


# --- timeseries ------------------------------------------------------------------------------------

def test_daily_timeseries_has_every_day(alice: Tenant, logs: dict[str, str]) -> None:
    data = get(alice, "timeseries", days=7)
    assert data["interval"] == "day"
    zero = {"count": 0, "success_count": 0, "success_rate": 0.0, "error_count": 0,
            "avg_execution_time": 0.0, "p50_execution_time": 0.0, "p95_execution_time": 0.0}

    def day(d: int, **figures: Any) -> dict[str, Any]:
        return {"bucket": f"2025-03-{d:02d}T00:00:00Z", **zero, **figures}

    assert data["data"] == [
        day(6, count=1, success_count=1, success_rate=100.0, avg_execution_time=1.0, p50_execution_time=1.0,
            p95_execution_time=1.0),
        day(7),
        day(8, count=1, success_count=1, success_rate=100.0, avg_execution_time=2.0, p50_execution_time=2.0,
            p95_execution_time=2.0),
        day(9),
        day(10, count=1, error_count=1, avg_execution_time=4.0, p50_execution_time=4.0, p95_execution_time=4.0),
        day(11, count=1, error_count=1, avg_execution_time=10.0, p50_execution_time=10.0, p95_execution_time=10.0),
        # e f g: times 3 7 → mean 5, p50 5, p95 6.8
        day(12, count=3, success_count=1, success_rate=33.3, error_count=1, avg_execution_time=5.0,
            p50_execution_time=5.0, p95_execution_time=6.8),
    ]


def test_hourly_timeseries_today(alice: Tenant, logs: dict[str, str]) -> None:
    data = get(alice, "timeseries", days=1, interval="hour")
    buckets = data["data"]
    assert len(buckets) == 16  # 00:00 … 15:00
    assert buckets[0]["bucket"] == "2025-03-12T00:00:00Z" and buckets[0]["count"] == 0
    assert buckets[15]["bucket"] == "2025-03-12T15:00:00Z"
    assert (buckets[15]["count"], buckets[15]["success_count"], buckets[15]["error_count"]) == (3, 1, 1)
    assert sum(b["count"] for b in buckets) == 3


# --- errors ----------------------------------------------------------------------------------------

def test_errors_grouped_with_latest_example(alice: Tenant, logs: dict[str, str]) -> None:
    data = get(alice, "errors", days=7)
    assert data["data"] == [
        {"workflow_error_type": "TimeoutError", "workflow_error_node": "crm_lookup", "count": 2,
         "latest_log_id": logs["d"], "latest_executed_at": "2025-03-11T09:00:00Z", "latest_message": "Timeout B"},
        {"workflow_error_type": None, "workflow_error_node": None, "count": 1,
         "latest_log_id": logs["f"], "latest_executed_at": "2025-03-12T15:10:00Z", "latest_message": "boom"},
    ]
    assert [row["count"] for row in get(alice, "errors", days=7, limit=1)["data"]] == [2]
    # the previous period's KeyError appears once the range covers it
    wide = get(alice, "errors", start_date="2025-02-27", end_date="2025-03-12")
    assert {row["workflow_error_type"] for row in wide["data"]} == {"TimeoutError", None, "KeyError"}


# --- versions --------------------------------------------------------------------------------------

def test_versions_newest_first(alice: Tenant, logs: dict[str, str]) -> None:
    data = get(alice, "versions", days=7)
    assert data["data"] == [
        # e f g: 1 success of 3, 1 error; times 3 7 → mean 5, p50 5, p95 6.8
        {"workflow_version": "v3", "count": 3, "success_count": 1, "success_rate": 33.3, "error_count": 1,
         "error_rate": 33.3, "avg_execution_time": 5.0, "p50_execution_time": 5.0, "p95_execution_time": 6.8,
         "first_seen": "2025-03-12T15:00:00Z", "last_seen": "2025-03-12T15:20:00Z"},
        # a b c d: 2 of 4, 2 errors; times 1 2 4 10 → mean 4.25, p50 at 1.5 → 2 + 0.5·2 = 3,
        # p95 at 2.85 → 4 + 0.85·6 = 9.1
        {"workflow_version": "v2", "count": 4, "success_count": 2, "success_rate": 50.0, "error_count": 2,
         "error_rate": 50.0, "avg_execution_time": 4.25, "p50_execution_time": 3.0, "p95_execution_time": 9.1,
         "first_seen": "2025-03-06T00:00:00Z", "last_seen": "2025-03-11T09:00:00Z"},
    ]


# --- parameters ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "query", "param"), [
    ("overview", "days=0", "days"),
    ("overview", "days=91", "days"),
    ("overview", "days=week", "days"),
    ("overview", "days=7&start_date=2025-03-01&end_date=2025-03-02", "days"),
    ("overview", "start_date=2025-03-01", "end_date"),
    ("overview", "end_date=2025-03-01", "start_date"),
    ("overview", "start_date=2025-03-05&end_date=2025-03-01", "start_date"),
    ("overview", "start_date=2024-01-01&end_date=2025-03-01", "end_date"),
    ("overview", "start_date=soon&end_date=2025-03-01", "start_date"),
    ("overview", "environment=moon", "environment"),
    ("categories", "days=-1", "days"),
    ("timeseries", "interval=week", "interval"),
    ("errors", "limit=0", "limit"),
    ("errors", "limit=101", "limit"),
    ("versions", "days=100", "days"),
])
def test_bad_parameters_are_400s(alice: Tenant, path: str, query: str, param: str) -> None:
    response = alice.api.get(f"{BASE}/{path}?{query}")
    assert response.status_code == 400, response.content
    assert param in response.json()["error"]["details"]


def test_other_tenants_logs_never_count(bob: Tenant, logs: dict[str, str]) -> None:
    overview = get(bob, "overview", days=7)
    assert (overview["total_tickets"], overview["error_count"], overview["avg_execution_time"]) == (1, 1, 99.0)
    errors = get(bob, "errors", days=7)["data"]
    assert [(row["count"], row["latest_message"]) for row in errors] == [(1, "bob's")]


@pytest.mark.parametrize("use_rollups", [True, False], ids=["rollup", "scan"])
def test_error_example_is_a_failing_log_even_beside_a_newer_success(alice: Tenant, bob: Tenant, settings: Any,
                                                                    use_rollups: bool) -> None:
    """The latest example of the (no type, no node) group is the FAILED log, not the SUCCESS
    stored later at the same instant (same pair, higher id), which is not an error; nor another
    tenant's failing log of that instant (to the microsecond)."""
    settings.METRICS_USE_ROLLUPS = use_rollups
    (failed,) = ingest(alice, log_body(executed_at="2026-05-05T10:00:00.123456Z", status="FAILED",
                                       workflow_error="boom", workflow_error_type=None, workflow_error_node=None))
    ingest(alice, log_body(executed_at="2026-05-05T10:00:00.123456Z", status="SUCCESS",
                           workflow_error=None, workflow_error_type=None, workflow_error_node=None))
    ingest(bob, log_body(executed_at="2026-05-05T10:00:00.123456Z", status="FAILED",
                         workflow_error="bob's", workflow_error_type=None, workflow_error_node=None))
    body = alice.api.get(f"{BASE}/errors?start_date=2026-05-01&end_date=2026-05-10").json()
    assert [(g["workflow_error_type"], g["count"], g["latest_log_id"], g["latest_message"]) for g in body["data"]] == [
        (None, 1, failed, "boom")]
