"""bench_db_ceiling: PostgreSQL's own ceiling for our table, written with the batch endpoint's
statement (or COPY) on several connections, and cleaned up afterwards."""
from __future__ import annotations

import textwrap
from io import StringIO
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from bench import ceiling
from bench.harness import load_gen
from conftest import make_tenant
from logs.models import WorkflowLog
from logs.tests.factories import log_body, recent_log

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("method", ["insert", "copy"])
def test_every_log_written_is_stored_then_deleted(method: str) -> None:
    tenant = make_tenant("ceiling")
    bodies = [[recent_log(k + i / 10, ticket_id=f"{k}-{i}", status="FAILED" if i % 2 else "SUCCESS")
               for i in range(5)] for k in range(3)]
    batches = ceiling.prepare_batches(tenant.client, bodies)
    stored_before_delete: list[int] = []
    real_delete = ceiling._delete

    def count_then_delete(client: Any, ids: list[Any]) -> None:
        stored_before_delete.append(WorkflowLog.objects.filter(client=client, pk__in=ids).count())
        real_delete(client, ids)

    with mock.patch.object(ceiling, "_delete", count_then_delete):
        result = ceiling.measure(client=tenant.client, batches=batches, method=method, connections=2, seconds=0.3)

    assert result.logs > 0 and result.logs % 5 == 0  # whole batches, committed one by one
    assert stored_before_delete == [result.logs]  # every id it counted was in the table
    assert WorkflowLog.objects.filter(client=tenant.client).count() == 0
    # The rollup followed the inserts and the deletes.
    assert tenant.api.get("/api/v1/metrics/overview", {"days": 1}).json()["total_tickets"] == 0
    assert result.backend_cpu is not None and result.backend_cpu > 0  # PostgreSQL runs on this host
    assert f"{method} on 2 connection(s)" in result.describe()


def test_single_writes_one_log_per_transaction_then_deletes_them() -> None:
    tenant = make_tenant("ceiling")
    texts = ["Rückerstattung", "退款", "", "x" * 5000]
    singles = ceiling.prepare_batches(tenant.client, [[recent_log(i / 10, ticket_id=f"s-{i}",
                                                                 payload={"final_response": texts[i % 4]})]
                                                     for i in range(20)])
    transactions: list[int] = []
    real_delete = ceiling._delete

    def count_then_delete(client: Any, ids: list[Any]) -> None:
        logs = WorkflowLog.objects.filter(client=client, pk__in=ids).extra(select={"tx": "xmin::text"})
        transactions.extend([len(ids), logs.count(), len({log.tx for log in logs})])
        real_delete(client, ids)

    with mock.patch.object(ceiling, "_delete", count_then_delete):
        result = ceiling.measure(client=tenant.client, batches=singles, method="single", connections=3, seconds=0.3)

    assert result.logs > 3
    # Every log counted was stored, each by a transaction of its own.
    assert transactions == [result.logs] * 3
    assert WorkflowLog.objects.filter(client=tenant.client).count() == 0
    assert "single on 3 connection(s)" in result.describe()


def test_an_invalid_body_is_refused_before_anything_is_written() -> None:
    tenant = make_tenant("ceiling")
    with pytest.raises(ValueError, match="status"):
        ceiling.prepare_batches(tenant.client, [[log_body(status="MAYBE")]])


FAKE_GEN = textwrap.dedent('''
    """A stand-in for the harness's gen.py: the interface bench_db_ceiling uses."""
    import json

    DEFAULT_SEED = 42
    seen = []

    def dumps(obj):
        return json.dumps(obj)

    class LogGen:
        def __init__(self, seed, client_id, anchor=None):
            seen.append((seed, client_id))

        def logs(self, n, start=0):
            for i in range(start, start + n):
                yield {"environment": "production", "executed_at": "2026-11-01T00:00:00Z",
                       "status": "SUCCESS", "ticket_id": str(i), "payload": {"trace": {}}}
''')


@pytest.fixture
def fake_harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    (tmp_path / "gen.py").write_text(FAKE_GEN)
    monkeypatch.setenv("BENCH_HARNESS", str(tmp_path))
    load_gen.cache_clear()
    yield load_gen()
    load_gen.cache_clear()


def test_the_command_reports_each_run_and_the_median(fake_harness: Any) -> None:
    tenant = make_tenant("bench-writer")
    out = StringIO()
    call_command("bench_db_ceiling", "--method", "insert", "--method", "copy", "--connections", "1",
                 "--seconds", "0.2", "--runs", "2", stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["run 1", "run 1", "run 2", "run 2", "median insert",
                                                      "median copy"]
    assert "insert on 1 connection(s)" in lines[0] and "copy on 1 connection(s)" in lines[1]
    assert "us per log" in lines[0]
    assert fake_harness.seen == [(42 + 2000, "bench-writer")]  # the bodies of the harness's post_batch
    assert WorkflowLog.objects.filter(client=tenant.client).count() == 0


def test_the_command_runs_single_on_the_post_single_bodies(fake_harness: Any) -> None:
    tenant = make_tenant("bench-writer")
    out = StringIO()
    call_command("bench_db_ceiling", "--method", "single", "--connections", "2", "--seconds", "0.2", "--runs", "1",
                 stdout=out)
    lines = out.getvalue().splitlines()
    assert "single on 2 connection(s)" in lines[0] and lines[-1].startswith("median single")
    # The bodies of the harness's post_single (and of post_batch, prepared in any case).
    assert (42 + 1000, "bench-writer") in fake_harness.seen
    assert WorkflowLog.objects.filter(client=tenant.client).count() == 0


def test_the_command_needs_the_client(fake_harness: Any) -> None:
    with pytest.raises(CommandError, match="No client 'nobody'"):
        call_command("bench_db_ceiling", "--client", "nobody", stdout=StringIO())
