"""The client pages of the operator console with each client's log activity (console/admin_clients.py)."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import Tenant, make_tenant
from logs.tests.admin_helpers import ingest, ingest_many
from logs.tests.factories import log_body
from tenants.tests.test_admin import CLIENTS, cell, row_of

pytestmark = pytest.mark.django_db


def test_client_list_counts_logs_of_the_last_day_and_week(admin_client: Any, alice: Tenant, bob: Tenant) -> None:
    now = timezone.now()

    def ago(**delta: Any) -> str:
        return (now - dt.timedelta(**delta)).isoformat()

    # alice: 2 within 24 h, 3 more within 7 d, 1 older; bob: 1 within 7 d only; carol: none.
    ingest_many(alice, [log_body(executed_at=t) for t in
                        (ago(hours=1), ago(hours=23), ago(days=2), ago(days=3), ago(days=6, hours=23), ago(days=9))])
    ingest(bob, executed_at=ago(days=4))
    make_tenant("carol")
    html = admin_client.get(CLIENTS).content.decode()
    alice_row, bob_row, carol_row = row_of(html, "alice"), row_of(html, "bob"), row_of(html, "carol")
    assert (cell(alice_row, "logs_last_24h"), cell(alice_row, "logs_last_7d")) == ("2", "5")
    assert (cell(bob_row, "logs_last_24h"), cell(bob_row, "logs_last_7d")) == ("0", "1")
    assert (cell(carol_row, "logs_last_24h"), cell(carol_row, "logs_last_7d")) == ("0", "0")
    assert cell(carol_row, "latest_log_at") == "-"
    assert cell(alice_row, "latest_log_at") != "-"


def test_client_list_queries_do_not_grow_with_clients(admin_client: Any, alice: Tenant) -> None:
    ingest(alice, executed_at=timezone.now().isoformat())
    with CaptureQueriesContext(connection) as few:
        admin_client.get(CLIENTS)
    for slug in ("c1", "c2", "c3", "c4"):
        ingest(make_tenant(slug), executed_at=timezone.now().isoformat())
    with CaptureQueriesContext(connection) as many:
        html = admin_client.get(CLIENTS).content.decode()
    assert len(many.captured_queries) == len(few.captured_queries)
    assert cell(row_of(html, "c3"), "logs_last_24h") == "1"
    grouped = [q["sql"] for q in many.captured_queries if "GROUP BY" in q["sql"] and "workflow_logs" in q["sql"]]
    assert len(grouped) == 1  # one grouped query for the whole page, not one per client
