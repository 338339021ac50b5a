"""GET /api/v1/metrics/issues and /issues/{fingerprint}, and the logs list's `error_issue`
filter: every figure computed by hand.

The clock is fixed at Wednesday 2025-03-12 15:30:00 UTC, so `days=7` is
[2025-03-06 00:00, 2025-03-12 15:30), seven daily buckets 03-06 … 03-12.
Versions by their first log: v1 (02-20), v2 (03-01), v3 (03-11 09:00).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from conftest import Tenant
from logs.tests.factories import ingest, log_body

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2025, 3, 12, 15, 30, tzinfo=dt.timezone.utc)
BASE = "/api/v1/metrics/issues"


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)


def _log(at: str, status: str, version: str, error_type: str | None = None, node: str | None = None,
         message: str | None = None, **extra: Any) -> dict[str, Any]:
    return log_body(executed_at=at, status=status, workflow_version=version, workflow_error_type=error_type,
                    workflow_error_node=node, workflow_error=message, environment=extra.pop("environment", "production"),
                    **extra)


TIMEOUT = ("TimeoutError", "crm_lookup")


@pytest.fixture
def logs(alice: Tenant, bob: Tenant) -> dict[str, str]:
    ids = ingest(
        alice,
        # A: one issue whatever the numbers, ids and quoted values in its message
        _log("2025-02-20T08:00:00Z", "FAILED", "v1", *TIMEOUT, "Timeout after 30 s calling 'crm' for ticket 123"),  # a1
        _log("2025-03-07T08:00:00Z", "FAILED", "v2", *TIMEOUT, "Timeout after 12.5 s calling 'erp' for ticket A-77"),  # a2
        _log("2025-03-10T08:00:00Z", "ERROR", "v2", *TIMEOUT, 'Timeout after 9 s calling "crm" for ticket 5',
             environment="staging"),  # a3
        _log("2025-03-12T10:00:00Z", "FAILED", "v3", *TIMEOUT, "Timeout after 31 s calling 'crm' for ticket 9"),  # a4
        # B: new in v3 (two logs, the second in the raw edge after 15:00)
        _log("2025-03-11T12:00:00Z", "FAILED", "v3", "KeyError", "parse", "missing key 'x' in row 4"),  # b1
        _log("2025-03-12T15:10:00Z", "ERROR", "v3", "KeyError", "parse", "missing key 'yy' in row 10"),  # b2
        # C: failed without any error detail
        _log("2025-03-09T08:00:00Z", "FAILED", "v2"),  # c1
        # D: same type and node as A, another message: another issue
        _log("2025-03-08T08:00:00Z", "FAILED", "v2", *TIMEOUT, "Connection refused by https://crm.example/api/7"),  # d1
        # E: a PARTIAL run with an error type is failing too
        _log("2025-03-11T13:00:00Z", "PARTIAL", "v3", "ValidationError", "validator", "field 'email' invalid"),  # e1
        # successes: the versions' first logs, and noise
        _log("2025-03-01T00:00:00Z", "SUCCESS", "v2"),
        _log("2025-03-11T09:00:00Z", "SUCCESS", "v3"),
        _log("2025-03-12T11:00:00Z", "SUCCESS", "v3"),
    )
    ingest(bob, _log("2025-03-10T12:00:00Z", "FAILED", "v2", *TIMEOUT, "bob's very own failure"))
    return dict(zip(["a1", "a2", "a3", "a4", "b1", "b2", "c1", "d1", "e1"], ids))


def fingerprint(error_type: str | None, node: str | None, message: str | None) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT logs_error_fingerprint(%s, %s, %s)", [error_type, node, message])
        return cursor.fetchone()[0]


def get(tenant: Tenant, path: str = "", **params: Any) -> dict[str, Any]:
    response = tenant.api.get(BASE + path, params)
    assert response.status_code == 200, response.content
    return response.json()


def brief(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["workflow_error_type"], row["count"], row["new_in_version"], row["trend"])


@pytest.mark.parametrize("flushed", [False, True], ids=["pending", "flushed"])
def test_issues_of_the_last_7_days(alice: Tenant, logs: dict[str, str], flushed: bool) -> None:
    if flushed:
        call_command("flush_rollups")
    data = get(alice, days=7)
    assert [brief(row) for row in data["data"]] == [
        ("TimeoutError", 3, None, [0, 1, 0, 0, 1, 0, 1]),  # A: a2 a3 a4; v1 is the oldest version
        ("KeyError", 2, "v3", [0, 0, 0, 0, 0, 1, 1]),  # B
        ("ValidationError", 1, "v3", [0, 0, 0, 0, 0, 1, 0]),  # E, latest of the three singles
        (None, 1, "v2", [0, 0, 0, 1, 0, 0, 0]),  # C
        ("TimeoutError", 1, "v2", [0, 0, 1, 0, 0, 0, 0]),  # D
    ]
    assert (data["total"], data["failing_logs"], data["interval"]) == (5, 8, "day")
    assert data["buckets"][0] == "2025-03-06T00:00:00Z" and len(data["buckets"]) == 7
    a = data["data"][0]
    assert a == {
        "fingerprint": fingerprint(*TIMEOUT, "Timeout after 30 s calling 'crm' for ticket 123"),
        "workflow_error_type": "TimeoutError", "workflow_error_node": "crm_lookup",
        "pattern": "Timeout after <n> s calling <q> for ticket <n>",
        "count": 3, "first_seen": "2025-02-20T08:00:00Z", "last_seen": "2025-03-12T10:00:00Z",
        "first_version": "v1", "new_in_version": None,
        "versions": [{"workflow_version": "v2", "count": 2}, {"workflow_version": "v3", "count": 1}],
        "trend": [0, 1, 0, 0, 1, 0, 1],
        "latest": {"log_id": logs["a4"], "executed_at": "2025-03-12T10:00:00Z", "ticket_id": "12345",
                   "status": "FAILED", "workflow_version": "v3",
                   "message": "Timeout after 31 s calling 'crm' for ticket 9"},
    }
    b = data["data"][1]
    assert (b["first_seen"], b["last_seen"], b["first_version"], b["pattern"]) == (
        "2025-03-11T12:00:00Z", "2025-03-12T15:10:00Z", "v3", "missing key <q> in row <n>")
    assert b["latest"]["log_id"] == logs["b2"]
    c = data["data"][3]
    assert (c["workflow_error_node"], c["pattern"], c["latest"]["message"]) == (None, "", None)


def test_sorts_new_in_and_limit(alice: Tenant, logs: dict[str, str]) -> None:
    newest_first = get(alice, days=7, sort="new")["data"]
    # first seen, latest first: E 03-11 13:00, B 03-11 12:00, C 03-09, D 03-08, A 02-20
    assert [(r["workflow_error_type"], r["first_seen"]) for r in newest_first] == [
        ("ValidationError", "2025-03-11T13:00:00Z"), ("KeyError", "2025-03-11T12:00:00Z"),
        (None, "2025-03-09T08:00:00Z"), ("TimeoutError", "2025-03-08T08:00:00Z"),
        ("TimeoutError", "2025-02-20T08:00:00Z")]
    recent = get(alice, days=7, sort="recent")["data"]
    assert [r["latest"]["executed_at"] for r in recent] == [
        "2025-03-12T15:10:00Z", "2025-03-12T10:00:00Z", "2025-03-11T13:00:00Z", "2025-03-09T08:00:00Z",
        "2025-03-08T08:00:00Z"]
    new_in_v3 = get(alice, days=7, new_in="v3")
    assert [r["workflow_error_type"] for r in new_in_v3["data"]] == ["KeyError", "ValidationError"]
    assert (new_in_v3["total"], new_in_v3["failing_logs"]) == (2, 3)
    limited = get(alice, days=7, limit=2)
    assert len(limited["data"]) == 2 and limited["total"] == 5


def test_filters_narrow_the_period_but_not_the_history(alice: Tenant, logs: dict[str, str]) -> None:
    production = get(alice, days=7, environment="production")["data"]
    # a3 ran in staging: A has a2 and a4 left (a tie with B, whose latest log is later), first
    # seen still a1 (history ignores filters)
    assert [(r["workflow_error_type"], r["count"]) for r in production[:2]] == [("KeyError", 2), ("TimeoutError", 2)]
    a = production[1]
    assert (a["count"], a["trend"], a["first_seen"]) == (2, [0, 1, 0, 0, 0, 0, 1], "2025-02-20T08:00:00Z")
    v2 = get(alice, days=7, workflow_version="v2")["data"]  # answered by the rollup (F has the version)
    assert [(r["workflow_error_type"], r["count"], r["versions"]) for r in v2] == [
        ("TimeoutError", 2, [{"workflow_version": "v2", "count": 2}]),
        (None, 1, [{"workflow_version": "v2", "count": 1}]),
        ("TimeoutError", 1, [{"workflow_version": "v2", "count": 1}]),
    ]
    hourly = get(alice, start_date="2025-03-12T00:00:00Z", end_date="2025-03-12T15:29:59Z", interval="hour")
    assert len(hourly["buckets"]) == 16
    # one log each on 03-12: a4 at 10:00, b2 at 15:10 (the later one first)
    assert [(r["workflow_error_type"], r["trend"][10], r["trend"][15]) for r in hourly["data"]] == [
        ("KeyError", 0, 1), ("TimeoutError", 1, 0)]


def test_one_issue_with_examples(alice: Tenant, logs: dict[str, str]) -> None:
    fp = fingerprint(*TIMEOUT, "Timeout after 1 s calling 'x' for ticket 2")  # any message of the pattern
    assert fp == get(alice, days=7)["data"][0]["fingerprint"]
    data = get(alice, f"/{fp}", days=7)
    assert (data["count"], data["versions"], data["trend"]) == (
        3, [{"workflow_version": "v2", "count": 2}, {"workflow_version": "v3", "count": 1}], [0, 1, 0, 0, 1, 0, 1])
    assert [e["log_id"] for e in data["examples"]] == [logs["a4"], logs["a3"], logs["a2"]]
    assert data["latest"]["log_id"] == logs["a4"] and data["period_start"] == "2025-03-06T00:00:00Z"
    # A period in which it did not occur: count 0, no examples, still identified by its latest log
    quiet = get(alice, f"/{fp}", start_date="2025-03-01", end_date="2025-03-05")
    assert (quiet["count"], quiet["examples"], quiet["trend"]) == (0, [], [0, 0, 0, 0, 0])
    assert (quiet["workflow_error_type"], quiet["latest"]["log_id"], quiet["first_seen"]) == (
        "TimeoutError", logs["a4"], "2025-02-20T08:00:00Z")


def test_another_clients_issue_is_not_found(alice: Tenant, bob: Tenant, logs: dict[str, str]) -> None:
    bobs = get(bob, days=7)["data"][0]["fingerprint"]
    assert alice.api.get(f"{BASE}/{bobs}", {"days": 7}).status_code == 404
    assert alice.api.get(f"{BASE}/not-a-fingerprint").status_code == 404
    assert [r["count"] for r in get(bob, days=7)["data"]] == [1]
    listed = alice.api.get("/api/v1/logs", {"error_issue": bobs}).json()
    assert listed["data"] == [] and listed["pagination"]["total"] == 0


def test_requires_a_key(anon: Any) -> None:
    assert anon.get(BASE).status_code == 401
    assert anon.get(f"{BASE}/0123456789abcdef").status_code == 401


@pytest.mark.parametrize("params, field", [({"sort": "worst"}, "sort"), ({"limit": 0}, "limit"),
                                           ({"interval": "week"}, "interval"), ({"days": 91}, "days")])
def test_bad_parameters_are_400s_naming_them(alice: Tenant, params: dict[str, Any], field: str) -> None:
    response = alice.api.get(BASE, params)
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_the_runs_of_an_issue_in_the_logs_list(alice: Tenant, logs: dict[str, str]) -> None:
    fp = get(alice, days=7)["data"][0]["fingerprint"]
    listed = alice.api.get("/api/v1/logs", {"error_issue": fp}).json()
    assert [row["id"] for row in listed["data"]] == [logs["a4"], logs["a3"], logs["a2"], logs["a1"]]
    recent = alice.api.get("/api/v1/logs", {"error_issue": fp.upper(), "start_date": "2025-03-06"}).json()
    assert [row["id"] for row in recent["data"]] == [logs["a4"], logs["a3"], logs["a2"]]
    bad = alice.api.get("/api/v1/logs", {"error_issue": "xyz"})
    assert bad.status_code == 400 and "error_issue" in bad.json()["error"]["details"]


def test_the_runs_of_an_issue_use_the_partial_index(alice: Tenant, logs: dict[str, str]) -> None:
    from logs.filters import LogFilterSet, validated_filters

    condition, params = LogFilterSet.condition(validated_filters(LogFilterSet, {"error_issue": "0123456789abcdef"}))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN SELECT id FROM workflow_logs WHERE client_id = %s AND {condition} "
                       "ORDER BY executed_at DESC, id DESC LIMIT 50", [alice.client.pk, *params])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # workflow_logs is partitioned: each partition's piece of wl_client_error_issue (named after
    # the partition: `<partition>_error_issue` when migration 0017 built it, PostgreSQL's
    # `..._logs_error_fingerprint_idx` for partitions created later) answers, none is read whole.
    assert "Seq Scan" not in plan and all("error_issue" in line or "fingerprint_idx" in line
                                          for line in plan.splitlines() if "Index Scan" in line), plan


@pytest.mark.parametrize("message, pattern", [
    ("Timeout after 30.5s on https://api.x.com/v1/o/123?a=b for bob@x.io", "Timeout after <n> on <url> for <email>"),
    ("order 8f3a-11c2 \"ACME\" «Kunde» „Zitat“ ‘x’ 「値」 `id`", "order <n> <q> <q> <q> <q> <q> <q>"),
    ("  many\t\tspaces \n and lines  ", "many spaces and lines"),
    ("Zeitüberschreitung nach 30 s — 超时 5秒", "Zeitüberschreitung nach <n> s — 超时 <n>秒"),
    (None, ""),
])
def test_message_normalisation(db: Any, message: str | None, pattern: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT logs_error_normalize(%s)", [message])
        assert cursor.fetchone()[0] == pattern


def test_recount_gives_the_same_issue_rows(alice: Tenant, logs: dict[str, str]) -> None:
    call_command("flush_rollups")
    before = get(alice, days=30)
    call_command("rebuild_rollups", "--client", "alice")
    assert get(alice, days=30) == before
