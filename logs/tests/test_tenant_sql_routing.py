"""Every read of logs/tenant_sql goes to the database the router picks for logs (the dashboard's
replica during the requests that may use it), including the export's metric-key scan and the
planner's estimate; writes go to the primary."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.db import router

from conftest import Tenant
from logs.tenant_sql import metric_stats, reads, rollup, traces, writes
from metrics.rollup import period_params

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
T1 = T0 + dt.timedelta(days=2, hours=3)


@pytest.fixture
def asked(monkeypatch: Any) -> list[str]:
    """The models the router is asked about; it answers `default` (the only database here)."""
    calls: list[str] = []

    def db_for_read(model: Any, **hints: Any) -> str:
        calls.append(model._meta.label)
        return "default"

    monkeypatch.setattr(router, "db_for_read", db_for_read)
    return calls


READS = {
    "one": lambda c: reads.one(c, uuid.uuid4(), ("id",)),
    "page": lambda c: reads.page(c, condition="", params=[], order_by="id", columns=("id",), limit=1),
    "count_at_most": lambda c: reads.count_at_most(c, "", [], 10),
    "estimate": lambda c: reads.estimate(c, "status = %s", ["FAILED"]),
    "stream": lambda c: list(reads.stream(c, condition="", params=[], order_by="id", columns=("id",), chunk_size=10)),
    "metric_keys": lambda c: reads.metric_keys(c, "", [], 10),
    "scan_stats": lambda c: reads.scan_stats(c, condition="", params=[], start=T0, end=T1, group=None, fractions=()),
    "usage_totals": lambda c: metric_stats.usage_totals(c, condition="", params=[], start=T0, end=T1),
    "exact_percentiles": lambda c: reads.exact_percentiles(c, start=T0, end=T1, group=None, fractions=(0.5,)),
    "scan_error_groups": lambda c: reads.scan_error_groups(c, condition="", params=[], start=T0, end=T1, limit=5),
    "rollup.read": lambda c: rollup.read(c, kinds="S", interval=None, cached_version=-1,
                                         period=period_params(T0, T1, use_days=True, open_end=False)),
    "rollup.list_count": lambda c: rollup.run_list_count(rollup.list_count(
        c, kind="S", statuses=None, dims=None, cached_version=-1,
        period=period_params(T0, T1, use_days=True, open_end=False))),
}


@pytest.mark.parametrize("name", READS)
def test_every_read_asks_the_router(name: str, alice: Tenant, asked: list[str]) -> None:
    READS[name](alice.client)
    assert asked and set(asked) == {"logs.WorkflowLog"}, name


@pytest.mark.parametrize("read", [
    lambda c: traces.trace_spans(c, "0" * 31 + "1", limit=10),
    lambda c: traces.trace_log_records(c, "0" * 31 + "1", limit=10),
], ids=["trace_spans", "trace_log_records"])
def test_trace_reads_ask_the_router(read: Any, alice: Tenant, asked: list[str]) -> None:
    assert read(alice.client) == []
    assert asked == ["logs.TraceSpan"]


def test_writes_do_not_ask_the_router(alice: Tenant, asked: list[str]) -> None:
    assert writes.stored_event_ids(alice.client, ["e"]) == {}
    assert writes.count_older_than(alice.client, T0) == 0
    assert asked == []
