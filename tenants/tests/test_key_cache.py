"""The shared API-key cache (tenants/keycache.py): fewer queries, revocation still immediate."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import override_settings

from conftest import TEST_REDIS_URL, Tenant, make_tenant, redis_caches, requires_redis
from logs.tests.factories import log_body
from tenants.models import ApiKey
from tenants.services import api_key_revoke

URL = "/api/v1/logs"
ROOT = Path(settings.BASE_DIR)
INSERT_QUERIES = 4 if connection.vendor == "postgresql" else 5  # see test_authentication.py


@pytest.fixture
def key_cache() -> Any:
    with override_settings(API_KEY_CACHE_SECONDS=30):
        cache.clear()
        yield
        cache.clear()


def post(tenant: Tenant) -> Any:
    return tenant.api.post(URL, log_body(), format="json")


def prefix_of(tenant: Tenant) -> str:
    return tenant.key.split("_")[1]


@pytest.mark.django_db
def test_cached_key_costs_no_query(alice: Tenant, key_cache: Any, django_assert_num_queries: Any) -> None:
    assert post(alice).status_code == 201  # fills the cache, records last_used_at
    with django_assert_num_queries(INSERT_QUERIES):  # the insert only: no key lookup
        assert post(alice).status_code == 201


@pytest.mark.django_db
def test_cached_prefix_with_wrong_secret_is_401(alice: Tenant, key_cache: Any) -> None:
    assert post(alice).status_code == 201
    forged = alice.key[:-4] + ("aaaa" if not alice.key.endswith("aaaa") else "bbbb")
    alice.api.credentials(HTTP_X_API_KEY=forged)
    response = post(alice)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


@pytest.mark.django_db
def test_revocation_is_immediate_in_the_same_process(
    alice: Tenant, key_cache: Any, django_capture_on_commit_callbacks: Any
) -> None:
    assert post(alice).status_code == 201
    assert post(alice).status_code == 201  # served from the cache
    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(prefix=prefix_of(alice))
    response = post(alice)
    assert response.status_code == 401
    # The other tenant's cached key is untouched.
    bob = make_tenant("bob")
    assert post(bob).status_code == 201


@pytest.mark.django_db
def test_cache_is_off_by_default_without_redis(alice: Tenant, django_assert_num_queries: Any) -> None:
    assert settings.API_KEY_CACHE_SECONDS == 0  # tests run without REDIS_URL
    post(alice)
    with django_assert_num_queries(1 + INSERT_QUERIES):
        assert post(alice).status_code == 201


@pytest.mark.postgres_only
@requires_redis
@pytest.mark.django_db(transaction=True)
def test_revocation_from_another_process_is_immediate_with_redis(django_assert_num_queries: Any) -> None:
    """`manage.py revoke_api_key` in a separate process; the next request here is a 401, and the
    401 comes from the shared cache (no key query), i.e. the revocation travelled through Redis."""
    caches = redis_caches(f"test-keycache-{os.getpid()}")
    with override_settings(CACHES=caches, API_KEY_CACHE_SECONDS=30):
        cache.clear()
        tenant = make_tenant("crossproc")
        assert post(tenant).status_code == 201
        assert post(tenant).status_code == 201  # now cached in Redis

        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "central_logger.settings_test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": TEST_REDIS_URL,
            # The subprocess must write where this process reads: same cache key prefix.
            "CACHE_KEY_PREFIX": f"test-keycache-{os.getpid()}",
            "API_KEY_CACHE_SECONDS": "30",
        }
        done = subprocess.run([sys.executable, "manage.py", "revoke_api_key", prefix_of(tenant)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert ApiKey.objects.get().status == "revoked"

        with django_assert_num_queries(0):  # rejected from the cache: no key query at all
            response = post(tenant)
        assert response.status_code == 401
        cache.clear()
