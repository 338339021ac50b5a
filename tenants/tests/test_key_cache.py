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
from django.test.utils import CaptureQueriesContext

from conftest import TEST_REDIS_URL, Tenant, database_url, make_tenant, redis_caches, requires_redis
from logs.tests.factories import log_body
from tenants.models import ApiKey
from tenants.services import api_key_revoke, client_set_active

URL = "/api/v1/logs"
ROOT = Path(settings.BASE_DIR)
INSERT_QUERIES = 4  # see test_authentication.py


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
def test_deactivating_a_client_is_immediate_for_its_cached_keys(
    alice: Tenant, key_cache: Any, django_capture_on_commit_callbacks: Any
) -> None:
    assert post(alice).status_code == 201
    assert post(alice).status_code == 201  # served from the cache
    with django_capture_on_commit_callbacks(execute=True):
        client_set_active(client=alice.client, active=False)
    assert post(alice).status_code == 401


@pytest.mark.django_db
def test_cache_is_off_by_default_without_redis(alice: Tenant, django_assert_num_queries: Any) -> None:
    assert settings.API_KEY_CACHE_SECONDS == 0  # tests run without REDIS_URL
    post(alice)
    with django_assert_num_queries(1 + INSERT_QUERIES):
        assert post(alice).status_code == 201


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
            "DATABASE_URL": database_url(db),
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


@pytest.fixture
def redis_key_cache() -> Any:
    """The key cache and the rate limits in Redis, as in production with REDIS_URL."""
    with override_settings(CACHES=redis_caches(f"test-keyrl-{os.getpid()}"), API_KEY_CACHE_SECONDS=30,
                           RATE_LIMIT_READ="3/hour", AUTH_FAILURE_RATE="1000/min"):
        from django.core.cache import caches

        caches["default"].clear()
        yield
        caches["default"].clear()
        caches["default"].close()


def redis_commands(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import redis

    sent: list[str] = []
    real = redis.Redis.execute_command

    def counting(self: Any, *args: Any, **options: Any) -> Any:
        sent.append(str(args[0]))
        return real(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    return sent


@requires_redis
@pytest.mark.django_db
def test_a_cached_key_and_its_rate_limit_take_one_redis_round_trip(
    alice: Tenant, redis_key_cache: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert alice.api.get(URL).status_code == 200  # fills the cache (and counts 1 of 3)
    sent = redis_commands(monkeypatch)
    with CaptureQueriesContext(connection) as queries:
        assert alice.api.get(URL).status_code == 200
    assert sent == ["EVALSHA"]
    assert not [q for q in queries.captured_queries if ApiKey._meta.db_table in q["sql"]]  # no key query
    # The limit still holds on that path: the 4th read of the hour is refused, and says when.
    assert alice.api.get(URL).status_code == 200
    refused = alice.api.get(URL)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    # The real wait: the rest of this hour, then a third of the next (3/hour): at most 4,800 s.
    assert 1 <= int(refused["Retry-After"]) <= 4800


@requires_redis
@pytest.mark.django_db
def test_a_forged_secret_does_not_spend_the_keys_quota(alice: Tenant, redis_key_cache: Any) -> None:
    assert alice.api.get(URL).status_code == 200  # cached; 1 of 3
    forged = alice.key[:-4] + ("aaaa" if not alice.key.endswith("aaaa") else "bbbb")
    intruder = type(alice.api)()
    intruder.credentials(HTTP_X_API_KEY=forged)
    assert [intruder.get(URL).status_code for _ in range(5)] == [401] * 5
    assert [alice.api.get(URL).status_code for _ in range(3)] == [200, 200, 429]


@requires_redis
@pytest.mark.django_db
def test_a_revoked_cached_key_is_refused_at_once_with_redis(
    alice: Tenant, redis_key_cache: Any, django_capture_on_commit_callbacks: Any
) -> None:
    assert alice.api.get(URL).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(prefix=prefix_of(alice))
    response = alice.api.get(URL)
    assert response.status_code == 401 and response.json()["error"]["code"] == "authentication_failed"
