"""Each kind of rule against logs stored through the API, with the expected values computed by
hand; state changes, events, snooze and reminders."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from alerts.evaluator import evaluate_all
from alerts.models import AlertDelivery, AlertEvent, AlertRule
from alerts.tests.conftest import create_rule
from conftest import Tenant, make_tenant
from logs.tests.factories import ingest, log_body
from metrics.flusher import flush_all

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _targets(private_targets: None) -> None:
    pass


def at(now: dt.datetime, minutes_ago: float, **fields: Any) -> dict[str, Any]:
    return log_body(executed_at=(now - dt.timedelta(minutes=minutes_ago)).isoformat(), **fields)


@pytest.fixture
def now() -> dt.datetime:
    return timezone.now().replace(microsecond=0)


def evaluate(now: dt.datetime) -> None:
    summary = evaluate_all(now=now, interval=0)
    assert summary.ran and not summary.failures, summary.errors


def rule(pk: int) -> AlertRule:
    return AlertRule.objects.get(pk=pk)


def test_error_rate_fires_with_enough_runs_and_resolves(acme: Tenant, now: dt.datetime) -> None:
    ids = ingest(acme, at(now, 5, status="SUCCESS"), at(now, 4, status="FAILED"), at(now, 3, status="ERROR"),
                 at(now, 20, status="FAILED"))  # outside the 15-minute window
    strict = create_rule(acme, name="strict", min_runs=4)
    loose = create_rule(acme, name="loose", min_runs=3)
    evaluate(now)
    assert rule(strict["id"]).state == "ok" and rule(strict["id"]).last_value == pytest.approx(66.67)
    fired = rule(loose["id"])
    assert fired.state == "firing" and fired.last_value == pytest.approx(66.67)  # 2 of 3 runs
    (event,) = AlertEvent.objects.filter(rule=fired)
    assert event.state == "firing" and event.threshold == 20 and event.detail == {"runs": 3, "errors": 2}
    assert event.examples == [ids[2], ids[1]]  # the failing runs of the window, newest first
    assert event.window_end - event.window_start == dt.timedelta(minutes=15)
    assert "status=FAILED%2CERROR" in event.url and "start_date=" in event.url
    assert AlertDelivery.objects.filter(event=event, notification="firing").count() == 1
    # 20 minutes later the window is empty: resolved, and the team is told.
    evaluate(now + dt.timedelta(minutes=20))
    resolved = AlertEvent.objects.filter(rule=fired).first()
    assert resolved.state == "resolved" and rule(loose["id"]).state == "ok"
    assert AlertDelivery.objects.filter(event=resolved, notification="resolved").count() == 1


def test_error_count_by_status_type_and_node(acme: Tenant, now: dt.datetime) -> None:
    ingest(acme, at(now, 1, status="FAILED", workflow_error_type="TimeoutError", workflow_error_node="crm"),
           at(now, 2, status="ERROR", workflow_error_type="TimeoutError", workflow_error_node="crm"),
           at(now, 3, status="PARTIAL", workflow_error_type="TimeoutError", workflow_error_node="crm"),
           at(now, 4, status="FAILED", workflow_error_type="TimeoutError", workflow_error_node="planner"),
           at(now, 5, status="FAILED", workflow_error_type="KeyError", workflow_error_node="crm"))
    crm = create_rule(acme, kind="error_count", threshold=2, error_type="TimeoutError", error_node="crm")
    partial = create_rule(acme, kind="error_count", threshold=2, statuses=["PARTIAL"])
    all_errors = create_rule(acme, kind="error_count", threshold=4)
    evaluate(now)
    assert (rule(crm["id"]).state, rule(crm["id"]).last_value) == ("firing", 2.0)
    assert (rule(partial["id"]).state, rule(partial["id"]).last_value) == ("ok", 1.0)
    assert (rule(all_errors["id"]).state, rule(all_errors["id"]).last_value) == ("firing", 4.0)
    assert "workflow_error_type=TimeoutError" in AlertEvent.objects.get(rule_id=crm["id"]).url


@pytest.mark.parametrize("flushed", [False, True])
def test_duration_p95_from_the_rollup_equals_the_scan(acme: Tenant, now: dt.datetime, flushed: bool) -> None:
    # 1..10 seconds: percentile_cont(0.95) = 9 + 0.55 * (10 - 9) = 9.55.
    ingest(acme, *(at(now, 1 + i, execution_time_seconds=float(i + 1)) for i in range(10)))
    ingest(make_tenant("noise"), *(at(now, 1, execution_time_seconds=500.0) for _ in range(5)))
    if flushed:
        flush_all()
    whole = create_rule(acme, kind="duration_p95", threshold=9.5, min_runs=10)
    by_env = create_rule(acme, kind="duration_p95", threshold=9.6, min_runs=10, filters={"environment": "production"})
    by_version = create_rule(acme, kind="duration_p95", threshold=9.5, min_runs=11, filters={"workflow_version": "v1.2"})
    evaluate(now)
    assert (rule(whole["id"]).state, rule(whole["id"]).last_value) == ("firing", 9.55)  # rollup
    assert (rule(by_env["id"]).state, rule(by_env["id"]).last_value) == ("ok", 9.55)  # scan
    assert (rule(by_version["id"]).state, rule(by_version["id"]).last_value) == ("ok", 9.55)  # too few runs


def test_metric_average_counts_numbers_only(acme: Tenant, now: dt.datetime) -> None:
    ingest(acme, at(now, 1, metrics={"hallucination_risk": 0.2}), at(now, 2, metrics={"hallucination_risk": 0.4}),
           at(now, 3, metrics={"hallucination_risk": 0.9}), at(now, 4, metrics={"hallucination_risk": "0.9"}),
           at(now, 5, metrics={}), at(now, 6, metrics={"hallucination_risk": 0.05}, environment="staging"))
    high = create_rule(acme, kind="metric_avg", metric="metrics.hallucination_risk", operator="gt", threshold=0.45,
                       filters={"environment": "production"}, min_runs=3)
    low = create_rule(acme, kind="metric_avg", metric="hallucination_risk", operator="lt", threshold=0.45,
                      min_runs=3)
    evaluate(now)
    assert rule(high["id"]).metric == "hallucination_risk"
    assert (rule(high["id"]).state, rule(high["id"]).last_value) == ("firing", pytest.approx(0.5))  # (.2+.4+.9)/3
    # Staging's 0.05 counts without the filter: (.2 + .4 + .9 + .05) / 4 = 0.3875 < 0.45.
    assert (rule(low["id"]).state, rule(low["id"]).last_value) == ("firing", pytest.approx(0.3875))
    event = AlertEvent.objects.get(rule_id=high["id"])
    assert len(event.examples) == 3 and event.detail == {"runs": 3, "metric": "hallucination_risk"}


def test_no_data_fires_when_the_window_is_empty(acme: Tenant, now: dt.datetime) -> None:
    ingest(acme, at(now, 30))
    short = create_rule(acme, kind="no_data", window_minutes=15, threshold=5)
    long = create_rule(acme, kind="no_data", window_minutes=60)
    assert short["threshold"] is None  # not used by this kind
    evaluate(now)
    assert (rule(short["id"]).state, rule(short["id"]).last_value) == ("firing", 0.0)
    assert (rule(long["id"]).state, rule(long["id"]).last_value) == ("ok", 1.0)
    ingest(acme, at(now, 0.5))
    evaluate(now + dt.timedelta(seconds=1))
    assert rule(short["id"]).state == "ok"
    assert list(AlertEvent.objects.filter(rule_id=short["id"]).values_list("state", flat=True)) == [
        "resolved", "firing"]


def test_new_error_type_fires_once_per_new_pair(acme: Tenant, now: dt.datetime) -> None:
    ingest(acme, at(now, 2 * 24 * 60, status="FAILED", workflow_error_type="TimeoutError", workflow_error_node="crm"))
    flush_all()
    other = make_tenant("other")  # another tenant's history does not make a pair old
    ingest(other, at(now, 3 * 24 * 60, status="FAILED", workflow_error_type="KeyError", workflow_error_node="parser"))
    new = create_rule(acme, kind="new_error_type", window_minutes=30)
    ingest(acme, at(now, 10, status="FAILED", workflow_error_type="TimeoutError", workflow_error_node="crm"),
           at(now, 9, status="FAILED", workflow_error_type="KeyError", workflow_error_node="parser"),
           at(now, 8, status="ERROR", workflow_error_type="KeyError", workflow_error_node="parser"))
    evaluate(now)
    (first,) = AlertEvent.objects.filter(rule_id=new["id"])
    assert first.detail["pairs"] == [["KeyError", "parser"]] and len(first.examples) == 2
    evaluate(now + dt.timedelta(minutes=1))  # still new, already announced
    assert AlertEvent.objects.filter(rule_id=new["id"]).count() == 1
    ingest(acme, at(now, -2, status="FAILED", workflow_error_type="ValueError", workflow_error_node=None))
    evaluate(now + dt.timedelta(minutes=3))
    latest = AlertEvent.objects.filter(rule_id=new["id"]).first()
    assert latest.state == "firing" and latest.detail["pairs"] == [["ValueError", None]]
    assert AlertDelivery.objects.filter(event__rule_id=new["id"]).count() == 2
    evaluate(now + dt.timedelta(minutes=40))  # both pairs are history now
    assert AlertEvent.objects.filter(rule_id=new["id"]).first().state == "resolved"
    assert rule(new["id"]).state == "ok" and rule(new["id"]).reported_pairs == []


def test_category_filter_reads_only_its_runs_and_never_another_tenant(acme: Tenant, now: dt.datetime) -> None:
    ingest(acme, at(now, 1, status="FAILED", category="billing"), at(now, 2, status="SUCCESS", category="billing"),
           at(now, 3, status="FAILED", category="shipping"))
    ingest(make_tenant("other"), *(at(now, 1, status="FAILED", category="billing") for _ in range(4)))
    billing = create_rule(acme, kind="error_count", threshold=1, filters={"category": "billing"})
    billing_vip = create_rule(acme, kind="error_count", threshold=1,
                              filters={"category": "billing", "customer_type": "VIP"})
    evaluate(now)
    assert rule(billing["id"]).last_value == 1.0  # rollup (category dimension)
    assert rule(billing_vip["id"]).last_value == 1.0  # scan (customer_type): factories' logs are VIP


def test_a_snoozed_rule_records_but_notifies_only_after_the_snooze(acme: Tenant, now: dt.datetime) -> None:
    ingest(acme, *(at(now, 1, status="FAILED") for _ in range(3)))
    snoozed = create_rule(acme, snoozed_until=(now + dt.timedelta(minutes=5)).isoformat())
    evaluate(now)
    event = AlertEvent.objects.get(rule_id=snoozed["id"])
    assert event.state == "firing" and event.delivery_status == "snoozed"
    assert not AlertDelivery.objects.exists()
    evaluate(now + dt.timedelta(minutes=6))  # still firing, snooze over: told now
    (delivery,) = AlertDelivery.objects.all()
    assert delivery.event == event and delivery.notification == "firing"


def test_reminders_every_repeat_minutes_while_firing(acme: Tenant, now: dt.datetime) -> None:
    ingest(acme, *(at(now, 1, status="FAILED") for _ in range(3)))
    repeating = create_rule(acme, window_minutes=60, repeat_minutes=10)
    evaluate(now)
    evaluate(now + dt.timedelta(minutes=5))
    assert AlertDelivery.objects.count() == 1
    evaluate(now + dt.timedelta(minutes=10))
    evaluate(now + dt.timedelta(minutes=15))
    assert list(AlertDelivery.objects.values_list("notification", flat=True)) == ["firing", "reminder"]
    assert AlertEvent.objects.filter(rule_id=repeating["id"]).count() == 1


def test_a_rule_resolved_during_its_snooze_tells_nobody(acme: Tenant, now: dt.datetime) -> None:
    ingest(acme, *(at(now, 1, status="FAILED") for _ in range(3)))
    create_rule(acme, snoozed_until=(now + dt.timedelta(hours=1)).isoformat())
    evaluate(now)
    evaluate(now + dt.timedelta(minutes=30))
    assert list(AlertEvent.objects.values_list("state", flat=True)) == ["resolved", "firing"]
    assert not AlertDelivery.objects.exists()


def test_a_round_skips_rules_evaluated_moments_ago(acme: Tenant, now: dt.datetime) -> None:
    created = create_rule(acme)
    assert evaluate_all(now=now, interval=60).rules == 1
    assert evaluate_all(now=now + dt.timedelta(seconds=10), interval=60).rules == 0
    assert evaluate_all(now=now + dt.timedelta(seconds=50), interval=60).rules == 1
    assert rule(created["id"]).last_evaluated_at == now + dt.timedelta(seconds=50)


def test_an_inactive_clients_rules_rest(acme: Tenant, now: dt.datetime) -> None:
    create_rule(acme, kind="no_data")
    acme.client.is_active = False
    acme.client.save()
    assert evaluate_all(now=now, interval=0).rules == 0


@pytest.mark.parametrize("failing", [False, True])
def test_a_rule_changed_during_a_round_keeps_the_change(acme: Tenant, now: dt.datetime, monkeypatch: Any,
                                                        failing: bool) -> None:
    from alerts import evaluator, services
    from alerts.measure import measure as real_measure

    if failing:
        ingest(acme, *(at(now, 1, status="FAILED") for _ in range(3)))
    created = create_rule(acme)

    def measure_while_an_admin_edits(rule: AlertRule, when: dt.datetime, reader: Any) -> Any:
        services.rule_update(rule=AlertRule.objects.get(pk=rule.pk), data={"threshold": 90.0})
        return real_measure(rule, when, reader)

    monkeypatch.setattr(evaluator, "measure", measure_while_an_admin_edits)
    evaluate_all(now=now, interval=0)
    changed = rule(created["id"])
    # Measured on the old definition: neither its state nor its value is written over the change.
    assert (changed.threshold, changed.state, changed.last_value, changed.last_evaluated_at) == (90.0, "ok", None, None)
    assert not AlertEvent.objects.exists()
