"""A budget of failed API keys per source address: 429 before any lookup, real tenants unaffected."""
from __future__ import annotations

import uuid
from typing import Any
from unittest import mock

import pytest
from django.core.cache import caches
from django.test import override_settings
from rest_framework.test import APIClient

from central_logger.client_ip import client_ip
from conftest import TEST_REDIS_URL, Tenant, redis_caches, requires_redis
from logs.models import WorkflowLog
from logs.tests.factories import log_body
from tenants import auth_failures, keys
from tenants.services import api_key_issue

pytestmark = pytest.mark.django_db
URL = "/api/v1/logs"
FLOOD_IP, TENANT_IP = "203.0.113.7", "198.51.100.20"


def random_key() -> str:
    return keys.generate_key()[0]  # well-formed, never stored


def post(key: str, ip: str, **extra: Any) -> Any:
    return APIClient().post(URL, log_body(), format="json", HTTP_X_API_KEY=key, REMOTE_ADDR=ip, **extra)


def flood(n: int, ip: str = FLOOD_IP, **extra: Any) -> list[int]:
    return [post(random_key(), ip, **extra).status_code for _ in range(n)]


@pytest.fixture
def budget(settings: Any) -> int:
    settings.AUTH_FAILURE_RATE = "5/min"
    return 5


def test_source_over_its_budget_gets_429_with_retry_after(budget: int) -> None:
    assert flood(budget + 3) == [401] * budget + [429] * 3
    response = post(random_key(), FLOOD_IP)
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    retry = int(response["Retry-After"])
    # The real wait of 5/min: the rest of this minute, then until this minute's failures weigh
    # less than 4 in the sliding window (a fifth of the next one): at most 72 s.
    assert 1 <= retry <= 72
    assert error["details"] == {"retry_after": retry}


def test_a_blocked_source_costs_no_query(budget: int, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(budget):  # one key lookup per failure, up to the budget
        flood(budget)
    with django_assert_num_queries(0), \
            mock.patch("tenants.keys.secret_matches", side_effect=AssertionError("no HMAC")), \
            mock.patch("central_logger.ratelimit.Budget.record", side_effect=AssertionError("no cache")):
        assert flood(20) == [429] * 20


def test_valid_key_from_another_address_is_unaffected(budget: int, alice: Tenant) -> None:
    flood(budget + 1)
    assert post(alice.key, TENANT_IP).status_code == 201
    assert WorkflowLog.objects.filter(client=alice.client).count() == 1


def test_key_already_verified_here_passes_from_a_blocked_address(budget: int, alice: Tenant) -> None:
    # A real tenant behind the same address (NAT) as a misconfigured or hostile client: its logs
    # are posted once with no retry, so it must not be refused.
    assert post(alice.key, FLOOD_IP).status_code == 201
    flood(budget + 1)
    assert post(alice.key, FLOOD_IP).status_code == 201
    # ... but a wrong secret for that known prefix is still a 401 (and counts).
    forged = alice.key[:-4] + ("aaaa" if not alice.key.endswith("aaaa") else "bbbb")
    assert post(forged, FLOOD_IP).status_code == 401


def test_key_never_verified_here_waits_like_any_unknown_key_from_a_blocked_address(budget: int,
                                                                                   alice: Tenant) -> None:
    flood(budget + 1)
    fresh = api_key_issue(client=alice.client, name="new").plaintext
    assert post(fresh, FLOOD_IP).status_code == 429
    assert post(fresh, TENANT_IP).status_code == 201  # works at once from anywhere else


def test_a_new_key_works_at_once_from_an_address_with_failures(budget: int, alice: Tenant) -> None:
    flood(budget - 1, ip=TENANT_IP)  # some failures, still under the budget: no negative caching
    fresh = api_key_issue(client=alice.client, name="new").plaintext
    assert post(fresh, TENANT_IP).status_code == 201


@pytest.mark.parametrize("key", ["clk_short", "clk_ABCDEFGHIJ_" + "a" * 32, "x" * 500, "clk_" + "a" * 10 + "_" + "b" * 31])
def test_malformed_keys_are_401_without_a_query(budget: int, key: str, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        response = post(key, FLOOD_IP)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_malformed_keys_count_and_are_429_once_blocked(budget: int) -> None:
    codes = [post("clk_nope", FLOOD_IP).status_code for _ in range(budget + 1)]
    assert codes == [401] * budget + [429]


def test_requests_without_a_key_are_not_counted(budget: int, anon: APIClient) -> None:
    codes = [anon.post(URL, log_body(), format="json", REMOTE_ADDR=FLOOD_IP).status_code for _ in range(budget + 2)]
    assert codes == [401] * (budget + 2)
    assert post(random_key(), FLOOD_IP).status_code == 401


def test_block_ends_after_retry_after(budget: int, monkeypatch: Any) -> None:
    flood(budget + 1)
    retry = int(post(random_key(), FLOOD_IP)["Retry-After"])
    real_time = auth_failures.time.time
    monkeypatch.setattr(auth_failures.time, "time", lambda: real_time() + retry + 1)
    assert post(random_key(), FLOOD_IP).status_code == 401  # looked up again


def test_budget_off_never_blocks(settings: Any) -> None:
    settings.AUTH_FAILURE_RATE = "off"
    assert set(flood(30)) == {401}


def test_valid_requests_cost_no_cache_round_trip_and_no_address(alice: Tenant, settings: Any) -> None:
    settings.RATE_LIMIT_INGEST = ""  # isolate the auth path from the per-key throttle
    with mock.patch("central_logger.ratelimit.Budget.record") as counted, \
            mock.patch("tenants.auth_failures.source_of") as sourced:
        assert post(alice.key, TENANT_IP).status_code == 201
    counted.assert_not_called()
    sourced.assert_not_called()


def test_ipv6_addresses_share_a_budget_per_64(budget: int) -> None:
    flood(budget, ip="2001:db8:1:2::1")
    assert post(random_key(), "2001:db8:1:2:ffff::9").status_code == 429
    assert post(random_key(), "2001:db8:1:3::1").status_code == 401


def test_behind_a_trusted_proxy_the_forwarded_address_counts(budget: int, settings: Any, alice: Tenant) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    # The flood forges a different leftmost X-Forwarded-For on every request: only the entry our
    # proxy appended (the rightmost) is believed.
    codes = [post(random_key(), proxy, HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, {FLOOD_IP}").status_code
             for i in range(budget + 2)]
    assert codes == [401] * budget + [429] * 2
    # Another client behind the same proxy is a different source.
    assert post(random_key(), proxy, HTTP_X_FORWARDED_FOR=TENANT_IP).status_code == 401
    assert post(alice.key, proxy, HTTP_X_FORWARDED_FOR=TENANT_IP).status_code == 201


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(budget: int) -> None:
    codes = [post(random_key(), FLOOD_IP, HTTP_X_FORWARDED_FOR=f"192.0.2.{i}").status_code for i in range(budget + 1)]
    assert codes == [401] * budget + [429]


@pytest.mark.parametrize("hops, remote, forwarded, expected", [
    (0, "10.0.0.2", "1.2.3.4", "10.0.0.2"),
    (1, "10.0.0.2", "1.2.3.4", "1.2.3.4"),
    (1, "10.0.0.2", "6.6.6.6, 1.2.3.4", "1.2.3.4"),
    (2, "10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.9", "1.2.3.4"),
    (2, "10.0.0.2", "1.2.3.4", "10.0.0.2"),  # fewer hops than proxies: not through them all
    (1, "10.0.0.2", "", "10.0.0.2"),
    (1, "10.0.0.2", "not-an-ip", "10.0.0.2"),
])
def test_client_ip(rf: Any, settings: Any, hops: int, remote: str, forwarded: str, expected: str) -> None:
    settings.TRUSTED_PROXY_COUNT = hops
    request = rf.get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


@requires_redis
def test_with_redis_the_budget_is_shared_by_every_process(budget: int, alice: Tenant) -> None:
    import redis

    prefix = f"cl-test-{uuid.uuid4().hex[:8]}"
    redis_cache = redis_caches(prefix)
    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        with override_settings(CACHES=redis_cache):
            try:
                assert flood(budget + 1) == [401] * budget + [429]
                counters = client.keys(f"{prefix}:*rl:auth_failures:{FLOOD_IP}:*")
                # One counter per window: a flood that crosses a window boundary spans two.
                assert counters and sum(int(client.get(key)) for key in counters) == budget
                # Another process has no block in memory: one failed lookup there, then it
                # blocks too, because the count it reads is the shared one.
                auth_failures.reset()
                assert flood(2) == [401, 429]
                assert post(alice.key, TENANT_IP).status_code == 201
            finally:
                caches["default"].close()
    finally:
        leftovers = client.keys(f"{prefix}:*")
        if leftovers:
            client.delete(*leftovers)


def test_blocked_sources_are_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(auth_failures, "_MAX_BLOCKED", 3)
    for i in range(5):
        auth_failures._block(f"192.0.2.{i}", 60)
    assert list(auth_failures._blocked) == ["192.0.2.2", "192.0.2.3", "192.0.2.4"]

