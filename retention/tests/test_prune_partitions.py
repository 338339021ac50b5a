"""Retention by whole partitions: which ones may go, the dry run, the drop itself (detached
concurrently, rollup exact, idempotency keys gone), the rest deleted within partitions, and a
late log of a tenant that keeps it surviving the drop of its partition."""
from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from conftest import Tenant, make_tenant
from logs import partitions
from logs.models import WorkflowLog
from logs.tenant_sql import partitions as partition_sql
from logs.tests.factories import log_body
from metrics.tests.test_rollups import stored_vs_recount

pytestmark = pytest.mark.django_db(transaction=True)  # DETACH ... CONCURRENTLY needs no open transaction


def ago(days: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def post(tenant: Tenant, days_ago: float, **fields: Any) -> str:
    # tokens and cost too: the usage rollup must follow the drop (compared by stored_vs_recount)
    fields.setdefault("metrics", {"total_tokens": 1200 + len(tenant.client.slug), "cost_usd": 0.0042})
    response = tenant.api.post("/api/v1/logs", log_body(executed_at=ago(days_ago).isoformat(), **fields),
                               format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_logs", *args, stdout=out)
    return out.getvalue()


def exists(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        return bool(cursor.fetchone()[0])


@pytest.fixture
def layout() -> dict[str, Any]:
    """acme keeps 30 days, globex 60, keeper forever. The month of 100 days ago holds only acme and
    globex logs, all due: it may be dropped. The month of 45 days ago holds an acme log that is
    due and a globex log that is not: it stays, and acme's log is deleted inside it."""
    acme, globex, keeper = make_tenant("acme"), make_tenant("globex"), make_tenant("keeper")
    acme.client.retention_days, globex.client.retention_days = 30, 60
    acme.client.save()
    globex.client.save()
    old = partitions.floor(ago(100))
    # Safely inside that month, whatever today's date.
    old_days = [(timezone.now() - (old + dt.timedelta(days=d))).total_seconds() / 86400 for d in (3, 9, 15)]
    ids = {
        "acme-old-1": post(acme, old_days[0], event_id="acme-old-1", ticket_id="acme-old-1"),
        "acme-old-2": post(acme, old_days[1], ticket_id="acme-old-2"),
        "globex-old": post(globex, old_days[2], ticket_id="globex-old"),
        "acme-45": post(acme, 45, ticket_id="acme-45"),
        "globex-45": post(globex, 45, ticket_id="globex-45"),
        "keeper-5": post(keeper, 5, ticket_id="keeper-5"),
    }
    month = next(p for p in partitions.partitions() if p.covers(old + dt.timedelta(days=3)))
    return {"acme": acme, "globex": globex, "keeper": keeper, "ids": ids, "month": month}


def tickets() -> list[str]:
    return sorted(WorkflowLog.objects.values_list("ticket_id", flat=True))


def test_dry_run_names_the_partitions_and_their_logs_per_tenant(layout: dict[str, Any]) -> None:
    out = prune("--dry-run")
    month = layout["month"]
    assert f"partition {month.name} {month.label()}: would drop, 3 logs (acme 2, globex 1)" in out
    assert "acme: would remove 3 logs older than" in out and "(2 with whole partitions)" in out
    assert "globex: would remove 1 logs older than" in out and "(1 with whole partitions)" in out
    assert "keeper" not in out.replace("partition", "")
    assert len(tickets()) == 6 and exists(month.name)


def test_a_partition_every_tenant_allows_is_dropped_and_the_rest_deleted(layout: dict[str, Any]) -> None:
    month = layout["month"]
    out = prune()
    assert f"partition {month.name} {month.label()}: dropped, 3 logs (acme 2, globex 1) in " in out
    assert "acme: removed 3 logs" in out and "globex: removed 1 logs" in out
    assert not exists(month.name) and partition_sql.detached_tables() == []
    assert tickets() == ["globex-45", "keeper-5"]
    for tenant in ("acme", "globex", "keeper"):  # the rollup is exactly the recount of what is left
        stored, recount = stored_vs_recount(layout[tenant].client.pk)
        assert stored == recount, tenant
    overview = layout["acme"].api.get("/api/v1/metrics/overview", {"days": 90}).json()
    assert overview["total_tickets"] == 0
    # The dropped logs' event ids went with them: sending one again stores a new log.
    again = layout["acme"].api.post("/api/v1/logs", log_body(executed_at=ago(3).isoformat(), event_id="acme-old-1"),
                                    format="json")
    assert again.status_code == 201 and again.json()["id"] != layout["ids"]["acme-old-1"]
    assert "dropped" not in prune()  # nothing more to drop


def test_a_tenant_that_keeps_its_logs_keeps_the_partition(layout: dict[str, Any]) -> None:
    month = layout["month"]
    post(layout["keeper"], (timezone.now() - (month.lo + dt.timedelta(days=20))).total_seconds() / 86400,
         ticket_id="keeper-old")
    out = prune()
    assert "dropped" not in out and exists(month.name)
    assert tickets() == ["globex-45", "keeper-5", "keeper-old"]  # acme's and globex's deleted row by row


def test_a_late_log_of_a_tenant_that_keeps_it_survives_the_drop(layout: dict[str, Any]) -> None:
    """The check and the detach are not one instant: a keeper's log may land in the partition in
    between. Settling the detached table moves it to a partition of its own first."""
    month = layout["month"]
    late = post(layout["keeper"], (timezone.now() - (month.lo + dt.timedelta(days=20))).total_seconds() / 86400,
                ticket_id="keeper-late", event_id="late-1")
    cutoffs = {layout["acme"].client.pk: ago(30), layout["globex"].client.pk: ago(60)}  # decided before it came
    settled = partitions.detach_and_settle(month, cutoffs)
    assert settled.kept == 1 and settled.removed == {layout["acme"].client.pk: 2, layout["globex"].client.pk: 1}
    assert layout["keeper"].api.get(f"/api/v1/logs/{late}").json()["ticket_id"] == "keeper-late"
    retry = layout["keeper"].api.post("/api/v1/logs", log_body(event_id="late-1"), format="json")
    assert retry.status_code == 200 and retry.json()["id"] == late  # its event id is still known
    stored, recount = stored_vs_recount(layout["keeper"].client.pk)
    assert stored == recount
