"""Shared fixtures: two fixed tenants (alice, bob), their keys, and API clients."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from tenants.models import Client
from tenants.services import api_key_issue, client_create


@dataclass
class Tenant:
    client: Client
    key: str  # ingest + read
    api: APIClient


# Tests of the Redis paths use their own Redis database (a cache.clear() there is a FLUSHDB).
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def database_url(settings_dict: dict[str, Any]) -> str:
    """A DATABASE_URL for a process of our own on the same database (TCP or a unix socket)."""
    user, host, name = settings_dict["USER"] or "postgres", settings_dict["HOST"] or "127.0.0.1", settings_dict["NAME"]
    if host.startswith("/"):
        return f"postgres://{user}@/{name}?host={host}"
    return f"postgres://{user}@{host}:{settings_dict['PORT'] or 5432}/{name}"


def redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=0.5).ping())
    except Exception:
        return False


requires_redis = pytest.mark.skipif(not redis_available(), reason=f"no Redis at {TEST_REDIS_URL}")


def redis_caches(prefix: str) -> dict[str, Any]:
    """CACHES for override_settings: the project's Redis backend on the test database."""
    return {"default": {"BACKEND": "central_logger.cache.PooledRedisCache", "LOCATION": TEST_REDIS_URL,
                        "KEY_PREFIX": prefix}}


CITUS_TEST_URL = os.environ.get("CITUS_TEST_URL", "")
requires_citus = pytest.mark.skipif(
    not CITUS_TEST_URL, reason="no Citus cluster: set CITUS_TEST_URL (scripts/citus_cluster.sh start; url)")

# The tests left out of the run on a Citus cluster, each with its reason (README, "What differs on
# the cluster"): one node id, file or directory per line, `#` and the reason after it.
CITUS_DESELECT = os.path.join(os.path.dirname(__file__), "logs", "tests", "citus_deselect.txt")


def citus_deselected() -> dict[str, str]:
    """node id (or a file or directory of tests) -> why it does not run on the cluster."""
    out: dict[str, str] = {}
    with open(CITUS_DESELECT, encoding="utf-8") as lines:
        for line in lines:
            entry, _, reason = line.partition("#")
            if entry.strip():
                if not reason.strip():
                    raise ValueError(f"{CITUS_DESELECT}: {entry.strip()} has no reason")
                out[entry.strip()] = reason.strip()
    return out


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """On a Citus cluster, leave out the tests listed in logs/tests/citus_deselect.txt."""
    if not CITUS_TEST_URL:
        return
    listed = citus_deselected()

    def below(entry: str) -> str:  # what the ids of the tests an entry stands for start with
        return entry + ("[" if "::" in entry else "::" if entry.endswith(".py") else "/")

    def left_out(nodeid: str) -> bool:
        return any(nodeid == entry or nodeid.startswith(below(entry.rstrip("/"))) for entry in listed)

    kept = [item for item in items if not left_out(item.nodeid)]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if left_out(item.nodeid)])
        items[:] = kept


if CITUS_TEST_URL:
    @pytest.fixture(scope="session")
    def django_db_setup(django_db_blocker: Any) -> Any:
        """On a Citus cluster the tests run in the coordinator's database itself, migrated and
        distributed here (idempotent), each test in a transaction rolled back as usual."""
        import datetime as dt

        from django.core.management import call_command

        from logs import partitions
        from logs.tenant_sql import partitions as partition_sql

        with django_db_blocker.unblock():
            call_command("migrate", verbosity=0)
            call_command("citus_setup", workers=os.environ.get("CITUS_WORKERS", ""), verbosity=0,
                         shard_count=int(os.environ.get("CITUS_SHARD_COUNT", "8")))
            # What a run stopped halfway (Ctrl-C, a crash) committed is not rolled back: its
            # tests' partitions left detached and their rows would trip the next run's tests.
            for name in partition_sql.detached_tables():
                partition_sql.dangerously_drop(name)
            call_command("flush", interactive=False, verbosity=0)
            # The months the tests' logs fall in, made once (committed): on the cluster a new
            # partition is DDL on every shard, seconds each, which tests would repeat and roll back.
            # Up to the end of the ahead window, like a freshly migrated database: the tests of
            # the maintenance and the catch-all partitions count on what lies beyond.
            _, end = partitions.window(dt.datetime.now(dt.timezone.utc))
            months = [dt.datetime(2024 + (m // 12), m % 12 + 1, 1, tzinfo=dt.timezone.utc) for m in range(0, 48)]
            months = [month for month in months if month < end]
            wanted = {partitions.name_for(month, partitions.step(month)) for month in months}
            for part in partitions.partitions():  # an earlier run's catch-alls and later months (empty now)
                if part.name not in wanted:
                    partition_sql.dangerously_drop(part.name)
            partitions.invalidate()
            partitions.ensure_covered(months)
            partitions.invalidate()
            _citus_layout.extend(partitions.partitions())
        yield

    _citus_layout: list[Any] = []  # the partitions after the session's setup

    @pytest.fixture(autouse=True)
    def _citus_partitions_restored(request: Any, django_db_blocker: Any) -> Any:
        """After a test that commits (the partition maintenance, retention, live servers), the
        partitions of the session's start again: what it created (a catch-all, the months ahead
        of a later clock) dropped, what it dropped (retention) made again. Within one server's
        test database the same is a rolled-back transaction or a fresh database per run."""
        yield
        marker = request.node.get_closest_marker("django_db")
        if not (marker and marker.kwargs.get("transaction")) and "transactional_db" not in request.fixturenames:
            return
        from logs import partitions
        from logs.tenant_sql import partitions as partition_sql

        with django_db_blocker.unblock():
            _restore_layout(partitions, partition_sql)

    def _restore_layout(partitions: Any, partition_sql: Any) -> None:
        kept = {part.name for part in _citus_layout}
        for part in partitions.partitions():
            if part.detaching:
                partition_sql.dangerously_finalize(part.name)
            if part.detaching or part.name not in kept:
                partition_sql.dangerously_drop(part.name)
        for name in partition_sql.detached_tables():
            partition_sql.dangerously_drop(name)
        present = {part.name for part in partitions.partitions()}
        if missing := [part for part in _citus_layout if part.name not in present]:
            with partition_sql.ddl_transaction(60_000):
                for part in missing:
                    partition_sql.dangerously_attach(part.name, part.lo, part.hi)
        partitions.invalidate()


def _api(key: str | None) -> APIClient:
    api = APIClient()
    if key:
        api.credentials(HTTP_X_API_KEY=key)
    return api


def make_tenant(slug: str, scopes: list[str] | None = None) -> Tenant:
    client = client_create(slug=slug, name=slug.title())
    key = api_key_issue(client=client, name="test", scopes=scopes).plaintext
    return Tenant(client=client, key=key, api=_api(key))


@pytest.fixture
def alice(db: Any) -> Tenant:
    return make_tenant("alice")


@pytest.fixture
def bob(db: Any) -> Tenant:
    return make_tenant("bob")


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture(autouse=True)
def _isolated_reliability_state(tmp_path: Any, settings: Any) -> Any:
    """Each test gets its own spool file, a closed circuit breaker, no remembered keys and fresh
    rate-limit counters, no cached rollup sums, no remembered partitions (a test's partitions
    created on demand roll back with it); no background drainer, rollup flusher, partition
    maintenance, search indexer, key snapshot sync, alert evaluator or alert delivery thread (tests call them)."""
    from django.core.cache import cache

    from central_logger import dbguard
    from logs import partitions
    from metrics import rollup
    from scrubbing import services as scrubbing
    from spool import store
    from tenants import auth_failures, keycache, keysnapshot

    settings.SPOOL_PATH = str(tmp_path / "spool.sqlite3")
    settings.KEY_SNAPSHOT_PATH = str(tmp_path / "key_snapshot.sqlite3")
    settings.SPOOL_DRAIN_INTERVAL = 0
    settings.ROLLUP_FLUSH_INTERVAL = 0  # tests fold the pending rollup rows explicitly
    settings.ALERT_EVAL_INTERVAL_SECONDS = 0  # tests evaluate and deliver alerts explicitly
    settings.ALERT_DELIVERY_INTERVAL_SECONDS = 0
    settings.LOG_PARTITION_MAINTENANCE_INTERVAL = 0
    settings.SEARCH_INDEX_INTERVAL = 0  # tests index explicitly (logs.search_indexer.index_all)
    partitions.invalidate()
    settings.KEY_SNAPSHOT_SYNC_INTERVAL = 0
    dbguard.reset()
    keysnapshot.forget_all()
    keycache.forget_touches()
    auth_failures.reset()
    cache.clear()
    rollup.stored_cache.clear()
    scrubbing.forget()
    yield
    partitions.invalidate()
    store.close_connections()
    keysnapshot.close()
    dbguard.reset()
    keysnapshot.forget_all()
    keycache.forget_touches()
    auth_failures.reset()
