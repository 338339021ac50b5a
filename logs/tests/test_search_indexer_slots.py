"""The indexer in parallel slots (`index_search --processes N`): each worker takes only the logs
whose id hashes to its slot, so every queue row of one log goes to one worker; and each doc
carries its log's status (migration 0021), which a status-filtered search reads."""
from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from conftest import Tenant, database_url
from logs.tenant_sql import search as search_sql
from logs.search_indexer import index_slot
from logs.tests.factories import ingest, log_body

pytestmark = pytest.mark.django_db


def _pending() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT log_id::text FROM logs_search_pending")
        return [row[0] for row in cursor.fetchall()]


def _doc_statuses() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT log_id::text, status FROM logs_search_docs")
        return dict(cursor.fetchall())


def test_slots_split_the_queue_by_log_and_store_each_status(alice: Tenant, bob: Tenant) -> None:
    statuses = ["SUCCESS", "FAILED", "ERROR", "PARTIAL"]
    ids = ingest(alice, *(log_body(ticket_id=f"T-{i}", status=statuses[i % 4]) for i in range(30)))
    ids += ingest(bob, *(log_body(ticket_id=f"B-{i}", status="FAILED") for i in range(10)))
    assert _pending() == [] and len(_doc_statuses()) == 40
    with connection.cursor() as cursor:  # each log queued twice more (two updates), the second a status change
        cursor.execute("UPDATE workflow_logs SET category = 'requeued'")
        cursor.execute("UPDATE workflow_logs SET status = 'ERROR' WHERE ticket_id IN ('T-0', 'B-0')")
    queued = _pending()
    assert len(queued) == 42

    first = index_slot(0, 2)
    left = _pending()
    taken = set(queued) - set(left)
    assert 0 < first < 40 and len(taken) == first
    assert not taken & set(left)  # no log had one queue row taken and another left behind
    assert index_slot(0, 2) == 0  # the rest belongs to the other slot

    assert index_slot(1, 2) == 40 - first and _pending() == []
    docs = _doc_statuses()
    expected = {log_id: ("ERROR" if i in (0, 30) else statuses[i % 4] if i < 30 else "FAILED")
                for i, log_id in enumerate(ids)}
    assert docs == expected


@pytest.mark.django_db(transaction=True)
def test_index_search_with_processes_drains_the_queue(alice: Tenant, monkeypatch: Any) -> None:
    """`index_search --processes 2`: two spawned workers (their own connections, to this test's
    database) index everything queued while the command holds the runner lock."""
    ingest(alice, *(log_body(ticket_id=f"T-{i}") for i in range(12)))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE workflow_logs SET category = 'requeued'")
    assert len(_pending()) == 12
    monkeypatch.setenv("DATABASE_URL", database_url(connection.settings_dict))
    out = io.StringIO()
    call_command("index_search", processes=2, stdout=out)
    assert "indexed 12 logs with 2 processes" in out.getvalue()
    assert _pending() == [] and len(_doc_statuses()) == 12
    assert search_sql.try_runner_lock()  # the command released it
    search_sql.release_runner_lock()
