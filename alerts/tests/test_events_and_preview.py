"""GET /api/v1/alerts/events (filters, pages, tenant scope) and POST /api/v1/alerts/rules/preview
(counts computed by hand); the rule list's last event and state filter (the header badge)."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from alerts.evaluator import evaluate_all
from alerts.models import AlertEvent
from alerts.tests.conftest import create_rule, rule_body
from conftest import Tenant, make_tenant
from logs.tests.factories import ingest, log_body

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _targets(private_targets: None) -> None:
    pass


def _event(tenant: Tenant, rule_id: int | None, state: str, created: dt.datetime) -> AlertEvent:
    event = AlertEvent.objects.create(client=tenant.client, rule_id=rule_id, rule_name="r", kind="error_rate",
                                      state=state, value=1, threshold=1, operator="gte", window_start=created,
                                      window_end=created)
    AlertEvent.objects.filter(pk=event.pk).update(created_at=created)
    return event


def test_events_newest_first_filtered_and_paginated(acme: Tenant) -> None:
    first, second = create_rule(acme, name="first"), create_rule(acme, name="second")
    base = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)
    events = [_event(acme, (first if i % 2 else second)["id"], "firing" if i % 3 else "resolved",
                     base + dt.timedelta(hours=i)) for i in range(7)]
    _event(make_tenant("other"), None, "firing", base)
    page = acme.api.get("/api/v1/alerts/events?page_size=3").json()
    assert [e["id"] for e in page["data"]] == [events[6].pk, events[5].pk, events[4].pk]
    assert page["pagination"] == {"page": 1, "page_size": 3, "total": 7, "pages": 3, "total_is_exact": True,
                                  "next_cursor": None}
    last = acme.api.get("/api/v1/alerts/events?page_size=3&page=3").json()
    assert [e["id"] for e in last["data"]] == [events[0].pk]
    by_rule = acme.api.get(f"/api/v1/alerts/events?rule={first['id']}").json()["data"]
    assert [e["id"] for e in by_rule] == [events[5].pk, events[3].pk, events[1].pk]
    resolved = acme.api.get("/api/v1/alerts/events?state=resolved").json()["data"]
    assert [e["id"] for e in resolved] == [events[6].pk, events[3].pk, events[0].pk]
    ranged = acme.api.get("/api/v1/alerts/events?start_date=2026-03-01T14:00:00Z&end_date=2026-03-01T16:00:00Z")
    assert [e["id"] for e in ranged.json()["data"]] == [events[4].pk, events[3].pk, events[2].pk]
    day = acme.api.get("/api/v1/alerts/events?end_date=2026-03-01").json()["pagination"]["total"]
    assert day == 7


@pytest.mark.parametrize("query, field", [
    ("state=maybe", "state"), ("rule=abc", "rule"), ("page=0", "page"), ("page_size=501", "page_size"),
    ("start_date=yesterday", "start_date"), ("start_date=2026-03-02&end_date=2026-03-01", "start_date"),
])
def test_bad_event_filters_are_400s(acme: Tenant, query: str, field: str) -> None:
    response = acme.api.get(f"/api/v1/alerts/events?{query}")
    assert response.status_code == 400 and field in response.json()["error"]["details"]


def test_rules_list_shows_the_last_event_and_filters_by_state(acme: Tenant) -> None:
    firing, quiet = create_rule(acme, name="a firing"), create_rule(acme, name="b quiet")
    minute_ago = (timezone.now() - dt.timedelta(minutes=1)).isoformat()
    ingest(acme, *(log_body(executed_at=minute_ago, status=s) for s in ("FAILED", "FAILED", "FAILED", "SUCCESS")))
    acme.api.patch(f"/api/v1/alerts/rules/{quiet['id']}", {"threshold": 90}, format="json")
    summary = evaluate_all(interval=0)
    assert summary.rules == 2 and not summary.failures, summary
    rules = acme.api.get("/api/v1/alerts/rules").json()["data"]
    assert [(r["name"], r["state"], r["last_value"]) for r in rules] == [("a firing", "firing", 75.0),
                                                                         ("b quiet", "ok", 75.0)]
    assert rules[0]["last_event"]["state"] == "firing" and rules[1]["last_event"] is None
    badge = acme.api.get("/api/v1/alerts/rules?state=firing").json()["data"]
    assert [r["id"] for r in badge] == [firing["id"]]
    assert acme.api.get("/api/v1/alerts/rules?state=on").status_code == 400


def _hours_ago(now: dt.datetime, hours: float, **fields: Any) -> dict[str, Any]:
    return log_body(executed_at=(now - dt.timedelta(hours=hours)).isoformat(), **fields)


def test_preview_counts_the_times_a_rule_would_have_fired(acme: Tenant) -> None:
    now = timezone.now()
    # One-hour windows ending now. Bursts of failures in three separate hours, two of them
    # adjacent (one firing run), and one hour with a single failure among many successes.
    logs = [_hours_ago(now, 5.5, status="FAILED") for _ in range(3)]
    logs += [_hours_ago(now, 30.5, status="FAILED") for _ in range(3)]
    logs += [_hours_ago(now, 31.5, status="ERROR") for _ in range(3)]
    logs += [_hours_ago(now, 50.5, status="FAILED")] + [_hours_ago(now, 50.5) for _ in range(9)]
    logs += [_hours_ago(now, 8 * 24)]  # outside the 7 days
    ingest(acme, *logs)
    body = rule_body(window_minutes=60, threshold=50, min_runs=3)
    del body["channels"]
    preview = acme.api.post("/api/v1/alerts/rules/preview", body, format="json").json()
    assert preview["fired"] == 2 and preview["firing_windows"] == 3 and preview["windows"] == 168
    assert preview["last_value"] is None  # no run in the last hour
    ten = acme.api.post("/api/v1/alerts/rules/preview", {**body, "threshold": 10}, format="json").json()
    assert ten["fired"] == 3  # 1 failure in 10 runs = 10 %
    quiet = acme.api.post("/api/v1/alerts/rules/preview", {**body, "kind": "no_data", "window_minutes": 24 * 60},
                          format="json").json()
    # Seven one-day windows: the four oldest have no run (one firing stretch), the last three have.
    assert (quiet["fired"], quiet["firing_windows"], quiet["windows"]) == (1, 4, 7)


def test_preview_of_the_other_kinds(acme: Tenant) -> None:
    now = timezone.now()
    ingest(acme, _hours_ago(now, 1.5, execution_time_seconds=30.0, metrics={"hallucination_risk": 0.8}),
           _hours_ago(now, 1.5, status="FAILED", workflow_error_type="KeyError", workflow_error_node="parser"),
           _hours_ago(now, 20 * 24, status="FAILED", workflow_error_type="OldError", workflow_error_node="x"),
           _hours_ago(now, 2.5, status="FAILED", workflow_error_type="OldError", workflow_error_node="x"))
    for kind, extra, fired in [
        ("duration_p95", {"threshold": 20, "min_runs": 1}, 1),
        ("metric_avg", {"metric": "hallucination_risk", "threshold": 0.5, "operator": "gt", "min_runs": 1}, 1),
        ("error_count", {"threshold": 1, "error_type": "KeyError"}, 1),
        ("new_error_type", {}, 1),
    ]:
        response = acme.api.post("/api/v1/alerts/rules/preview",
                                 {"kind": kind, "window_minutes": 60, **extra}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["fired"] == fired, kind


def test_preview_validates_like_a_rule_and_needs_read(acme: Tenant, anon: Any) -> None:
    bad = acme.api.post("/api/v1/alerts/rules/preview", {"kind": "error_rate", "window_minutes": 60}, format="json")
    assert bad.status_code == 400 and "threshold" in bad.json()["error"]["details"]
    assert anon.post("/api/v1/alerts/rules/preview", {}, format="json").status_code == 401
    ingest_only = make_tenant("ingest-only", scopes=["ingest"])
    assert ingest_only.api.post("/api/v1/alerts/rules/preview", {}, format="json").status_code == 403
