"""TenantScopedViewSet: the sealed scope, and reads that bypass the queryset (the detail's
precompiled statement, rollup totals and metrics) only when nothing narrows the scope."""
from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIRequestFactory

from conftest import Tenant
from logs.tests.factories import ingest, log_body, recent_log
from logs.views import LogViewSet
from tenants.scoping import TenantScopedViewSet

pytestmark = pytest.mark.django_db


class FailedOnly(LogViewSet):
    """A narrower scope: the tenant's FAILED logs only."""

    def narrow_queryset(self, queryset: Any) -> Any:
        return queryset.filter(status="FAILED")


@pytest.mark.parametrize("name", TenantScopedViewSet._sealed)
def test_the_scope_cannot_be_overridden(name: str) -> None:
    with pytest.raises(TypeError, match=name):
        type("Sneaky", (LogViewSet,), {name: lambda self, *a: None})


def _call(tenant: Tenant, view: type, action: str, path: str, **kwargs: Any) -> Any:
    request = APIRequestFactory().get(path, HTTP_X_API_KEY=tenant.key)
    response = view.as_view({"get": action})(request, **kwargs)
    response.render()
    return response


def test_a_narrowed_scope_is_honoured_by_detail_and_list_totals(alice: Tenant, bob: Tenant) -> None:
    failed = ingest(alice, *[log_body(status="FAILED", event_id=f"f{i}") for i in range(3)])
    (success,) = ingest(alice, log_body(status="SUCCESS", event_id="s"))
    ingest(bob, log_body(status="FAILED", event_id="b"))

    assert _call(alice, LogViewSet, "retrieve", "/", pk=success).status_code == 200
    assert _call(alice, FailedOnly, "retrieve", "/", pk=success).status_code == 404
    assert _call(alice, FailedOnly, "retrieve", "/", pk=failed[0]).status_code == 200

    # page_size=1 makes the page full, so the total is not read off a short page.
    whole = _call(alice, LogViewSet, "list", "/?page_size=1").data["pagination"]
    narrowed = _call(alice, FailedOnly, "list", "/?page_size=1").data["pagination"]
    assert (whole["total"], narrowed["total"]) == (4, 3)
    assert _call(alice, FailedOnly, "list", "/?page_size=1&status=SUCCESS").data["pagination"]["total"] == 0


@pytest.mark.postgres_only
def test_the_scoped_queryset_is_built_only_when_a_read_needs_it(alice: Tenant, bob: Tenant, monkeypatch: Any) -> None:
    """Reads answered by the rollup or a hand-written tenant statement skip building the ORM
    scope (lazy_queryset); reads that need it still get the tenant's scope, and only it."""
    ingest(alice, recent_log(2, status="FAILED", environment="production", event_id="a"))
    ingest(bob, recent_log(2, status="FAILED", environment="production", event_id="b"))
    built = []
    real = TenantScopedViewSet.get_queryset
    monkeypatch.setattr(TenantScopedViewSet, "get_queryset", lambda self: built.append(1) or real(self))
    for path in ("/api/v1/metrics/overview?days=90", "/api/v1/metrics/errors?days=90",
                 "/api/v1/logs?status=FAILED", "/api/v1/logs?page_size=1"):
        assert alice.api.get(path).status_code == 200, path
    assert built == []
    for path, total in (("/api/v1/metrics/overview?days=90&environment=production", "total_tickets"),
                        ("/api/v1/logs?q=234", None), ("/api/v1/logs?cursor=", None)):
        body = alice.api.get(path).json()
        assert (body[total] if total else len(body["data"])) == 1, path
    assert len(built) == 3
