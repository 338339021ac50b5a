"""GET /api/v1/metrics/versions/compare and /metrics/usage, and the tests of metrics/stats.py,
with numbers computed by hand. Clock: 2025-03-12 15:30 UTC (days=7 starts 2025-03-06)."""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest

from conftest import Tenant
from logs.tests.factories import ingest, log_body
from metrics import stats

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2025, 3, 12, 15, 30, tzinfo=dt.timezone.utc)
START = dt.datetime(2025, 3, 6, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)


def _version_logs(version: str, *, successes: int, time_offset: float, confidence: float, needs_info_every: int,
                  tokens: int | None, cost: float | None) -> list[dict[str, Any]]:
    """40 logs, one an hour from 03-06 00:00: the first `successes` SUCCESS, the rest FAILED;
    execution time time_offset + (i % 10); confidence + 0.01 · (i % 5)."""
    logs = []
    for i in range(40):
        metrics: dict[str, Any] = {"overall_confidence": round(confidence + 0.01 * (i % 5), 2),
                                   "needs_more_info": i % needs_info_every == 0, "label": "text is ignored"}
        if tokens is not None and i % 2 == 0:  # half of the runs report usage
            metrics.update(total_tokens=tokens, cost_usd=cost)
        logs.append(log_body(
            executed_at=(START + dt.timedelta(hours=i)).isoformat(), workflow_version=version,
            status="SUCCESS" if i < successes else "FAILED", execution_time_seconds=time_offset + i % 10,
            category="billing" if i % 4 else "shipping", metrics=metrics))
    return logs


@pytest.fixture
def versions(alice: Tenant, bob: Tenant) -> None:
    ingest(alice, *_version_logs("v1", successes=32, time_offset=1, confidence=0.8, needs_info_every=4,
                                 tokens=100, cost=0.01))
    ingest(alice, *_version_logs("v2", successes=20, time_offset=2, confidence=0.6, needs_info_every=2,
                                 tokens=200, cost=0.03))
    ingest(bob, *_version_logs("v1", successes=0, time_offset=50, confidence=0.1, needs_info_every=1,
                               tokens=999, cost=9.0))


def compare(tenant: Tenant, **params: Any) -> dict[str, Any]:
    response = tenant.api.get("/api/v1/metrics/versions/compare", {"days": 7, **params})
    assert response.status_code == 200, response.content
    return response.json()


def test_two_versions_side_by_side(alice: Tenant, versions: None) -> None:
    data = compare(alice, a="v1", b="v2")
    assert (data["a"]["count"], data["a"]["success_rate"], data["a"]["error_rate"], data["a"]["sample_size"]) == (
        40, 80.0, 20.0, 40)
    assert (data["b"]["count"], data["b"]["success_rate"], data["b"]["avg_execution_time"]) == (40, 50.0, 6.5)
    by_metric = {c["metric"]: c for c in data["comparisons"]}
    assert list(by_metric) == ["success_rate", "error_rate", "execution_time_seconds", "metrics.cost_usd",
                               "metrics.needs_more_info", "metrics.overall_confidence", "metrics.total_tokens"]
    success = by_metric["success_rate"]
    # 32/40 vs 20/40: pooled 52/80 = 0.65; se = sqrt(0.65 · 0.35 · (1/40 + 1/40)) = 0.106654;
    # z = (0.5 − 0.8) / se = −2.8128; p = erfc(2.8128 / √2) = 0.00491
    assert (success["a"], success["b"], success["difference"], success["better"]) == (80.0, 50.0, -30.0, "a")
    assert success["statistic"] == pytest.approx(-2.8128, abs=1e-4)
    assert success["p_value"] == pytest.approx(0.00491, abs=1e-5)
    assert (success["test"], success["significant"]) == ("two-proportion z-test", True)
    assert (by_metric["error_rate"]["difference"], by_metric["error_rate"]["better"]) == (30.0, "a")
    time = by_metric["execution_time_seconds"]
    # 1..10 four times vs 2..11 four times: means 5.5 and 6.5, sample variance 4 · 82.5 / 39 =
    # 8.4615 each; t = 1 / sqrt(2 · 8.4615 / 40) = 1.5374 with 78 degrees of freedom: p = 0.128
    assert (time["a"], time["b"], time["difference"], time["better"]) == (5.5, 6.5, 1.0, "a")
    assert time["statistic"] == pytest.approx(1.5374, abs=1e-4)
    assert time["p_value"] == pytest.approx(0.128, abs=1e-3)
    assert (time["test"], time["significant"]) == ("Welch's t-test", False)
    needs = by_metric["metrics.needs_more_info"]
    # 10/40 vs 20/40: pooled 0.375; z = 0.25 / sqrt(0.375 · 0.625 · 0.05) = 2.3094; p = 0.0209
    assert (needs["kind"], needs["a"], needs["b"], needs["better"]) == ("rate", 25.0, 50.0, None)
    assert needs["statistic"] == pytest.approx(2.3094, abs=1e-4) and needs["p_value"] == pytest.approx(0.0209, abs=1e-4)
    confidence = by_metric["metrics.overall_confidence"]
    assert (confidence["a"], confidence["b"], confidence["difference"]) == (0.82, 0.62, -0.2)
    assert confidence["significant"] is True and confidence["p_value"] < 1e-12
    tokens = by_metric["metrics.total_tokens"]
    assert (tokens["n_a"], tokens["a"], tokens["b"], tokens["p_value"]) == (20, 100.0, 200.0, 0.0)


def test_too_few_runs_give_no_verdict_and_an_unknown_version_is_empty(alice: Tenant, versions: None) -> None:
    data = compare(alice, a="v1", b="v9")
    assert (data["b"]["count"], data["b"]["sample_size"], data["b"]["first_seen"]) == (0, 0, None)
    by_metric = {c["metric"]: c for c in data["comparisons"]}
    assert (by_metric["success_rate"]["b"], by_metric["success_rate"]["significant"]) == (None, None)
    assert by_metric["execution_time_seconds"]["significant"] is None
    narrow = compare(alice, a="v1", b="v2", category="shipping")  # 10 logs each: too few for the z-test
    success = {c["metric"]: c for c in narrow["comparisons"]}["success_rate"]
    assert (success["n_a"], success["significant"], success["statistic"]) == (10, None, None)


def test_compare_needs_both_versions(alice: Tenant, anon: Any) -> None:
    response = alice.api.get("/api/v1/metrics/versions/compare", {"a": "v1"})
    assert response.status_code == 400 and "b" in response.json()["error"]["details"]
    assert anon.get("/api/v1/metrics/versions/compare", {"a": "v1", "b": "v2"}).status_code == 401


def test_usage_per_version_and_per_day(alice: Tenant, versions: None) -> None:
    by_version = alice.api.get("/api/v1/metrics/usage", {"days": 7, "group": "workflow_version"}).json()
    assert by_version["keys"] == ["cost_usd", "total_tokens"]
    assert by_version["data"] == [
        {"group": "v1", "runs": 40, "usage": {"cost_usd": {"runs_with": 20, "sum": 0.2, "mean": 0.01},
                                              "total_tokens": {"runs_with": 20, "sum": 2000.0, "mean": 100.0}}},
        {"group": "v2", "runs": 40, "usage": {"cost_usd": {"runs_with": 20, "sum": 0.6, "mean": 0.03},
                                              "total_tokens": {"runs_with": 20, "sum": 4000.0, "mean": 200.0}}},
    ]
    assert by_version["totals"] == {"cost_usd": 0.8, "total_tokens": 6000.0}
    by_day = alice.api.get("/api/v1/metrics/usage", {"days": 7, "group": "day"}).json()
    # hours 0-23 on 03-06 (12 of each version carry usage), 24-39 on 03-07 (8 each)
    assert [(row["group"], row["runs"], row["usage"]["total_tokens"]["sum"]) for row in by_day["data"]] == [
        ("2025-03-06T00:00:00Z", 48, 3600.0), ("2025-03-07T00:00:00Z", 32, 2400.0),
        *[(f"2025-03-{d:02d}T00:00:00Z", 0, 0.0) for d in range(8, 13)]]


def test_usage_one_answer_for_both_dashboards(alice: Tenant, versions: None) -> None:
    """The totals with the previous period (the overview's cards) are in every answer; the
    breakdown (the latency-and-cost page) only when a `group` is asked for."""
    totals_only = alice.api.get("/api/v1/metrics/usage", {"days": 7}).json()
    assert {"keys", "group", "data", "totals"}.isdisjoint(totals_only)
    # runs carrying total_tokens (20 per version); no input/output tokens or `cost` in these logs
    assert (totals_only["runs"], totals_only["cost"], totals_only["previous"]["runs"]) == (40, None, 0)
    both = alice.api.get("/api/v1/metrics/usage", {"days": 7, "group": "category"}).json()
    assert {key: both[key] for key in totals_only} == totals_only and both["keys"] == ["cost_usd", "total_tokens"]
    bad = alice.api.get("/api/v1/metrics/usage", {"days": 7, "group": "week"})
    assert bad.status_code == 400 and "group" in bad.json()["error"]["details"]


def test_usage_without_usage_metrics(bob: Tenant, alice: Tenant) -> None:
    ingest(alice, log_body(executed_at="2025-03-10T10:00:00Z", metrics={"overall_confidence": 0.5}))
    data = alice.api.get("/api/v1/metrics/usage", {"days": 7, "group": "category"}).json()
    assert (data["keys"], data["data"], data["totals"]) == ([], [], {})


def test_student_t_against_known_values() -> None:
    # Tables: t = 2.228 with 10 df is the two-sided 5 % point; t = 1.0 with 1 df gives p = 0.5.
    assert stats.student_t_two_sided(2.228, 10) == pytest.approx(0.05, abs=2e-4)
    assert stats.student_t_two_sided(1.0, 1) == pytest.approx(0.5, abs=1e-9)
    assert stats.student_t_two_sided(0.0, 5) == pytest.approx(1.0)
    # large df: the normal distribution, p(|Z| > 1.96) = 0.05
    assert stats.student_t_two_sided(1.96, 1e6) == pytest.approx(math.erfc(1.96 / math.sqrt(2)), abs=1e-5)
