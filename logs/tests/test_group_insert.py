"""The single-log group commit's statement (logs/tenant_sql/writes.py insert_group_committed):
one transaction for many rows, each inserted or not on its own event id, in one round trip."""
from __future__ import annotations

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import make_tenant
from ingestion.validation import clean_log
from logs.models import WorkflowLog
from logs.tenant_sql import writes
from logs.tests.factories import recent_log

pytestmark = pytest.mark.django_db(transaction=True)


def _row(ticket: str, event_id: str | None = None, **fields: object) -> dict:
    cleaned, errors = clean_log(recent_log(1, ticket_id=ticket, **fields))
    assert cleaned is not None, errors
    if event_id is not None:
        cleaned["event_id"] = event_id
    return writes.stored_row(cleaned, timezone.now())


def test_rows_share_one_transaction_and_event_ids_decide_row_by_row() -> None:
    tenant, other = make_tenant("group-sql"), make_tenant("group-sql-other")
    stored = _row("stored-before", "e-known")
    assert writes.insert_one_committed(tenant.client, stored, stored["created_at"], timeout_ms=5000)
    rows = [
        _row("plain", payload={"final_response": "Заказ не доставлен " * 200, "trace": {}}),
        _row("new-event", "e-new"),
        _row("known-event", "e-known"),      # stored already: skipped
        _row("first-of-two", "e-twice"),
        _row("second-of-two", "e-twice"),    # the same id twice in one group: only the first
        _row("empty", metadata={}, category=""),
    ]
    with CaptureQueriesContext(connection) as queries:
        inserted = writes.insert_group_committed(tenant.client, rows, timeout_ms=5000, lock_timeout_ms=100)
    (statement,) = [q["sql"] for q in queries.captured_queries if "workflow_logs" in q["sql"]
                    and "pg_inherits" not in q["sql"]]
    assert statement.startswith("BEGIN; SET LOCAL statement_timeout = 5000; SET LOCAL lock_timeout = 100; ")
    assert statement.endswith("COMMIT")
    by_ticket = {row["ticket_id"]: row["id"] for row in rows}
    assert inserted == {by_ticket[t] for t in ("plain", "new-event", "first-of-two", "empty")}
    logs = WorkflowLog.objects.filter(client=tenant.client).extra(select={"tx": "xmin::text"})
    assert {log.ticket_id for log in logs} == {"stored-before", "plain", "new-event", "first-of-two", "empty"}
    assert len({log.tx for log in logs if log.ticket_id != "stored-before"}) == 1  # one transaction
    assert not WorkflowLog.objects.filter(client=other.client).exists()
    assert writes.stored_event_ids(tenant.client, ["e-twice"]) == {"e-twice": str(by_ticket["first-of-two"])}
    assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_a_failing_group_stores_nothing_and_leaves_the_connection_clean() -> None:
    tenant = make_tenant("group-sql-fail")
    rows = [_row("a"), _row("b")]
    with psycopg.connect(**connection.standalone_params()) as locker:
        locker.execute("LOCK TABLE workflow_logs IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(Exception) as failure:
            writes.insert_group_committed(tenant.client, rows, timeout_ms=5000, lock_timeout_ms=100)
        locker.rollback()
    assert isinstance(failure.value.__cause__, psycopg.errors.LockNotAvailable)
    assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert not WorkflowLog.objects.filter(client=tenant.client).exists()


def test_group_commit_off_stores_each_log_alone_without_a_slot(settings: object) -> None:
    """INGEST_GROUP_COMMIT_MAX_ROWS=1 is the old path: each log its own transaction, never
    waiting for a commit slot (here every slot is held by others) nor for a group."""
    from ingestion import groupcommit

    settings.INGEST_GROUP_COMMIT_MAX_ROWS = 1
    tenant = make_tenant("group-off")
    slots = groupcommit._commit_slots()
    held = 0
    while slots.acquire(blocking=False):
        held += 1
    try:
        row = _row("alone, Größe 📦 " + "x" * 230, "e-alone", payload={"final_response": "ü" * 5000, "trace": {}})
        assert groupcommit.insert(tenant.client, row) is True
        assert groupcommit.insert(tenant.client, _row("replay", "e-alone")) is False  # its event id, once
    finally:
        for _ in range(held):
            slots.release()
    assert list(WorkflowLog.objects.filter(client=tenant.client).values_list("id", flat=True)) == [row["id"]]
