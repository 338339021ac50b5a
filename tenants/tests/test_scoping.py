"""TenantScopedViewSet: the sealed scope, and the permission each action needs."""
from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIRequestFactory

from central_logger.api import LogViewSet
from conftest import Tenant
from logs.tests.factories import ingest, log_body
from tenants.scoping import TenantScopedViewSet

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", TenantScopedViewSet._sealed)
def test_the_scope_cannot_be_overridden(name: str) -> None:
    with pytest.raises(TypeError, match=name):
        type("Sneaky", (LogViewSet,), {name: lambda self, *a: None})


def _call(tenant: Tenant, action: str, path: str, method: str = "get", **kwargs: Any) -> Any:
    request = getattr(APIRequestFactory(), method)(path, HTTP_X_API_KEY=tenant.key)
    response = LogViewSet.as_view({method: action})(request, **kwargs)
    response.render()
    return response


def test_the_client_is_the_callers_and_another_tenants_log_is_absent(alice: Tenant, bob: Tenant) -> None:
    (mine,) = ingest(alice, log_body(event_id="a"))
    (theirs,) = ingest(bob, log_body(event_id="b"))
    assert _call(alice, "retrieve", "/", pk=mine).status_code == 200
    assert _call(alice, "retrieve", "/", pk=theirs).status_code == 404
    assert _call(alice, "retrieve", "/", pk="not-a-uuid").status_code == 404
    assert [row["id"] for row in _call(alice, "list", "/").data["data"]] == [mine]


def test_each_action_needs_its_scope(alice: Tenant) -> None:
    from conftest import make_tenant

    reader = make_tenant("reader", scopes=["read"])
    writer = make_tenant("writer", scopes=["ingest"])
    assert _call(reader, "list", "/").status_code == 200
    assert _call(writer, "list", "/").status_code == 403
    assert _call(reader, "create", "/", method="post").status_code == 403
