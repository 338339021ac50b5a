"""Per-key rate limits: 429 + Retry-After in the envelope, per tenant, local memory or Redis."""
from __future__ import annotations

import uuid
from typing import Any
from unittest import mock

import pytest
from django.core.cache import caches
from django.test import override_settings

from central_logger.ratelimit import parse_rate
from conftest import TEST_REDIS_URL, Tenant, redis_caches, requires_redis
from logs.models import WorkflowLog
from logs.tests.factories import log_body

pytestmark = pytest.mark.django_db
URL = "/api/v1/logs"


def test_ingest_over_the_rate_is_429_with_retry_after(alice: Tenant, settings: Any) -> None:
    settings.RATE_LIMIT_INGEST = "3/min"
    codes = [alice.api.post(URL, log_body(), format="json").status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    response = alice.api.post(URL, log_body(), format="json")
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    # The real wait: the rest of this minute, then until the 3 requests of this minute weigh
    # less than 2 in the sliding window (a third of the next minute): at most 80 s.
    assert 1 <= int(response["Retry-After"]) <= 80
    assert error["details"]["retry_after"] == int(response["Retry-After"])
    assert WorkflowLog.objects.count() == 3


@pytest.mark.parametrize("rate, elapsed", [("3/min", 0.0), ("3/min", 59.5), ("120/min", 12.3), ("2/sec", 0.4)])
def test_a_retry_exactly_at_retry_after_is_admitted(alice: Tenant, settings: Any, monkeypatch: Any,
                                                     rate: str, elapsed: float) -> None:
    """Retry-After is never shorter than the real wait: a client that retries exactly then is
    admitted, and one that retries a second earlier is not."""
    import time as time_module

    from central_logger import ratelimit

    settings.RATE_LIMIT_INGEST = rate
    limit, window = ratelimit.parse_rate(rate)
    start = (int(time_module.time()) // window + 1) * window + elapsed  # a known point of a window
    now = [start]
    monkeypatch.setattr(ratelimit.time, "time", lambda: now[0])
    for _ in range(limit):
        assert alice.api.post(URL, {"environment": "prod", "test": True}, format="json").status_code == 200
    refused = alice.api.post(URL, {"environment": "prod", "test": True}, format="json")
    assert refused.status_code == 429
    wait = int(refused["Retry-After"])
    if wait > 1:
        now[0] = start + wait - 1
        assert alice.api.post(URL, {"environment": "prod", "test": True}, format="json").status_code == 429
    now[0] = start + wait
    assert alice.api.post(URL, {"environment": "prod", "test": True}, format="json").status_code == 200


def test_one_tenant_over_its_quota_does_not_limit_another(alice: Tenant, bob: Tenant, settings: Any) -> None:
    settings.RATE_LIMIT_INGEST = "2/min"
    for _ in range(3):
        alice.api.post(URL, log_body(), format="json")
    assert alice.api.post(URL, log_body(), format="json").status_code == 429
    assert [bob.api.post(URL, log_body(), format="json").status_code for _ in range(2)] == [201, 201]


def test_reads_and_writes_have_separate_budgets(alice: Tenant, settings: Any) -> None:
    settings.RATE_LIMIT_INGEST = "2/min"
    settings.RATE_LIMIT_READ = "2/min"
    for _ in range(2):
        alice.api.post(URL, log_body(), format="json")
    assert alice.api.post(URL, log_body(), format="json").status_code == 429
    # the OpenAPI schema is a read like any other for a caller with a key
    reads = [alice.api.get("/api/schema/").status_code for _ in range(3)]
    assert reads == [200, 200, 429]


def test_unauthenticated_requests_are_401_not_throttled(anon: Any, settings: Any) -> None:
    settings.RATE_LIMIT_INGEST = "1/min"
    assert [anon.post(URL, log_body(), format="json").status_code for _ in range(3)] == [401, 401, 401]


def test_a_broken_cache_lets_requests_through(alice: Tenant, settings: Any) -> None:
    settings.RATE_LIMIT_INGEST = "1/min"
    with mock.patch("central_logger.ratelimit.cache.get_many", side_effect=ConnectionError("redis down")):
        codes = [alice.api.post(URL, log_body(), format="json").status_code for _ in range(3)]
    assert codes == [201, 201, 201]


def test_empty_rate_means_unlimited(alice: Tenant, settings: Any) -> None:
    settings.RATE_LIMIT_INGEST = ""
    assert {alice.api.post(URL, log_body(), format="json").status_code for _ in range(5)} == {201}


@pytest.mark.parametrize("rate, parsed", [("6000/min", (6000, 60)), ("10/sec", (10, 1)), ("5/hour", (5, 3600)),
                                          ("1/day", (1, 86400)), ("none", None), ("", None)])
def test_rates_parse(rate: str, parsed: Any) -> None:
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["fast", "10/fortnight", "x/min"])
def test_bad_rates_fail_loudly(rate: str) -> None:
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        parse_rate(rate)


@requires_redis
def test_limits_are_shared_through_redis(alice: Tenant, settings: Any) -> None:
    prefix = f"cl-test-{uuid.uuid4().hex[:8]}"
    redis_cache = redis_caches(prefix)
    settings.RATE_LIMIT_INGEST = "2/min"
    with override_settings(CACHES=redis_cache):
        caches["default"].clear()
        try:
            codes = [alice.api.post(URL, log_body(), format="json").status_code for _ in range(3)]
            # the counter lives in Redis, where another process would see it
            import redis

            client = redis.Redis.from_url(TEST_REDIS_URL)
            keys = client.keys(f"{prefix}:*rl:ingest:k:{alice.key.split('_')[1]}:*")
            # One key per minute of the sliding window: the three requests may straddle two.
            assert keys and sum(int(client.get(key)) for key in keys) == 2
            client.delete(*keys)
        finally:
            caches["default"].close()
    assert codes == [201, 201, 429]


def test_an_unreachable_redis_lets_requests_through(alice: Tenant, settings: Any) -> None:
    down = {"default": {"BACKEND": "central_logger.cache.PooledRedisCache",
                        "LOCATION": "redis://127.0.0.1:1/0", "OPTIONS": {"socket_connect_timeout": 0.2}}}
    settings.RATE_LIMIT_INGEST = "1/min"
    with override_settings(CACHES=down):
        try:
            codes = [alice.api.post(URL, log_body(), format="json").status_code for _ in range(3)]
        finally:
            caches["default"].close()
    assert codes == [201, 201, 201]


@requires_redis
def test_redis_refusals_are_not_counted_and_say_when_to_retry(alice: Tenant, settings: Any) -> None:
    redis_cache = redis_caches(f"cl-test-{uuid.uuid4().hex[:8]}")
    settings.RATE_LIMIT_INGEST = "2/hour"
    with override_settings(CACHES=redis_cache):
        try:
            codes = [alice.api.post(URL, log_body(), format="json").status_code for _ in range(5)]
            refused = alice.api.post(URL, log_body(), format="json")
        finally:
            caches["default"].clear()
            caches["default"].close()
    assert codes == [201, 201, 429, 429, 429]
    # The real wait: the rest of this hour, then half the next (the 2 requests of this hour must
    # weigh less than 1 in the sliding window): at most 5,400 s.
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 5400
    assert WorkflowLog.objects.count() == 2
