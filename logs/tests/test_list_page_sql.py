"""GET /api/v1/logs pages read by the hand-written statement (LogFilterSet.where_sql, PostgreSQL)
equal the ORM's pages, row for row, for every filter that has a SQL form, every ordering and
deep pages; the other filters (and cursor pages) still go through the ORM."""
from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from conftest import Tenant
from central_logger import rows as rows_module
from logs import selectors
from logs.filters import LogFilterSet
from logs.tests.factories import ingest, log_body

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_only]
URL = "/api/v1/logs"
T0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)

SQL_QUERIES = [
    "",
    "status=FAILED",
    "status=failed,ERROR",
    "environment=prod",
    "environment=staging,development&status=SUCCESS",
    "category=billing",
    "category=billing,refund&workflow_version=v2",
    "ticket_id=T-3,T-5,T-7",
    "resolution_status=RESOLVED&customer_type=vip",
    "workflow_error_type=Timeout&workflow_error_node=retriever",
    "is_system_error=true",
    "is_system_error=0&status=FAILED,ERROR",
    "start_date=2026-03-02",
    "end_date=2026-03-02",
    "start_date=2026-03-01T05:17:03Z&end_date=2026-03-03T00:42:00.5Z",
    "min_execution_time=2.5",
    "max_execution_time=2.5&min_execution_time=0",
    "min_execution_time=1&max_execution_time=4&category=shipping&environment=production",
    "status=FAILED&ordering=executed_at",
    "ordering=-execution_time_seconds",
    "ordering=execution_time_seconds&environment=staging",
    "ordering=-execution_time_seconds&page=3",
    "page=4&page_size=7",
    "category=nothing-like-this",
]


def _bodies(r: random.Random, count: int, prefix: str) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        failed = r.random() < 0.4
        out.append(log_body(
            event_id=f"{prefix}-{i}",
            # Ties on purpose: the id breaks them, in both directions.
            executed_at=(T0 + dt.timedelta(minutes=r.randrange(0, 3 * 24 * 60, 7))).isoformat(),
            status=r.choice(["FAILED", "ERROR"]) if failed else r.choice(["SUCCESS", "PARTIAL"]),
            environment=r.choice(["production", "production", "staging", "development"]),
            category=r.choice(["billing", "shipping", "refund", None]),
            workflow_version=r.choice(["v1", "v2", None]),
            ticket_id=f"T-{r.randrange(10)}",
            resolution_status=r.choice(["RESOLVED", "ESCALATED", None]),
            customer_type=r.choice(["vip", "standard", None]),
            execution_time_seconds=r.choice([None, 0.0, 1.0, 2.5, 2.5, r.uniform(0, 6)]),
            workflow_error=f"boom {i}" if failed else None,
            workflow_error_type=r.choice(["Timeout", "KeyError"]) if failed else None,
            workflow_error_node=r.choice(["retriever", "responder"]) if failed else None,
            is_system_error=r.choice([True, False, None]),
        ))
    return out


@pytest.fixture
def logs_of_two_tenants(alice: Tenant, bob: Tenant) -> None:
    r = random.Random(11)
    for tenant, prefix in ((alice, "a"), (bob, "b")):
        bodies = _bodies(r, 240, prefix)
        for start in range(0, len(bodies), 100):
            ingest(tenant, *bodies[start:start + 100])


def _pages(tenant: Tenant, query: str) -> list[dict[str, Any]]:
    response = tenant.api.get(f"{URL}?page_size=20&{query}")
    assert response.status_code == 200, (query, response.content)
    return response.json()


def test_hand_written_pages_equal_the_orm_pages(alice: Tenant, bob: Tenant, logs_of_two_tenants: None,
                                                monkeypatch: Any) -> None:
    read = []
    real = rows_module.fetch_page_for_client
    monkeypatch.setattr(selectors, "fetch_page_for_client", lambda *a, **k: read.append(k) or real(*a, **k))
    fast = {query: _pages(alice, query) for query in SQL_QUERIES}
    assert len(read) == len(SQL_QUERIES)  # every one of them was read by the statement
    assert {call["client_id"] for call in read} == {alice.client.pk}

    monkeypatch.setattr(LogFilterSet, "where_sql", classmethod(lambda cls, cleaned: None))
    bob_ids = {row["id"] for query in SQL_QUERIES for row in _pages(bob, query)["data"]}
    for query in SQL_QUERIES:
        orm = _pages(alice, query)
        assert fast[query] == orm, query
        assert not bob_ids & {row["id"] for row in fast[query]["data"]}, query
    assert len(read) == len(SQL_QUERIES)  # the ORM answered the second time
    # The queries really select something (the comparison is not between empty pages).
    assert sum(len(page["data"]) for page in fast.values()) > 300


@pytest.mark.parametrize("query", ["q=boom", "metrics.score__gte=0.5", "cursor=", "status=FAILED&q=T-1"])
def test_filters_without_a_sql_form_and_cursor_pages_use_the_orm(
        alice: Tenant, logs_of_two_tenants: None, monkeypatch: Any, query: str) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("this page must be read through the ORM")
    monkeypatch.setattr(selectors, "fetch_page_for_client", fail)
    response = alice.api.get(f"{URL}?page_size=5&{query}")
    assert response.status_code == 200, response.content


def test_where_sql_covers_every_filter_but_search() -> None:
    """A new filter must decide: a `sql()` with filter()'s meaning, or the ORM path."""
    with_sql = {name for name, filter_ in LogFilterSet.base_filters.items() if hasattr(filter_, "sql")}
    assert set(LogFilterSet.base_filters) - with_sql == {"q"}
