"""The PostgreSQL backend reads timestamps with psycopg's C loader: the same aware UTC values
Django's own loader gives, at the edges of the representable range too."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from conftest import Tenant
from logs.models import WorkflowLog
from logs.tests.factories import ingest, log_body

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc


def test_cursors_use_the_compiled_timestamp_loader() -> None:
    from psycopg.postgres import types
    from psycopg.pq import Format

    with connection.cursor() as cursor:
        loader = cursor.cursor.adapters.get_loader(types["timestamptz"].oid, Format.TEXT)
    assert connection.vendor == "postgresql"
    assert not loader.__module__.startswith(("psycopg.", "django."))


@pytest.mark.parametrize("text", ["2026-11-27T23:59:01.5Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z",
                                  "2026-03-29T01:30:00+02:00", "1969-12-31T23:59:59.000001-05:30"])
def test_timestamps_read_back_exactly_as_aware_utc(alice: Tenant, text: str) -> None:
    (log_id,) = ingest(alice, log_body(executed_at=text))
    stored = WorkflowLog.objects.values_list("executed_at", flat=True).get(pk=log_id)
    want = dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    assert stored == want and stored.tzinfo is UTC
    detail = alice.api.get(f"/api/v1/logs/{log_id}").json()
    listed = alice.api.get("/api/v1/logs").json()["data"][0]
    assert dt.datetime.fromisoformat(detail["executed_at"].replace("Z", "+00:00")) == want
    assert listed["executed_at"] == detail["executed_at"]
