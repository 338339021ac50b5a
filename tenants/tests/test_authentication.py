from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import Tenant, make_tenant
from logs.tests.factories import log_body
from tenants.models import ApiKey
from tenants.services import api_key_issue, api_key_revoke

pytestmark = pytest.mark.django_db
URL = "/api/v1/logs"


def post(api: APIClient, **headers: str) -> Any:
    return api.post(URL, log_body(), format="json", **headers)


def assert_401(response: Any) -> None:
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"authentication_failed", "not_authenticated"}
    assert response["WWW-Authenticate"]


def test_missing_key_is_401(anon: APIClient) -> None:
    assert_401(post(anon))


@pytest.mark.parametrize("raw", [
    "nonsense",
    "clk_",
    "clk_short_secret",
    "clk_abcdefghij_" + "a" * 31,
    "clk_ABCDEFGHIJ_" + "a" * 32,
    "xyz_abcdefghij_" + "a" * 32,
    "clk_abcdefghij_" + "a" * 32 + "extra",
    "clk_abcdefghij_" + "a" * 31 + "!",
])
def test_malformed_key_is_401_without_a_query(db: Any, anon: APIClient, raw: str,
                                               django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        response = post(anon, HTTP_X_API_KEY=raw)
    assert_401(response)


def test_unknown_well_formed_key_is_401(anon: APIClient) -> None:
    assert_401(post(anon, HTTP_X_API_KEY="clk_abcdefghij_" + "A" * 32))


def test_wrong_secret_for_existing_prefix_is_401(alice: Tenant, anon: APIClient) -> None:
    prefix = alice.key.split("_")[1]
    assert_401(post(anon, HTTP_X_API_KEY=f"clk_{prefix}_" + "B" * 32))


def test_bearer_header_is_accepted(alice: Tenant, anon: APIClient) -> None:
    response = post(anon, HTTP_AUTHORIZATION=f"Bearer {alice.key}")
    assert response.status_code == 201


def test_key_with_surrounding_whitespace_is_accepted(alice: Tenant, anon: APIClient) -> None:
    assert post(anon, HTTP_X_API_KEY=f"  {alice.key} ").status_code == 201


def test_two_keys_in_one_header_are_rejected(alice: Tenant, bob: Tenant, anon: APIClient) -> None:
    assert_401(post(anon, HTTP_X_API_KEY=f"{alice.key},{bob.key}"))


def test_revoked_key_stops_working_at_once(alice: Tenant) -> None:
    assert post(alice.api).status_code == 201
    api_key_revoke(prefix=alice.key.split("_")[1])
    assert_401(post(alice.api))


def test_expired_key_is_401(alice: Tenant) -> None:
    ApiKey.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert_401(post(alice.api))


def test_inactive_client_is_401(alice: Tenant) -> None:
    alice.client.is_active = False
    alice.client.save()
    assert_401(post(alice.api))


def test_key_without_ingest_scope_is_403(db: Any) -> None:
    reader = make_tenant("reader", scopes=["read"])
    response = post(reader.api)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert "ingest" in response.json()["error"]["message"]


def test_key_without_read_scope_is_403_on_reads(db: Any) -> None:
    writer = make_tenant("writer", scopes=["ingest"])
    response = writer.api.get(URL)
    assert response.status_code == 403


def test_last_used_is_recorded_at_most_once_a_minute(alice: Tenant) -> None:
    assert ApiKey.objects.get().last_used_at is None
    post(alice.api)
    first = ApiKey.objects.get().last_used_at
    assert first is not None
    post(alice.api)
    assert ApiKey.objects.get().last_used_at == first
    ApiKey.objects.update(last_used_at=timezone.now() - dt.timedelta(minutes=2))
    post(alice.api)
    assert ApiKey.objects.get().last_used_at > first


def test_authenticated_ingest_costs_one_auth_query(alice: Tenant, django_assert_num_queries: Any) -> None:
    post(alice.api)  # records last_used_at
    # 1 key+client lookup; then the bounded ingestion transaction (savepoint here, inside the
    # test's transaction), SET LOCAL statement_timeout and the one INSERT ... SELECT unnest()
    # ... RETURNING; and the release of the outer one.
    with django_assert_num_queries(5):
        assert post(alice.api).status_code == 201


def test_database_never_holds_a_plaintext_key(db: Any) -> None:
    tenant = make_tenant("secretive")
    issued = api_key_issue(client=tenant.client, name="second")
    secrets = [tenant.key, issued.plaintext]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM tenants_apikey")
        dump = repr(cursor.fetchall())
    for plaintext in secrets:
        assert plaintext not in dump
        assert plaintext.split("_")[2] not in dump


def test_a_process_asks_the_shared_last_used_marker_once_per_interval(alice: Tenant, settings: Any,
                                                                       monkeypatch: Any) -> None:
    """A cached key row keeps its old last_used_at until the entry expires; the process then
    asks the shared marker once per API_KEY_LAST_USED_INTERVAL, not on every request."""
    from tenants import keycache

    settings.API_KEY_CACHE_SECONDS, settings.API_KEY_LAST_USED_INTERVAL = 300, 60
    asked: list[str] = []
    real_add = keycache.cache.add
    monkeypatch.setattr(keycache.cache, "add", lambda key, *a, **k: asked.append(key) or real_add(key, *a, **k))
    key = ApiKey.objects.get()
    key.last_used_at = timezone.now() - dt.timedelta(minutes=3)
    assert [keycache.touch_due(key) for _ in range(5)] == [True, False, False, False, False]
    assert len(asked) == 1
    clock = time.monotonic() + 61
    monkeypatch.setattr(keycache.time, "monotonic", lambda: clock)
    assert keycache.touch_due(key) is False  # the shared marker (60 s) is still there
    assert len(asked) == 2
