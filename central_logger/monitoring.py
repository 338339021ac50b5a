"""Prometheus metrics at /metrics (README, Operators).

The counters and gauges the service updates as it works are defined here; the apps update them
(`LOGS_INGESTED` from ingestion, `API_KEY_CACHE` from tenants, ...). What is cheaper to read
than to track (the spool's depth, the rollup's backlog, the database's reachability) is read
when Prometheus scrapes, by the checks the owning apps register (`register_scrape`), the same
way they register readiness checks.

Several gunicorn workers: prometheus-client's multiprocess mode. gunicorn.conf.py gives every
server a fresh PROMETHEUS_MULTIPROC_DIR before the app loads; each worker writes its values
there, a scrape (answered by any worker) sums every worker's files, and a worker that exits is
marked dead (its live gauges vanish, its counts stay in the totals). Without that variable (tests,
manage.py runserver) the process's own registry is served.

Access: a request from an address in METRICS_ALLOWED_IPS (default: this host only), or with
`Authorization: Bearer <METRICS_TOKEN>`; anything else is a 403.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from central_logger import dbguard
from central_logger.client_ip import client_ip
from central_logger.errors import json_error
from central_logger.requestlog import route_of

P = "central_logger_"
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

HTTP_REQUESTS = Counter(P + "http_requests_total", "HTTP requests answered, by route pattern, method and status.",
                        ["route", "method", "status"])
HTTP_DURATION = Histogram(P + "http_request_duration_seconds", "Time to answer a request (until the response "
                          "object is ready; a streamed export's body is not included).", ["route", "method"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0))
LOGS_INGESTED = Counter(P + "logs_ingested_total", "Logs received by POST /api/v1/logs[/batch], by outcome: stored "
                        "(in PostgreSQL), spooled (on disk, database away), duplicate (event_id seen), rejected "
                        "(invalid), refused (neither store could take it: 503).", ["outcome"])
GROUP_COMMITS = Counter(P + "ingest_group_commits_total", "Transactions that stored single logs (POST /api/v1/logs); "
                        "rows per transaction is ingest_group_commit_rows_total over this.")
GROUP_COMMIT_ROWS = Counter(P + "ingest_group_commit_rows_total", "Single logs sent in those transactions.")
SPOOL_DRAINED = Counter(P + "spool_drained_total", "Spooled logs moved on: stored (in PostgreSQL) or "
                        "dead_letter (refused by PostgreSQL, kept for an operator).", ["outcome"])
API_KEY_CACHE = Counter(P + "api_key_cache_total", "API-key look-ups in the shared cache: hit or miss.", ["result"])
RATE_LIMITED = Counter(P + "rate_limited_total", "Requests refused with 429, by budget (ingest, read, "
                       "auth_failures, admin_login, dashboard_login).", ["budget"])
BACKGROUND_SUCCESS = Gauge(P + "background_last_success_timestamp_seconds", "When a background loop (spool-drainer, "
                           "rollup-flusher) last completed a round, Unix time; the newest of all workers.",
                           ["loop"], multiprocess_mode="max")
DB_CIRCUIT_OPEN = Gauge(P + "db_circuit_open", "Workers whose ingestion circuit breaker is open (ingestion goes "
                        "straight to the spool after a database failure).", multiprocess_mode="livesum")
POOL_CONNECTIONS = Gauge(P + "db_pool_connections", "Pooled PostgreSQL connections of the live workers, by state "
                         "(in_use, idle) and their capacity (max).", ["state"], multiprocess_mode="livesum")
POOL_WAITING = Gauge(P + "db_pool_waiting", "Requests waiting for a pooled connection right now.",
                     multiprocess_mode="livesum")
POOL_WAITS = Counter(P + "db_pool_waits_total", "Requests that had to wait for a pooled connection.")
POOL_WAIT_SECONDS = Counter(P + "db_pool_wait_seconds_total", "Time requests spent waiting for a pooled connection.")
POOL_TIMEOUTS = Counter(P + "db_pool_timeouts_total", "Requests that got no pooled connection within DB_POOL_TIMEOUT.")

# Every known label value is exported from the start (at 0), so a rate() or a dashboard panel has
# a series before the first event. Per process: in a forked worker, values exist once written.
KNOWN_LABELS = {
    LOGS_INGESTED: ("stored", "spooled", "duplicate", "rejected", "refused"),
    SPOOL_DRAINED: ("stored", "dead_letter"),
    API_KEY_CACHE: ("hit", "miss"),
    RATE_LIMITED: ("ingest", "read", "auth_failures", "admin_login", "dashboard_login"),
}


def _declare_series() -> None:
    for counter, values in KNOWN_LABELS.items():
        for label in values:
            counter.labels(label).inc(0)
    for counter in (POOL_WAITS, POOL_WAIT_SECONDS, POOL_TIMEOUTS):
        counter.inc(0)


_declare_series()
os.register_at_fork(after_in_child=_declare_series)

SAMPLE_EVERY_SECONDS = 1.0
_last_sample = 0.0

# name -> a function returning metric families, read at each scrape (registered by the apps).
ScrapeCheck = Callable[[], Iterable[Metric]]
_scrape_checks: dict[str, ScrapeCheck] = {}


def register_scrape(name: str, check: ScrapeCheck) -> None:
    _scrape_checks[name] = check


def gauge(name: str, documentation: str, value: float, labels: dict[str, str] | None = None) -> GaugeMetricFamily:
    """A gauge read at scrape time (for the apps' scrape checks)."""
    family = GaugeMetricFamily(P + name, documentation, labels=list(labels or {}))
    family.add_metric(list((labels or {}).values()), value)
    return family


# --- sampled state of this worker -------------------------------------------------------------------

def sample_process() -> None:
    """This worker's pool and circuit breaker into its gauges; pool waits into the counters."""
    global _last_sample
    _last_sample = time.monotonic()
    DB_CIRCUIT_OPEN.set(1 if dbguard.circuit_open() else 0)
    pool = getattr(type(connections["default"]), "_connection_pools", {}).get("default")  # never opens one
    if pool is None:
        return
    stats = pool.pop_stats()  # the request counters since the last pop: add them to ours
    size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
    POOL_CONNECTIONS.labels("in_use").set(size - idle)
    POOL_CONNECTIONS.labels("idle").set(idle)
    POOL_CONNECTIONS.labels("max").set(stats.get("pool_max", 0))
    POOL_WAITING.set(stats.get("requests_waiting", 0))
    POOL_WAITS.inc(stats.get("requests_queued", 0))
    POOL_WAIT_SECONDS.inc(stats.get("requests_wait_ms", 0) / 1000)
    POOL_TIMEOUTS.inc(stats.get("requests_errors", 0))


class MetricsMiddleware:
    """Counts and times every request by route pattern (a bounded label, never the raw path);
    samples this worker's pool and breaker at most once a second."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in METHODS else "other"
        route = route_of(request)
        HTTP_REQUESTS.labels(route, method, str(response.status_code)).inc()
        HTTP_DURATION.labels(route, method).observe(time.perf_counter() - started)
        if time.monotonic() - _last_sample >= SAMPLE_EVERY_SECONDS:
            sample_process()
        return response


# --- the endpoint ------------------------------------------------------------------------------------

class _Scrape:
    """Every worker's metrics (or this process's), then the scrape-time checks."""

    def describe(self) -> list[Metric]:
        return []  # nothing to check at registration: collect() reads files and the database

    def collect(self) -> Iterator[Metric]:
        if MULTIPROCESS:
            yield from MultiProcessCollector(None).collect()
        else:
            yield from REGISTRY.collect()
        failed = GaugeMetricFamily(P + "scrape_check_failed", "A scrape-time check that failed (its values "
                                   "are missing from this scrape).", labels=["check"])
        for name, check in _scrape_checks.items():
            try:
                yield from list(check())  # all or nothing: a half-read check would mislead
            except Exception:  # a failing check must not hide the rest
                failed.add_metric([name], 1)
        yield failed


def allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return json_error(405, "method_not_allowed", f'Method "{request.method}" not allowed.')
    if not allowed(request):
        return json_error(403, "permission_denied", "Metrics are served to the addresses in METRICS_ALLOWED_IPS, or "
                          "with Authorization: Bearer <METRICS_TOKEN>.")
    sample_process()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scrape())  # type: ignore[arg-type]
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)  # every Prometheus reads it


def database_up() -> Iterable[Metric]:
    from central_logger.health import database_ok

    yield gauge("database_up", "PostgreSQL answers (1) or not (0), seen by the worker that answered.",
                1 if database_ok() else 0)


register_scrape("database", database_up)


def background_round_done(loop: str) -> None:
    BACKGROUND_SUCCESS.labels(loop).set(time.time())
