"""The metrics rollup (PostgreSQL): kept exact by triggers under every kind of write, and the
figures read from it equal a full scan (percentiles within the documented tolerance)."""
from __future__ import annotations

import datetime as dt
import math
import random
import threading
import time
from io import StringIO
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, connections

from conftest import Tenant
from ingestion.services import log_prepare
from ingestion.storage import store_many
from logs.models import WorkflowLog
from logs.tenant_sql.across_tenants import dangerously_count_pending as pending_count
from logs.tenant_sql.across_tenants import dangerously_flush_rollups, dangerously_vacuum_pending
from metrics import rollup as rollups
from metrics.flusher import flush_all, flusher
from tenants.models import Client
from logs.tests.factories import log_body

UTC = dt.timezone.utc
BATCH_URL = "/api/v1/logs/batch"
T0 = dt.datetime(2026, 3, 1, tzinfo=UTC)
STATUSES = ["SUCCESS"] * 6 + ["PARTIAL", "FAILED", "ERROR"]


def random_body(r: random.Random, index: int) -> dict[str, Any]:
    status = r.choice(STATUSES)
    failing = status in ("FAILED", "ERROR") and r.random() < 0.7
    seconds = r.choice([None, 0.0, 0.0004, round(r.lognormvariate(1.2, 0.9), 3), round(r.uniform(0, 30), 2)])
    return log_body(
        event_id=f"ev-{index}",
        executed_at=(T0 + dt.timedelta(seconds=r.randrange(0, 6 * 86400))).isoformat(),
        status=status.lower() if r.random() < 0.1 else status,
        category=r.choice(["billing", "shipping", "refund", None, ""]),
        workflow_version=r.choice(["v1", "v2", None]),
        execution_time_seconds=seconds,
        workflow_error_type=r.choice(["Timeout", "KeyError", None]) if failing or r.random() < 0.05 else None,
        workflow_error_node=r.choice(["planner", None]) if failing else None,
        workflow_error=f"boom {index}" if failing else None,
        # usage metrics for the usage rollup (logs migration 0018), odd values among them
        metrics=r.choice([{}, {"overall_confidence": 0.5},
                          {"total_tokens": r.randint(0, 5000), "cost_usd": round(r.random() / 7, 9)},
                          {"prompt_tokens": 7, "Cost": "not a number", "tokens": True, "total_tokens": -3.25}]),
    )


USAGE_RECOUNT = """
SELECT 'usage', grain, bucket, kind, dim1, key, count(*), sum(v) FROM (
    SELECT g.grain, date_trunc(CASE g.grain WHEN 'h' THEN 'hour' ELSE 'day' END, w.executed_at, 'UTC') AS bucket,
           k.kind, CASE k.kind WHEN 'C' THEN w.category WHEN 'V' THEN w.workflow_version END AS dim1,
           e.k AS key, (e.v #>> '{}')::numeric AS v
      FROM workflow_logs w
     CROSS JOIN LATERAL jsonb_each(logs_usage_of(w.metrics)) AS e(k, v)
     CROSS JOIN (VALUES ('h'::"char"), ('d'::"char")) AS g(grain)
     CROSS JOIN (VALUES ('T'::"char"), ('C'::"char"), ('V'::"char")) AS k(kind)
     WHERE w.client_id = %s) AS x
 GROUP BY 2, 3, 4, 5, 6 ORDER BY 2, 3, 4, 5, 6
"""
USAGE_STORED = ("SELECT 'usage', grain, bucket, kind, dim1, key, n, total FROM logs_usage_rollup WHERE client_id = %s "
                "ORDER BY 2, 3, 4, 5, 6")


def usage_stored_vs_recount(client_id: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The usage rollup's rows as stored (after folding every pending row in), and as summed from
    the table right now (exact: `numeric`)."""
    flush_all()
    with connection.cursor() as cursor:
        cursor.execute(USAGE_STORED, [client_id])
        stored = cursor.fetchall()
        cursor.execute(USAGE_RECOUNT, [client_id])
        return stored, cursor.fetchall()


def stored_vs_recount(client_id: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rollup rows as stored (after folding every pending log in), and as recomputed from
    the table right now; then the same of the usage rollup (`usage_stored_vs_recount`)."""
    usage_stored, usage_recount = usage_stored_vs_recount(client_id)
    cols = "grain, bucket, kind, dim1, dim2, status, bin, n, time_n, round(time_sum::numeric, 6), first_at, last_at"
    order = "ORDER BY grain, bucket, kind, dim1, dim2, status, bin"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {cols} FROM logs_rollup WHERE client_id = %s {order}", [client_id])
        stored = cursor.fetchall()
        cursor.execute(
            f"SELECT {cols} FROM logs_rollup_rows(ARRAY(SELECT ROW(client_id, executed_at, execution_time_seconds, "
            "status, category, workflow_version, workflow_error_type, workflow_error_node, "
            "CASE WHEN status IN ('FAILED', 'ERROR') OR workflow_error_type IS NOT NULL THEN "
            "logs_error_fingerprint(workflow_error_type, workflow_error_node, workflow_error) END)::logs_rollup_input "
            f"FROM workflow_logs WHERE client_id = %s)) {order}", [client_id])
        return stored + usage_stored, cursor.fetchall() + usage_recount


def percentile_cont(values: list[float], fraction: float) -> float:
    values = sorted(values)
    if not values:
        return 0.0
    position = fraction * (len(values) - 1)
    lo = math.floor(position)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (position - lo)


def scan(client_id: int, start: dt.datetime, end: dt.datetime, key: Any) -> dict[Any, dict[str, Any]]:
    """The reference: every figure computed in Python from every row of the period."""
    groups: dict[Any, list[WorkflowLog]] = {}
    for row in WorkflowLog.objects.filter(client_id=client_id, executed_at__gte=start, executed_at__lt=end):
        groups.setdefault(key(row), []).append(row)
    out = {}
    for k, rows in groups.items():
        times = [r.execution_time_seconds for r in rows if r.execution_time_seconds is not None]
        out[k] = {
            "count": len(rows), **{s: sum(r.status == s for r in rows) for s in rollups.STATUSES},
            "avg": sum(times) / len(times) if times else None,
            "first_seen": min(r.executed_at for r in rows), "last_seen": max(r.executed_at for r in rows),
            "p50": percentile_cont(times, 0.5), "p95": percentile_cont(times, 0.95),
        }
    return out


def assert_same_figures(client_id: int, start: dt.datetime, end: dt.datetime, *, exact: bool) -> None:
    cases = [
        (None, lambda r: None),
        ("category", lambda r: r.category),
        ("workflow_version", lambda r: r.workflow_version),
        ("bucket:day", lambda r: r.executed_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)),
        ("bucket:hour", lambda r: r.executed_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)),
    ]
    for group, key in cases:
        fractions = () if group == "category" else (0.5, 0.95)  # no per-category histogram
        got = rollups.group_stats(Client(pk=client_id), start=start, end=end, group=group, fractions=fractions)
        want = scan(client_id, start, end, key)
        assert set(got) == set(want), (group, start, end)
        for k, w in want.items():
            g = got[k]
            assert {s: g[s] for s in ("count", *rollups.STATUSES)} == {s: w[s] for s in ("count", *rollups.STATUSES)}
            if w["avg"] is None:
                assert g["avg"] is None
            else:
                # Equal up to the order of floating-point additions (a full scan's own AVG is
                # order-dependent too); rounding to 3 decimals can then differ only on an exact tie.
                assert g["avg"] == pytest.approx(w["avg"], rel=1e-12, abs=1e-12)
            if group == "workflow_version":
                assert (g["first_seen"], g["last_seen"]) == (w["first_seen"], w["last_seen"])
            for fraction, name in ((0.5, "p50"), (0.95, "p95"))[:len(fractions)]:
                want_p, got_p = w[name], g["percentiles"][fraction]
                if exact:  # percentile_cont on the table: the same value
                    assert got_p == pytest.approx(want_p, rel=1e-12, abs=1e-12), (group, k, name)
                else:
                    assert abs(got_p - want_p) <= rollups.PERCENTILE_RELATIVE_ERROR * want_p + \
                        rollups.PERCENTILE_ABSOLUTE_ERROR, (group, k, name, want_p, got_p)


def ingest(tenant: Tenant, bodies: list[dict[str, Any]]) -> None:
    for start in range(0, len(bodies), 100):
        response = tenant.api.post(BATCH_URL, {"logs": bodies[start:start + 100]}, format="json")
        assert response.status_code in (200, 201), response.content


@pytest.mark.django_db
@pytest.mark.parametrize("exact_limit", [0, 1_000_000], ids=["histogram-percentiles", "exact-percentiles"])
def test_rollup_equals_full_scan_on_random_data(alice: Tenant, bob: Tenant, settings: Any, exact_limit: int) -> None:
    settings.METRICS_EXACT_PERCENTILE_LIMIT = exact_limit
    r = random.Random(7)
    bodies = [random_body(r, i) for i in range(600)]
    ingest(alice, bodies[:400])
    ingest(bob, bodies[400:])  # another tenant's logs never count for alice
    # Late and out-of-order logs, and retries of already stored logs (stored nothing: no change).
    ingest(alice, [random_body(r, i) for i in range(600, 680)] + r.sample(bodies[:400], 40))
    # Deletes (retention / admin): whole days, and single logs in the middle of buckets.
    WorkflowLog.objects.filter(client=alice.client, executed_at__lt=T0 + dt.timedelta(days=1)).delete()
    victims = list(WorkflowLog.objects.filter(client=alice.client).order_by("?").values_list("pk", flat=True)[:40])
    WorkflowLog.objects.filter(pk__in=victims).delete()
    # A manual SQL correction of some logs.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE workflow_logs SET status = 'FAILED', category = 'fixed' WHERE id = ANY(%s)",
                       [list(WorkflowLog.objects.filter(client=alice.client).values_list("pk", flat=True)[:15])])

    aligned = (T0, T0 + dt.timedelta(days=7))
    ragged = (T0 + dt.timedelta(days=1, hours=5, minutes=17, seconds=3), T0 + dt.timedelta(days=4, minutes=42))
    within_hour = (T0 + dt.timedelta(days=2, hours=3, minutes=5), T0 + dt.timedelta(days=2, hours=3, minutes=55))
    empty = (T0 - dt.timedelta(days=30), T0 - dt.timedelta(days=20))
    # Before any flush most new logs are still pending (deletes recounted some days): the
    # figures are exact already, read from the rollup plus the pending rows.
    assert pending_count() > 100
    for start, end in (aligned, ragged, within_hour, empty):
        assert_same_figures(alice.client.pk, start, end, exact=exact_limit > 0)

    stored, recount = stored_vs_recount(alice.client.pk)  # folds the pending rows in
    assert stored == recount and len(stored) > 100
    assert pending_count() == 0
    assert WorkflowLog.objects.filter(client=alice.client).count() > 300
    for start, end in (aligned, ragged, within_hour, empty):
        assert_same_figures(alice.client.pk, start, end, exact=exact_limit > 0)


@pytest.mark.django_db
def test_updates_recount_only_when_a_rollup_column_changes(alice: Tenant, bob: Tenant) -> None:
    """An update of columns the rollup does not count (metrics, payload: what an OpenTelemetry
    run gets as its spans arrive) leaves the rollup as it was, without a recount; an update of
    a counted column (status, error type, executed_at across days, several rows of two tenants
    in one statement) recounts, and the rollup equals a recount from the table either way."""
    r = random.Random(11)
    ingest(alice, [random_body(r, i) for i in range(120)])
    ingest(bob, [random_body(r, i) for i in range(120, 160)])
    before, _ = stored_vs_recount(alice.client.pk)
    ids = list(WorkflowLog.objects.filter(client=alice.client).values_list("pk", flat=True)[:30])
    version = "SELECT version FROM logs_rollup_version WHERE client_id = %s"
    with connection.cursor() as cursor:
        cursor.execute(version, [alice.client.pk])
        version_before = cursor.fetchone()[0]
        cursor.execute("UPDATE workflow_logs SET metrics = metrics || '{\"input_tokens\": 5}', payload = '{}' "
                       "WHERE id = ANY(%s)", [ids])
        # The same values written again are no change either.
        cursor.execute("UPDATE workflow_logs SET status = status, executed_at = executed_at WHERE id = ANY(%s)", [ids])
        cursor.execute(version, [alice.client.pk])
        assert cursor.fetchone()[0] == version_before  # a recount rewrites rollup rows: a new version
    after, recount = stored_vs_recount(alice.client.pk)
    assert after == recount
    # the metrics rollup is as it was; the usage rollup followed the new tokens by signed deltas
    assert [row for row in after if row[0] != "usage"] == [row for row in before if row[0] != "usage"]
    assert any(row[0] == "usage" and row[5] == "input_tokens" for row in after)
    assert not any(row[0] == "usage" and row[5] == "input_tokens" for row in before)

    both = ids[:3] + list(WorkflowLog.objects.filter(client=bob.client).values_list("pk", flat=True)[:3])
    with connection.cursor() as cursor:
        cursor.execute("UPDATE workflow_logs SET status = 'ERROR', workflow_error_type = 'Late', "
                       "executed_at = executed_at + interval '2 days' WHERE id = ANY(%s)", [both])
        cursor.execute("UPDATE workflow_logs SET metrics = '{}', category = 'moved' WHERE id = ANY(%s)", [ids[3:9]])
    for client in (alice.client, bob.client):
        stored, recount = stored_vs_recount(client.pk)
        assert stored == recount
    assert stored_vs_recount(alice.client.pk)[0] != before


@pytest.mark.django_db
def test_idempotent_retry_leaves_the_rollup_unchanged(alice: Tenant) -> None:
    r = random.Random(3)
    bodies = [random_body(r, i) for i in range(50)]
    ingest(alice, bodies)
    before, _ = stored_vs_recount(alice.client.pk)
    response = alice.api.post(BATCH_URL, {"logs": bodies}, format="json")
    assert response.status_code == 200 and response.json()["duplicates"] == 50
    after, recount = stored_vs_recount(alice.client.pk)
    assert after == before == recount


@pytest.mark.django_db
def test_hand_computed_overview_from_rollup(alice: Tenant, settings: Any) -> None:
    """Three logs by hand: the figures are exact (the histogram's percentiles within tolerance)."""
    settings.METRICS_EXACT_PERCENTILE_LIMIT = 0
    ingest(alice, [
        log_body(executed_at="2026-03-02T10:15:00Z", status="SUCCESS", execution_time_seconds=2.0),
        log_body(executed_at="2026-03-02T11:45:00Z", status="FAILED", execution_time_seconds=4.0),
        log_body(executed_at="2026-03-03T00:30:00Z", status="SUCCESS", execution_time_seconds=9.0),
    ])
    stats = rollups.group_stats(alice.client, start=T0, end=T0 + dt.timedelta(days=7),
                                group=None, fractions=(0.5, 0.95))[None]
    assert (stats["count"], stats["SUCCESS"], stats["FAILED"]) == (3, 2, 1)
    assert stats["avg"] == pytest.approx(5.0)
    assert stats["percentiles"][0.5] == pytest.approx(4.0, rel=0.02)  # exact: 4.0
    assert stats["percentiles"][0.95] == pytest.approx(8.5, rel=0.02)  # exact: 4 + 0.9 * (9 - 4)
    errors = rollups.error_groups(alice.client, start=T0, end=T0 + dt.timedelta(days=7))
    assert errors == [{"workflow_error_type": None, "workflow_error_node": None, "count": 1,
                       "latest": dt.datetime(2026, 3, 2, 11, 45, tzinfo=UTC)}]


@pytest.mark.django_db
def test_rebuild_rollups_command_repairs_the_rollup(alice: Tenant, bob: Tenant) -> None:
    r = random.Random(11)
    ingest(alice, [random_body(r, i) for i in range(120)])
    ingest(bob, [random_body(r, i) for i in range(40)])
    good, _ = stored_vs_recount(alice.client.pk)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM logs_rollup WHERE kind = 'S'")
        cursor.execute("UPDATE logs_rollup SET n = n + 5")
    out = StringIO()
    call_command("rebuild_rollups", "--client", "alice", stdout=out)
    assert "Rebuilt the rollup of alice" in out.getvalue()
    assert stored_vs_recount(alice.client.pk)[0] == good
    assert stored_vs_recount(bob.client.pk)[0] != stored_vs_recount(bob.client.pk)[1]  # not rebuilt yet
    call_command("rebuild_rollups", stdout=StringIO())
    stored, recount = stored_vs_recount(bob.client.pk)
    assert stored == recount


@pytest.mark.django_db
def test_rebuild_rollups_unknown_client_fails(db: Any) -> None:
    from django.core.management.base import CommandError
    with pytest.raises(CommandError, match="No client with slug 'nobody'"):
        call_command("rebuild_rollups", "--client", "nobody", stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_rollup_stays_exact_under_concurrent_writers_and_deletes(db: Any) -> None:
    """Four writer threads (with overlapping retries), a deleting thread, two flushers folding
    pending rows in small batches and two readers filling the process's rollup cache, each on
    its own connection: afterwards the stored rollup equals a recount, and the answers (from
    whatever the readers left cached) equal a fresh read."""
    from conftest import make_tenant
    tenant = make_tenant("busy")
    client = tenant.client
    r = random.Random(5)
    bodies = [random_body(r, i) for i in range(400)]
    errors: list[BaseException] = []

    def writer(chunk: list[dict[str, Any]]) -> None:
        try:
            for start in range(0, len(chunk), 50):
                items = [log_prepare(b)[0] for b in chunk[start:start + 50]]
                store_many(client, items)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    def deleter() -> None:
        try:
            for day in range(6):
                WorkflowLog.objects.filter(client=client, executed_at__gte=T0 + dt.timedelta(days=day),
                                           executed_at__lt=T0 + dt.timedelta(days=day, hours=2)).delete()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    writing = threading.Event()

    def flusher() -> None:
        try:
            while writing.is_set():
                dangerously_flush_rollups(17)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    period = (T0, T0 + dt.timedelta(days=6, hours=3, minutes=20))

    def reader() -> None:
        try:
            while writing.is_set():
                _all_figures(client.pk, *period)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    # Writers overlap (bodies 0-299 are sent twice by different threads: idempotent retries).
    threads = [threading.Thread(target=writer, args=(bodies[a:b],))
               for a, b in ((0, 150), (100, 250), (200, 350), (0, 400))]
    threads.append(threading.Thread(target=deleter))
    flushers = [threading.Thread(target=flusher) for _ in range(2)] + [threading.Thread(target=reader) for _ in range(2)]
    writing.set()
    for t in threads + flushers:
        t.start()
    for t in threads:
        t.join(timeout=120)
    writing.clear()
    for t in flushers:
        t.join(timeout=60)
    assert not errors, errors
    assert rollups.stored_cache.misses > 0
    cached = _all_figures(client.pk, *period)
    rollups.stored_cache.clear()
    assert cached == _all_figures(client.pk, *period)
    stored, recount = stored_vs_recount(client.pk)
    assert stored == recount
    assert WorkflowLog.objects.filter(client=client).count() > 250


def assert_close_responses(rolled: Any, scanned: Any, path: str = "", *, exact_percentiles: bool = False) -> None:
    """Equal JSON, except: p50/p95 within the documented histogram tolerance (or, when both are
    percentile_cont, within one unit of the 3rd decimal), averages within one unit of the 3rd
    decimal (the same float sum added in another order can round the other way on a tie)."""
    if isinstance(scanned, dict):
        assert set(rolled) == set(scanned), path
        for key in scanned:
            if key in ("p50_execution_time", "p95_execution_time") and exact_percentiles:
                assert abs(rolled[key] - scanned[key]) <= 0.0010001, (path, key, rolled[key], scanned[key])
            elif key in ("p50_execution_time", "p95_execution_time"):
                tolerance = rollups.PERCENTILE_RELATIVE_ERROR * scanned[key] + rollups.PERCENTILE_ABSOLUTE_ERROR + 0.0005
                assert abs(rolled[key] - scanned[key]) <= tolerance, (path, key, rolled[key], scanned[key])
            elif key == "avg_execution_time":  # 3-decimal rounding of float sums in another order
                assert abs(rolled[key] - scanned[key]) <= 0.0010001, (path, key)
            else:
                assert_close_responses(rolled[key], scanned[key], f"{path}.{key}", exact_percentiles=exact_percentiles)
    elif isinstance(scanned, list):
        assert len(rolled) == len(scanned), path
        for i, (a, b) in enumerate(zip(rolled, scanned)):
            assert_close_responses(a, b, f"{path}[{i}]", exact_percentiles=exact_percentiles)
    else:
        assert rolled == scanned, (path, rolled, scanned)


@pytest.mark.django_db
@pytest.mark.parametrize("exact_limit", [0, 1_000_000], ids=["histogram-percentiles", "exact-percentiles"])
def test_metrics_endpoints_from_rollup_equal_a_full_scan(alice: Tenant, settings: Any, exact_limit: int) -> None:
    """Every metrics endpoint, through HTTP, with the rollup and with METRICS_USE_ROLLUPS off."""
    settings.METRICS_EXACT_PERCENTILE_LIMIT = exact_limit
    r = random.Random(21)
    ingest(alice, [random_body(r, i) for i in range(400)])
    WorkflowLog.objects.filter(pk__in=list(WorkflowLog.objects.values_list("pk", flat=True)[:30])).delete()
    period = "start_date=2026-03-01T07:20:00Z&end_date=2026-03-06T13:05:00Z"
    paths = [f"/api/v1/metrics/overview?{period}", f"/api/v1/metrics/categories?{period}",
             f"/api/v1/metrics/timeseries?{period}&interval=day", f"/api/v1/metrics/timeseries?{period}&interval=hour",
             f"/api/v1/metrics/errors?{period}&limit=100", f"/api/v1/metrics/versions?{period}",
             "/api/v1/metrics/overview?start_date=2026-03-02&end_date=2026-03-04"]
    for path in paths:
        settings.METRICS_USE_ROLLUPS = True
        rolled = alice.api.get(path)
        settings.METRICS_USE_ROLLUPS = False
        scanned = alice.api.get(path)
        assert rolled.status_code == scanned.status_code == 200, path
        assert scanned.json().get("data") != [] or "overview" in path
        assert_close_responses(rolled.json(), scanned.json(), path, exact_percentiles=exact_limit > 0)


@pytest.mark.django_db
@pytest.mark.parametrize("group, kind, grain", [(None, "H", "d"), ("bucket:day", "H", "d"),
                                                ("bucket:hour", "H", "h"), ("workflow_version", "W", "d")])
def test_percentiles_equal_the_stored_histograms_percentiles(
        alice: Tenant, settings: Any, group: str | None, kind: str, grain: str) -> None:
    """Read once (filling the cache) and again (from it): the percentiles are exactly
    hist_percentile of the histogram summed straight from the rollup table."""
    settings.METRICS_EXACT_PERCENTILE_LIMIT = 0
    r = random.Random(23)
    ingest(alice, [random_body(r, i) for i in range(300)])
    flush_all()  # the histogram is read from the rollup table below
    start, end = T0, T0 + dt.timedelta(days=6)  # whole days: no raw edges
    first = rollups.group_stats(alice.client, start=start, end=end, group=group, fractions=(0.5, 0.95))
    got = rollups.group_stats(alice.client, start=start, end=end, group=group, fractions=(0.5, 0.95))
    assert got == first and rollups.stored_cache.hits == 1
    key_sql = {None: "NULL", "bucket:day": "bucket", "bucket:hour": "bucket", "workflow_version": "dim1"}[group]
    hists: dict[Any, dict[int, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {key_sql}, bin, sum(n) FROM logs_rollup WHERE client_id = %s AND kind = %s "
                       "AND grain = %s AND bucket >= %s AND bucket < %s GROUP BY 1, 2",
                       [alice.client.pk, kind, grain, start, end])
        for key, b, n in cursor.fetchall():
            key = key.astimezone(UTC) if isinstance(key, dt.datetime) else key
            hists.setdefault(key, {})[b] = int(n)
    checked = 0
    for key, stats in got.items():
        for fraction in (0.5, 0.95):
            want = rollups.hist_percentile(hists.get(key, {}), fraction) or 0.0
            assert stats["percentiles"][fraction] == pytest.approx(want, rel=1e-12, abs=1e-12)
            checked += 1
    assert checked >= 2


@pytest.mark.django_db
def test_flush_rollups_command_folds_pending_logs(alice: Tenant) -> None:
    r = random.Random(31)
    ingest(alice, [random_body(r, i) for i in range(120)])
    assert pending_count() == 120
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM logs_usage_pending")
        usage_rows = cursor.fetchone()[0]
    assert usage_rows > 0  # random_body's logs with tokens or cost
    out = StringIO()
    call_command("flush_rollups", stdout=out)
    assert f"Folded {120 + usage_rows} pending rows into the rollups; 0 logs pending." in out.getvalue()
    stored, recount = stored_vs_recount(alice.client.pk)
    assert stored == recount


@pytest.mark.django_db(transaction=True)
def test_the_background_flusher_folds_committed_logs(alice: Tenant, settings: Any) -> None:
    r = random.Random(37)
    ingest(alice, [random_body(r, i) for i in range(60)])
    assert pending_count() == 60
    settings.ROLLUP_FLUSH_INTERVAL = 0.05
    flusher.ensure()
    try:
        deadline = time.monotonic() + 10
        while pending_count() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        flusher.stop()
    assert pending_count() == 0
    stored, recount = stored_vs_recount(alice.client.pk)
    assert stored == recount and stored


@pytest.mark.django_db(transaction=True)
def test_pending_table_vacuum_runs_outside_a_transaction(alice: Tenant) -> None:
    ingest(alice, [random_body(random.Random(41), i) for i in range(30)])
    flush_all()
    dangerously_vacuum_pending()  # VACUUM cannot run inside a transaction block: this must not raise
    assert pending_count() == 0


@pytest.mark.django_db(transaction=True)
def test_pending_table_vacuum_does_not_wait_for_ingesting_transactions(alice: Tenant) -> None:
    """An ingestion transaction in progress (its trigger holds a lock on the pending table)
    must not make the flusher's VACUUM wait: truncating the table's empty tail would need its
    exclusive lock, and waiting for it ran into the statement timeout under load."""
    ingest(alice, [random_body(random.Random(43), i) for i in range(300)])
    flush_all()  # the pending table now ends in empty pages: something to truncate
    other = psycopg.connect(**connection.standalone_params())
    try:
        other.execute("LOCK TABLE logs_rollup_pending IN ROW EXCLUSIVE MODE")  # as an insert holds it
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 1000")
        started = time.monotonic()
        dangerously_vacuum_pending()
        assert time.monotonic() - started < 1
    finally:
        other.rollback()
        other.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")


def _rounded(value: Any) -> Any:
    """Floats to 12 significant digits: sums of the same rollup rows folded in another order (the
    cache adds stored and live parts in Python) may differ in the last bit."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_rounded(v) for v in value)
    return value


def _all_figures(client_id: int, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    return _rounded({
        "period": rollups.group_stats(Client(pk=client_id), start=start, end=end, group=None, fractions=(0.5, 0.95)),
        "category": rollups.group_stats(Client(pk=client_id), start=start, end=end, group="category"),
        "version": rollups.group_stats(Client(pk=client_id), start=start, end=end, group="workflow_version",
                                       fractions=(0.95,)),
        "day": rollups.group_stats(Client(pk=client_id), start=start, end=end, group="bucket:day", fractions=(0.95,)),
        "errors": rollups.error_groups(Client(pk=client_id), start=start, end=end),
    })


@pytest.mark.django_db
def test_cached_rollup_sums_follow_every_change_of_the_rollup(alice: Tenant, bob: Tenant, settings: Any) -> None:
    """The stored part of an answer is kept per process under the client's rollup version. A
    second read is a cache hit with the same answer; every kind of write (new logs pending or
    folded in, deletes, updates, a rebuild, a hand-made fix of the rollup table, another
    tenant's writes) leaves the answer equal to a fresh read from the database."""
    settings.METRICS_EXACT_PERCENTILE_LIMIT = 0
    r = random.Random(41)
    ingest(alice, [random_body(r, i) for i in range(300)])
    ingest(bob, [random_body(r, i) for i in range(300, 350)])
    flush_all()
    period = (T0, T0 + dt.timedelta(days=6, hours=5, minutes=30))  # days, hours and a raw edge

    def fresh() -> dict[str, Any]:
        rollups.stored_cache.clear()
        return _all_figures(alice.client.pk, *period)

    def check(step: str) -> bool:
        misses = rollups.stored_cache.misses
        got = _all_figures(alice.client.pk, *period)  # uses what the earlier reads cached
        used_cache = rollups.stored_cache.misses == misses
        assert got == fresh(), step
        return used_cache

    want = fresh()
    assert _all_figures(alice.client.pk, *period) == want
    assert rollups.stored_cache.hits == 5 and rollups.stored_cache.misses == 5  # five shapes, each cached

    # New logs, not folded in yet: still a hit (the pending rows are read on every request).
    ingest(alice, [random_body(r, i) for i in range(400, 460)])
    assert check("pending") is True
    flush_all()
    assert check("flushed") is False  # the fold gave alice a new version
    ingest(bob, [random_body(r, i) for i in range(500, 540)])
    flush_all()
    assert check("another tenant") is True  # bob's writes never invalidate alice's sums
    WorkflowLog.objects.filter(pk__in=list(WorkflowLog.objects.filter(client=alice.client)
                                           .values_list("pk", flat=True)[:25])).delete()
    assert check("deleted") is False
    with connection.cursor() as cursor:
        cursor.execute("UPDATE workflow_logs SET status = 'ERROR', workflow_error_type = 'Late' "
                       "WHERE id = ANY(%s)", [list(WorkflowLog.objects.filter(client=alice.client)
                                                  .values_list("pk", flat=True)[:10])])
    assert check("updated") is False
    with connection.cursor() as cursor:
        cursor.execute("UPDATE logs_rollup SET n = n + 1 WHERE client_id = %s AND kind = 'S'", [alice.client.pk])
    assert check("rollup edited by hand") is False
    call_command("rebuild_rollups", "--client", "alice", stdout=StringIO())
    assert check("rebuilt") is False
    assert fresh()["period"][None]["count"] == WorkflowLog.objects.filter(
        client=alice.client, executed_at__gte=period[0], executed_at__lt=period[1]).count()


@pytest.mark.django_db
def test_a_hit_reads_no_stored_rollup_rows(alice: Tenant, settings: Any) -> None:
    """On a hit the statement skips the stored rollup: a row changed behind the version's back
    (trigger disabled) is not seen until the version changes."""
    r = random.Random(43)
    ingest(alice, [random_body(r, i) for i in range(100)])
    flush_all()
    period = (T0, T0 + dt.timedelta(days=6))
    before = rollups.group_stats(alice.client, start=period[0], end=period[1], group=None)[None]
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE logs_rollup DISABLE TRIGGER logs_rollup_version_update")
        cursor.execute("UPDATE logs_rollup SET n = n + 1000 WHERE client_id = %s AND kind = 'S' AND grain = 'd'",
                       [alice.client.pk])
        cursor.execute("ALTER TABLE logs_rollup ENABLE TRIGGER logs_rollup_version_update")
    cached = rollups.group_stats(alice.client, start=period[0], end=period[1], group=None)[None]
    assert cached == before
    rollups.stored_cache.clear()
    reread = rollups.group_stats(alice.client, start=period[0], end=period[1], group=None)[None]
    assert reread["count"] > before["count"] + 1000


@pytest.mark.django_db
def test_rollup_statements_are_prepared_on_the_server(alice: Tenant) -> None:
    """After a few runs on a connection, psycopg prepares the rollup statement, so PostgreSQL
    stops planning it on every request."""
    ingest(alice, [random_body(random.Random(47), i) for i in range(20)])
    for _ in range(6):
        rollups.group_stats(alice.client, start=T0, end=T0 + dt.timedelta(days=3), group=None,
                            fractions=(0.5,))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%%logs_rollup_version%%'")
        assert cursor.fetchone()[0] >= 1
