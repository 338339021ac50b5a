"""The usage rollup (logs migration 0018): `/metrics/usage?group=` answered from it equals the
scan of the logs, whatever wrote them: inserts (pending and folded), updates of a run's tokens
as its OpenTelemetry spans arrive (signed deltas), updates of a counted column (recount),
deletes (retention), the rebuild command. The scan answers when a filter narrows the logs: a
filter every log matches (environment=production) gives the scan's answer to compare with."""
from __future__ import annotations

import datetime as dt
import importlib
import random
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from conftest import Tenant
from logs.models import WorkflowLog
from logs.tests.factories import ingest, log_body
from metrics.flusher import flush_all
from metrics.tests.test_rollups import random_body, stored_vs_recount, usage_stored_vs_recount
from otel.tests.bodies import span, span_id, trace_id, traces_request

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc
# random_body's logs span 2026-03-01 .. 03-07; the 7 days end at 13:30 (a partial hour, read raw).
NOW = dt.datetime(2026, 3, 7, 13, 30, tzinfo=UTC)
GROUPS = ("day", "hour", "category", "workflow_version")


def usage(tenant: Tenant, group: str, **filters: Any) -> dict[str, Any]:
    response = tenant.api.get("/api/v1/metrics/usage", {"days": 7, "group": group, **filters})
    assert response.status_code == 200, response.content
    return response.json()


def assert_rollup_equals_scan(tenant: Tenant) -> None:
    for group in GROUPS:
        rolled, scanned = usage(tenant, group), usage(tenant, group, environment="production")
        assert rolled == scanned, group
        assert rolled["keys"], group  # the comparison is about sums, not two empty answers


def pending_usage_rows(client_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM logs_usage_pending WHERE client_id = %s", [client_id])
        return int(cursor.fetchone()[0])


def pending_usage_changes(client_id: int) -> dict[str, tuple[int, Decimal]]:
    """key -> (signed logs, signed total) of the client's pending usage rows."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, sum(n), sum(total) FROM logs_usage_pending WHERE client_id = %s GROUP BY key",
                       [client_id])
        return {key: (int(n), total) for key, n, total in cursor.fetchall()}


@pytest.fixture
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)


@pytest.fixture
def logs(alice: Tenant, bob: Tenant, frozen_now: None) -> None:
    r = random.Random(26)
    for first in range(0, 400, 100):
        ingest(alice, *[random_body(r, i) for i in range(first, first + 100)])
    ingest(bob, *[random_body(r, 1000 + i) for i in range(50)])


def test_inserts_pending_and_folded(alice: Tenant, logs: None) -> None:
    assert pending_usage_rows(alice.client.pk) > 0
    assert_rollup_equals_scan(alice)  # the pending rows read on the fly
    flush_all()
    assert pending_usage_rows(alice.client.pk) == 0
    assert_rollup_equals_scan(alice)
    stored, recount = usage_stored_vs_recount(alice.client.pk)
    assert stored == recount and stored


def test_keys_figures_and_other_tenants(alice: Tenant, bob: Tenant, frozen_now: None) -> None:
    """Hand-made numbers: odd values and names are left out, exact decimal sums, bob's logs apart."""
    base = dt.datetime(2026, 3, 6, 10, tzinfo=UTC)
    ingest(alice, log_body(executed_at=base.isoformat(), category="billing",
                           metrics={"total_tokens": 1000, "cost_usd": 0.1, "Cost": "n/a", "tokens": True}))
    ingest(alice, log_body(executed_at=(base + dt.timedelta(hours=1)).isoformat(), category="billing",
                           metrics={"total_tokens": 24, "cost_usd": 0.2, "x" * 65 + "_tokens": 5}))
    ingest(alice, log_body(executed_at=(base + dt.timedelta(hours=2)).isoformat(), category="refund", metrics={}))
    ingest(bob, log_body(executed_at=base.isoformat(), category="billing", metrics={"total_tokens": 999}))
    for _ in range(2):
        data = usage(alice, "category")
        assert data["keys"] == ["cost_usd", "total_tokens"]
        assert data["data"] == [
            {"group": "billing", "runs": 2, "usage": {"cost_usd": {"runs_with": 2, "sum": 0.3, "mean": 0.15},
                                                      "total_tokens": {"runs_with": 2, "sum": 1024.0, "mean": 512.0}}},
            {"group": "refund", "runs": 1, "usage": {"cost_usd": {"runs_with": 0, "sum": 0.0, "mean": None},
                                                     "total_tokens": {"runs_with": 0, "sum": 0.0, "mean": None}}}]
        assert data["totals"] == {"cost_usd": 0.3, "total_tokens": 1024.0}
        assert data == usage(alice, "category", environment="production")
        flush_all()


def send_spans(tenant: Tenant, spans: list[dict[str, Any]]) -> None:
    body = traces_request(spans, {"service.name": "agent", "deployment.environment.name": "production"})
    response = tenant.api.post("/v1/traces", data=body, content_type="application/x-protobuf")
    assert response.status_code == 200, response.content


def chat(trace: str, root: str, start: int, tokens: tuple[int, int]) -> dict[str, Any]:
    return span(trace, span_id(), "chat", parent=root, start=start, attributes={
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": tokens[0], "gen_ai.usage.output_tokens": tokens[1]})


def test_otel_spans_arriving_update_the_usage_by_signed_deltas(alice: Tenant) -> None:
    """A run's tokens grow as its chat spans arrive in later exports: each export rewrites the
    run's `metrics`; the usage rollup follows by a -1 row (the old usage) and a +1 row (the new)
    appended in the export's transaction, no recount."""
    call_command("set_model_price", "alice", "gpt-4o", "2.50", "10.00", stdout=StringIO())
    start = int((timezone.now() - dt.timedelta(hours=5)).timestamp() * 1e9)
    trace, root = trace_id(), span_id()
    send_spans(alice, [span(trace, root, "root", start=start), chat(trace, root, start, (1000, 200))])
    flush_all()
    (run,) = WorkflowLog.objects.filter(client=alice.client)
    assert run.metrics["total_tokens"] == 1200
    for tokens, total in [((300, 30), 1530), ((7, 3), 1540)]:
        send_spans(alice, [chat(trace, root, start, tokens)])
        run.refresh_from_db()
        assert run.metrics["total_tokens"] == total
        # the old usage out (n -1), the new one in (n +1), summed per key (logs migration 0020):
        # the run stays one log (n 0) whose totals moved by the export's tokens
        changes = pending_usage_changes(alice.client.pk)
        assert changes and {n for n, _ in changes.values()} == {0}
        assert changes["total_tokens"][1] == sum(tokens)
        for group in GROUPS:
            rolled = usage(alice, group)
            scanned = usage(alice, group, environment="production")
            assert [rolled[k] for k in ("keys", "data", "totals")] == [scanned[k] for k in ("keys", "data", "totals")]
            assert rolled["totals"]["total_tokens"] == total and rolled["totals"]["input_tokens"] == total - {
                1530: 230, 1540: 233}[total]
        flush_all()
        stored, recount = usage_stored_vs_recount(alice.client.pk)
        assert stored == recount
        # one run: every cell counts it once (no -1 left over, no duplicate)
        assert {row[6] for row in stored} == {1}
    assert usage(alice, "day")["totals"]["cost"] == pytest.approx((1307 * 2.5 + 233 * 10) / 1e6, abs=1e-6)


def test_updates_of_usage_and_of_counted_columns_in_one_statement(alice: Tenant, logs: None) -> None:
    """One UPDATE that changes the tokens of some logs (deltas) and the category or day of others
    (a recount of their days, which also drops the deltas of those days and counts the table)."""
    flush_all()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE workflow_logs SET metrics = metrics || jsonb_build_object('total_tokens', 77, 'cached_tokens', 5), "
            "category = CASE WHEN extract(minute FROM executed_at) < 10 THEN 'moved' ELSE category END "
            "WHERE client_id = %s AND extract(second FROM executed_at)::int %% 3 = 0", [alice.client.pk])
        assert cursor.rowcount > 50
        cursor.execute("UPDATE workflow_logs SET metrics = '{}' WHERE client_id = %s AND category = 'refund'",
                       [alice.client.pk])
        cursor.execute("UPDATE workflow_logs SET executed_at = executed_at - interval '1 day' "
                       "WHERE client_id = %s AND category = 'shipping' AND executed_at >= %s",
                       [alice.client.pk, NOW - dt.timedelta(days=3)])
    assert_rollup_equals_scan(alice)
    assert "cached_tokens" in usage(alice, "day")["keys"]
    stored, recount = stored_vs_recount(alice.client.pk)
    assert stored == recount
    assert_rollup_equals_scan(alice)


def test_deletes_and_retention(alice: Tenant, logs: None) -> None:
    flush_all()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM workflow_logs WHERE client_id = %s AND category = 'billing'", [alice.client.pk])
    assert_rollup_equals_scan(alice)
    alice.client.retention_days = 3
    alice.client.save()
    call_command("prune_logs", stdout=StringIO())
    assert WorkflowLog.objects.filter(client=alice.client, executed_at__lt=NOW - dt.timedelta(days=3)).count() == 0
    assert_rollup_equals_scan(alice)
    stored, recount = stored_vs_recount(alice.client.pk)
    assert stored == recount


def test_rebuild_rollups_repairs_the_usage_rollup(alice: Tenant, bob: Tenant, logs: None) -> None:
    flush_all()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE logs_usage_rollup SET total = total + 1 WHERE client_id = %s AND kind = 'T'",
                       [alice.client.pk])
        cursor.execute("DELETE FROM logs_usage_rollup WHERE client_id = %s AND kind = 'C'", [alice.client.pk])
        cursor.execute("INSERT INTO logs_usage_rollup VALUES (%s, 'd', '2020-01-01', 'T', NULL, 'ghost_tokens', 1, 1)",
                       [alice.client.pk])
    assert usage_stored_vs_recount(alice.client.pk)[0] != usage_stored_vs_recount(alice.client.pk)[1]
    bob_before = usage_stored_vs_recount(bob.client.pk)[0]
    call_command("rebuild_rollups", "--client", "alice", stdout=StringIO())
    stored, recount = usage_stored_vs_recount(alice.client.pk)
    assert stored == recount and stored
    assert usage_stored_vs_recount(bob.client.pk)[0] == bob_before
    assert_rollup_equals_scan(alice)


def test_a_log_counts_at_most_ten_usage_keys_shortest_first(alice: Tenant, frozen_now: None) -> None:
    """The rollup's bound on what one log can add (logs_usage_of): 10 keys, shortest names first."""
    names = [f"{'t' * i}_tokens" for i in range(1, 13)]  # 8 to 19 characters
    ingest(alice, log_body(executed_at="2026-03-06T10:00:00Z", metrics={name: 1 for name in reversed(names)}))
    assert usage(alice, "day")["keys"] == sorted(names[:10])
    flush_all()
    stored, recount = usage_stored_vs_recount(alice.client.pk)
    assert stored == recount and {row[5] for row in stored} == set(names[:10])


def test_the_migrations_backfill_counts_every_stored_log(alice: Tenant, bob: Tenant, logs: None) -> None:
    migration = importlib.import_module("logs.migrations.0018_usage_rollup")
    flush_all()
    expected = {tenant.client.pk: usage_stored_vs_recount(tenant.client.pk)[1] for tenant in (alice, bob)}
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM logs_usage_rollup")
        cursor.execute(migration.BACKFILL)
    for client_id, rows in expected.items():
        stored, recount = usage_stored_vs_recount(client_id)
        assert stored == recount == rows and rows


def test_the_totals_of_otel_runs_come_from_the_rollup_as_from_the_scan(alice: Tenant) -> None:
    """The cards' figures (runs with usage, input/output tokens, cost, and the previous period's)
    without filters (the usage rollup) and with one every run matches (the scan)."""
    call_command("set_model_price", "alice", "gpt-4o", "2.50", "10.00", stdout=StringIO())
    for days_ago, tokens in [(0.2, (1000, 200)), (2, (30, 7)), (9, (5, 5))]:
        start = int((timezone.now() - dt.timedelta(days=days_ago)).timestamp() * 1e9)
        trace, root = trace_id(), span_id()
        send_spans(alice, [span(trace, root, "root", start=start), chat(trace, root, start, tokens)])
    ingest(alice, log_body(executed_at=timezone.now().isoformat(), metrics={"total_tokens": "many", "cost": "n/a"}))
    names = ("runs", "input_tokens", "output_tokens", "total_tokens", "cost")
    for _ in range(2):  # pending, then folded
        rolled = alice.api.get("/api/v1/metrics/usage", {"days": 7}).json()
        scanned = alice.api.get("/api/v1/metrics/usage", {"days": 7, "environment": "production"}).json()
        assert [rolled[k] for k in names] == [scanned[k] for k in names]
        assert [rolled["previous"][k] for k in names] == [scanned["previous"][k] for k in names]
        assert (rolled["runs"], rolled["input_tokens"], rolled["output_tokens"]) == (2, 1030, 207)
        assert rolled["previous"]["total_tokens"] == 10 and rolled["cost"] is not None
        flush_all()


class _Editor:
    """What a migration's RunPython function uses of its schema editor."""
    connection = connection


def test_migration_0020_converts_pending_rows_both_ways(alice: Tenant, bob: Tenant, logs: None) -> None:
    """Pending usage of 0018's layout (one JSON row per log, signed) is summed into 0020's per-key
    rows, and back: 0020's backward folds its pending rows into the rollup before restoring 0018.
    The answers equal the scan's, and the stored rollup a recount, at every step."""
    migration = importlib.import_module("logs.migrations.0020_rollup_cost")
    r = random.Random(20)
    assert pending_usage_rows(alice.client.pk) > 0
    migration.backward(None, _Editor())  # 0018's table, empty: every pending row folded in
    assert pending_usage_rows(alice.client.pk) == 0
    stored, recount = usage_stored_vs_recount(alice.client.pk)  # (this code's reader wants 0020's table)
    assert stored == recount and stored
    ingest(alice, *[random_body(r, 2000 + i) for i in range(100)])  # 0018's trigger: a row per log
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT executed_at) FROM logs_usage_pending WHERE client_id = %s",
                       [alice.client.pk])
        rows, times = cursor.fetchone()
    assert rows == times > 0  # per log, at its own time
    migration.forward(None, _Editor())
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM logs_usage_pending WHERE client_id = %s AND hour <> date_trunc('hour', "
                       "hour, 'UTC')", [alice.client.pk])
        assert cursor.fetchone()[0] == 0
    assert pending_usage_rows(alice.client.pk) > 0
    for tenant in (alice, bob):
        assert_rollup_equals_scan(tenant)
    ingest(alice, *[random_body(r, 3000 + i) for i in range(100)])  # 0020's trigger again
    assert_rollup_equals_scan(alice)
    for tenant in (alice, bob):
        stored, recount = usage_stored_vs_recount(tenant.client.pk)
        assert stored == recount and stored
