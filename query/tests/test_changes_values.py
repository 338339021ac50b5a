"""GET /api/v1/logs/changes (the live probe's token) and /api/v1/logs/values (dropdowns)."""
from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from conftest import Tenant
from logs.tests.factories import ingest, recent_log

pytestmark = pytest.mark.django_db


def token(tenant: Tenant) -> str:
    response = tenant.api.get("/api/v1/logs/changes")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def test_the_token_changes_with_every_write_of_the_client_only(alice: Tenant, bob: Tenant) -> None:
    first = token(alice)
    ingest(bob, recent_log(1))
    assert token(alice) == first  # another client's log changes nothing
    # a log executed long ago (older than the newest) still changes the token
    ingest(alice, recent_log(0.5), recent_log(24 * 30, ticket_id="OLD-1"))
    pending = token(alice)
    assert pending != first
    call_command("flush_rollups")
    flushed = token(alice)
    assert flushed not in (first, pending)
    assert token(alice) == flushed  # stable while nothing happens


def test_changes_needs_a_key(anon: Any) -> None:
    assert anon.get("/api/v1/logs/changes").status_code == 401


def test_values_for_dropdowns(alice: Tenant, bob: Tenant) -> None:
    ingest(alice,
           recent_log(1, category="billing", customer_type="VIP", workflow_version="v2"),
           recent_log(2, category="billing", customer_type="standard", workflow_version="v1"),
           recent_log(3, category="shipping", customer_type="VIP", workflow_version="v2",
                      status="FAILED", workflow_error_type="TimeoutError", workflow_error_node="crm"),
           recent_log(4, category="", customer_type=None, workflow_version="v2"))
    ingest(bob, recent_log(1, category="bob_only", customer_type="BOB"))
    get = lambda field: alice.api.get("/api/v1/logs/values", {"field": field}).json()["values"]  # noqa: E731
    assert get("category") == [{"value": "billing", "count": 2}, {"value": "shipping", "count": 1}]
    assert get("customer_type") == [{"value": "VIP", "count": 2}, {"value": "standard", "count": 1}]
    assert get("workflow_version") == [{"value": "v2", "count": 3}, {"value": "v1", "count": 1}]
    assert get("workflow_error_type") == [{"value": "TimeoutError", "count": 1}]
    assert get("workflow_error_node") == [{"value": "crm", "count": 1}]
    bad = alice.api.get("/api/v1/logs/values", {"field": "payload"})
    assert bad.status_code == 400 and "field" in bad.json()["error"]["details"]
