"""GET /api/v1/logs totals from the metrics rollup: with only status, category or
workflow_version, and date filters, the total is exact at any size (no bounded count, no
estimate), for pending, folded, deleted and edited logs alike; other filters count as before."""
from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import Tenant
from metrics import rollup as rollups
from metrics.flusher import flush_all
from query import pagination
from logs.models import WorkflowLog
from logs.tests.factories import ingest, log_body

pytestmark = pytest.mark.django_db
URL = "/api/v1/logs"
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 2, 1, tzinfo=UTC)

ROLLUP_QUERIES = [
    "",
    "status=FAILED",
    "status=failed,ERROR",
    "category=billing",
    "category=billing,refund&status=SUCCESS",
    "workflow_version=v2",
    "workflow_version=v1,v2&status=PARTIAL,ERROR",
    "start_date=2026-02-02",
    "end_date=2026-02-03",
    "start_date=2026-02-02&end_date=2026-02-03",
    "start_date=2026-02-02T05:17:03Z&end_date=2026-02-04T00:42:00.5Z",
    "start_date=2026-02-02T05:17:03Z&end_date=2026-02-02T05:40:00Z",
    "start_date=2026-02-03T10:00:00Z&status=FAILED&category=shipping",
    "end_date=2026-02-03T10:00:00Z&workflow_version=v1",
    "start_date=2030-01-01",
]


def _bodies(r: random.Random, count: int, offset: int = 0) -> list[dict[str, Any]]:
    return [log_body(
        executed_at=(T0 + dt.timedelta(seconds=r.randrange(0, 5 * 86400))).isoformat(),
        status=r.choice(["SUCCESS", "SUCCESS", "PARTIAL", "FAILED", "ERROR"]),
        category=r.choice(["billing", "shipping", "refund", None]),
        workflow_version=r.choice(["v1", "v2", None]),
        event_id=f"t-{offset + i}",
    ) for i in range(count)]


def _ingest(tenant: Tenant, bodies: list[dict[str, Any]]) -> None:
    for start in range(0, len(bodies), 100):
        ingest(tenant, *bodies[start:start + 100])


def _expected(tenant: Tenant, query: str) -> int:
    """The same filters applied by the ORM to the table, counted in full."""
    qs = WorkflowLog.objects.filter(client=tenant.client)
    for part in filter(None, query.split("&")):
        name, value = part.split("=")
        values = value.split(",")
        if name == "status":
            qs = qs.filter(status__in=[v.upper() for v in values])
        elif name in ("category", "workflow_version"):
            qs = qs.filter(**{f"{name}__in": values})
        elif name == "start_date":
            start = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            qs = qs.filter(executed_at__gte=start if start.tzinfo else start.replace(tzinfo=UTC))
        elif name == "end_date":
            end = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            end = end.replace(tzinfo=UTC) + dt.timedelta(days=1) if len(value) == 10 else end + dt.timedelta(microseconds=1)
            qs = qs.filter(executed_at__lt=end)
    return qs.count()


@pytest.fixture
def no_bounded_count(monkeypatch: Any) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the total should have come from the rollup")
    monkeypatch.setattr(pagination, "bounded_count", fail)


def _check_all(tenant: Tenant) -> None:
    for query in ROLLUP_QUERIES:
        page = tenant.api.get(f"{URL}?page_size=1&{query}")
        assert page.status_code == 200, (query, page.content)
        body = page.json()["pagination"]
        want = _expected(tenant, query)
        assert (body["total"], body["total_is_exact"], body["pages"]) == (want, True, want), query


def test_rollup_totals_equal_a_full_count_through_every_kind_of_write(
        alice: Tenant, bob: Tenant, settings: Any, no_bounded_count: None) -> None:
    settings.LIST_COUNT_EXACT_LIMIT = 3  # the bounded count would give up long before these totals
    r = random.Random(5)
    _ingest(alice, _bodies(r, 400))
    _ingest(bob, _bodies(r, 150, offset=1000))  # never counted for alice
    _check_all(alice)  # every new log still pending
    flush_all()
    _check_all(alice)
    _ingest(alice, _bodies(r, 60, offset=2000))  # late logs over old days, pending again
    WorkflowLog.objects.filter(pk__in=list(WorkflowLog.objects.filter(client=alice.client)
                                           .values_list("pk", flat=True)[:30])).delete()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE workflow_logs SET status = 'FAILED', category = 'shipping' WHERE id = ANY(%s)",
                       [list(WorkflowLog.objects.filter(client=alice.client).values_list("pk", flat=True)[:20])])
    _check_all(alice)
    assert _expected(alice, "") == 430 and _expected(alice, "status=FAILED") > 20


def test_open_ended_total_counts_the_last_representable_day(alice: Tenant, no_bounded_count: None) -> None:
    """Without end_date the rollup's days stop at 9999-12-31; that day is read from the table."""
    ingest(alice, log_body(executed_at="9999-12-31T23:59:59.999999Z", event_id="last"),
           log_body(executed_at="0001-01-01T00:00:00Z", event_id="first"),
           log_body(executed_at="2026-02-01T00:00:00Z", event_id="now"))
    for query, want in (("", 3), ("start_date=2026-01-01", 2), ("end_date=2026-01-01", 1)):
        body = alice.api.get(f"{URL}?page_size=1&{query}").json()["pagination"]
        assert (body["total"], body["total_is_exact"]) == (want, True), query
    flush_all()
    assert alice.api.get(f"{URL}?page_size=1").json()["pagination"]["total"] == 3


@pytest.mark.parametrize("query", [
    "environment=production", "ticket_id=1", "q=bill", "min_execution_time=1", "metrics.score__gte=1",
    "category=billing&workflow_version=v1", "is_system_error=false", "workflow_error_type=Timeout",
])
def test_filters_the_rollup_cannot_answer_are_counted(alice: Tenant, settings: Any, query: str,
                                                      monkeypatch: Any) -> None:
    ingest(alice, *_bodies(random.Random(9), 40))
    counted = []
    real = pagination.bounded_count
    monkeypatch.setattr(pagination, "bounded_count", lambda *a, **k: counted.append(1) or real(*a, **k))
    response = alice.api.get(f"{URL}?page_size=1&{query}")
    assert response.status_code == 200, response.content
    total = response.json()["pagination"]["total"]
    assert counted or total <= 1  # a page shorter than page_size tells the total by itself


@pytest.mark.parametrize("query", ["end_date=9999-12-31", "end_date=9999-12-31T23:59:59.999999Z",
                                   "start_date=9999-12-31"])
def test_bounds_at_the_end_of_year_9999_are_a_400(alice: Tenant, query: str) -> None:
    response = alice.api.get(f"{URL}?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()["error"]["details"]


def test_a_page_and_its_total_travel_in_one_statement(alice: Tenant, no_bounded_count: None) -> None:
    """The rollup count is sent right after the page's statement, pipelined with it (one round
    trip; both prepared on the server), and the stored part of the sum is reused while the
    client's rollup version holds."""
    _ingest(alice, _bodies(random.Random(3), 120))
    flush_all()
    rollups.stored_cache.clear()
    want = _expected(alice, "status=FAILED")
    for attempt in range(2):
        with CaptureQueriesContext(connection) as queries:
            body = alice.api.get(f"{URL}?page_size=2&status=FAILED").json()
        assert body["pagination"]["total"] == want and len(body["data"]) == 2
        sql = [q["sql"] for q in queries]
        counts = [i for i, text in enumerate(sql) if "logs_list_count" in text]
        assert len(counts) == 1 and "FROM \"workflow_logs\"" in sql[counts[0] - 1], sql
    assert (rollups.stored_cache.misses, rollups.stored_cache.hits) == (1, 1)

    ingest(alice, log_body(status="FAILED", executed_at=T0.isoformat(), event_id="one-more"))
    assert alice.api.get(f"{URL}?page_size=2&status=FAILED").json()["pagination"]["total"] == want + 1
    flush_all()  # a new rollup version: the stored part is read again
    assert alice.api.get(f"{URL}?page_size=2&status=FAILED").json()["pagination"]["total"] == want + 1
    assert rollups.stored_cache.misses == 2
