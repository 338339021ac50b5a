"""Settings of the apps (ingestion, spool, metrics, retention, rate limits, alerts, scrubbing, ...).

Read from the environment like every setting (central_logger/settings/base.py has the rules);
`.env.example` documents each variable.
"""
from __future__ import annotations

import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from central_logger.envvalues import ip_networks
from central_logger.settings.base import BASE_DIR, REDIS_URL, SECRET_KEY, env, env_bool

# --- Scrubbing (scrubbing/): secrets and personal data never stored -----------------------------
# Off only to measure its cost (bench/ab.sh) or to diagnose: logs are then stored as sent.
SCRUBBING_ENABLED = env_bool("SCRUBBING_ENABLED", True)
# True: tenants cannot turn the default rules off (a PUT that tries is a 400; rules turned off
# before are applied anyway).
SCRUBBING_DEFAULTS_LOCKED = env_bool("SCRUBBING_DEFAULTS_LOCKED", False)
# The key of the e-mail hashes ([email:...]) of tenants that choose them, mixed with each
# tenant's id so two tenants never share a token. Changing it changes every future token.
SCRUBBING_HASH_KEY = env.str("SCRUBBING_HASH_KEY", default="") or f"scrubbing:{SECRET_KEY}"
# Each process re-reads a tenant's scrubbing settings at most this often (seconds): a change
# applies everywhere within it (at once in the process that made it).
SCRUBBING_SETTINGS_MAX_AGE = env.float("SCRUBBING_SETTINGS_MAX_AGE", default=1.0)

# --- Ingestion limits ------------------------------------------------------------------------
MAX_LOG_BYTES = env.int("MAX_LOG_BYTES", default=1024 * 1024)
MAX_BATCH_BYTES = env.int("MAX_BATCH_BYTES", default=10 * 1024 * 1024)
MAX_BATCH_SIZE = env.int("MAX_BATCH_SIZE", default=100)
MAX_JSON_DEPTH = env.int("MAX_JSON_DEPTH", default=64)
# Bodies ReadBodyFirstMiddleware reads before anything else runs (ingestion has its own limits).
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BATCH_BYTES
# The HTTP server (gworker.py): seconds for headers, silence in a body, all (408); bytes held.
REQUEST_HEADER_TIMEOUT = env.float("REQUEST_HEADER_TIMEOUT", default=10.0)
REQUEST_BODY_TIMEOUT = env.float("REQUEST_BODY_TIMEOUT", default=10.0)
REQUEST_TIMEOUT = env.float("REQUEST_TIMEOUT", default=60.0)
REQUEST_BUFFER_BYTES = env.int("REQUEST_BUFFER_BYTES", default=64 * 1024 * 1024)
# OpenTelemetry (POST /v1/traces, /v1/logs): an export's size, also after decompression, and
# its number of spans or log records.
OTLP_MAX_BYTES = env.int("OTLP_MAX_BYTES", default=16 * 1024 * 1024)
OTLP_MAX_ITEMS = env.int("OTLP_MAX_ITEMS", default=20_000)
# The spans of one trace shown with its run (GET /api/v1/logs/{id}/trace).
OTLP_TRACE_READ_LIMIT = env.int("OTLP_TRACE_READ_LIMIT", default=10_000)
# Timestamps without an offset are read in this zone (the real client sends naive UTC).
NAIVE_TIMESTAMP_TIMEZONE = env.str("NAIVE_TIMESTAMP_TIMEZONE", default="UTC")
# Seconds a client is told to wait (Retry-After) when the database is unavailable.
RETRY_AFTER_SECONDS = env.int("RETRY_AFTER_SECONDS", default=5)
# last_used_at of an API key is written at most this often (seconds), not on every request.
API_KEY_LAST_USED_INTERVAL = env.int("API_KEY_LAST_USED_INTERVAL", default=60)
# Metrics: read the rollup tables (metrics/rollup.py) rather than scanning the logs.
METRICS_USE_ROLLUPS = env_bool("METRICS_USE_ROLLUPS", True)
# Up to this many logs in a metrics answer, p50/p95 are exact (percentile_cont on the table);
# above it they come from the rollup's histogram, within 2 %.
METRICS_EXACT_PERCENTILE_LIMIT = env.int("METRICS_EXACT_PERCENTILE_LIMIT", default=5000)
# Per app process, the summed stored rollup of recent metrics requests is kept in memory under
# the client's rollup version (exact: any change to the client's rollup changes the version);
# bounded by the rollup rows those sums stand for (~200 bytes each). 0 = off.
METRICS_ROLLUP_CACHE_ROWS = env.int("METRICS_ROLLUP_CACHE_ROWS", default=500_000)
# Seconds between folds of newly inserted logs into the metrics rollup, per app process (a
# background thread; metrics/flusher.py); 0 = none (then run `manage.py flush_rollups`).
# Metrics are exact either way: reads add the logs not folded in yet.
ROLLUP_FLUSH_INTERVAL = env.float("ROLLUP_FLUSH_INTERVAL", default=1.0)
# Client-side deadline of one flush round, seconds.
ROLLUP_FLUSH_DEADLINE = env.float("ROLLUP_FLUSH_DEADLINE", default=30.0)
# Seconds between rounds of the search indexer (logs/search_indexer.py; one runner across
# processes); 0 = none (then run `manage.py index_search --follow`). Logs are searchable once
# indexed: within about this interval of being stored, under normal load.
SEARCH_INDEX_INTERVAL = env.float("SEARCH_INDEX_INTERVAL", default=1.0)
# One search's time budget, ms: a search that needs longer is cut and answers
# 422 search_too_broad (narrow the dates or the words), never a database outage.
SEARCH_TIME_BUDGET_MS = env.int("SEARCH_TIME_BUDGET_MS", default=1500)
# Seconds an API-key row stays in the shared cache (tenants/keycache.py); revocation is still
# immediate for every process sharing the cache. Off (0) by default without REDIS_URL, because
# a per-process cache cannot hear a revocation made by another process.
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=5 if REDIS_URL else 0)

# --- Read API -----------------------------------------------------------------------------------
# List totals are exact up to this many matching logs; above it `total` is the planner's
# estimate and `total_is_exact` is false, so a page never counts millions of rows.
LIST_COUNT_EXACT_LIMIT = env.int("LIST_COUNT_EXACT_LIMIT", default=10_000)

# --- Operator console (Django admin) ---------------------------------------------------------
# Failed admin logins allowed per (username, client IP) within ADMIN_LOGIN_LOCKOUT_SECONDS; the
# next attempt is refused (HTTP 429) until the lockout expires, even with the right password.
# Counted in the cache: set REDIS_URL when running more than one process.
ADMIN_LOGIN_MAX_ATTEMPTS = env.int("ADMIN_LOGIN_MAX_ATTEMPTS", default=5)
ADMIN_LOGIN_LOCKOUT_SECONDS = env.int("ADMIN_LOGIN_LOCKOUT_SECONDS", default=900)
if ADMIN_LOGIN_MAX_ATTEMPTS < 1 or ADMIN_LOGIN_LOCKOUT_SECONDS < 1:
    raise ImproperlyConfigured("ADMIN_LOGIN_MAX_ATTEMPTS and ADMIN_LOGIN_LOCKOUT_SECONDS must be positive")

# --- Retention --------------------------------------------------------------------------------
# Days of logs kept for a client whose own retention_days is empty; empty = keep forever.
# A client's own retention_days always wins (see `manage.py prune_logs`).
_default_retention = env.str("DEFAULT_RETENTION_DAYS", default="").strip()
try:
    DEFAULT_RETENTION_DAYS: int | None = int(_default_retention) if _default_retention else None
except ValueError:
    raise ImproperlyConfigured(f"DEFAULT_RETENTION_DAYS must be a whole number of days or empty, got {_default_retention!r}") from None
if DEFAULT_RETENTION_DAYS is not None and DEFAULT_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("DEFAULT_RETENTION_DAYS must be at least 1 (or empty to keep logs forever)")

# --- Alerts (alerts/; each variable is explained in the README's Settings and .env.example) ------
ALERT_EVAL_INTERVAL_SECONDS = env.float("ALERT_EVAL_INTERVAL_SECONDS", default=60.0)  # 0: evaluate_alerts
ALERT_DELIVERY_INTERVAL_SECONDS = env.float("ALERT_DELIVERY_INTERVAL_SECONDS", default=1.0)  # 0: deliver_alerts
ALERT_DELIVERY_TIMEOUT_SECONDS = env.float("ALERT_DELIVERY_TIMEOUT_SECONDS", default=5.0)
ALERT_DELIVERY_BACKOFF_SECONDS, ALERT_DELIVERY_RETRY_SECONDS = env.float("ALERT_DELIVERY_BACKOFF_SECONDS", default=5.0), env.float("ALERT_DELIVERY_RETRY_SECONDS", default=3600.0)
ALERT_ALLOW_PRIVATE_TARGETS = env_bool("ALERT_ALLOW_PRIVATE_TARGETS", False)  # metadata addresses: never
PUBLIC_URL = env.str("PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")  # links in notifications
EMAIL_HOST, EMAIL_PORT = env.str("EMAIL_HOST", default="localhost"), env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER, EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_USER", default=""), env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS, EMAIL_USE_SSL, EMAIL_TIMEOUT = env_bool("EMAIL_USE_TLS", False), env_bool("EMAIL_USE_SSL", False), env.float("EMAIL_TIMEOUT", default=10.0)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="central-logger@localhost")

# --- Durable spool (spool/store.py) ---------------------------------------------------------
# Where ingestion keeps logs while PostgreSQL is unavailable (a SQLite file; keep it on a
# persistent volume). Logs there survive restarts and are drained automatically.
SPOOL_PATH = env.str("SPOOL_PATH", default=str(BASE_DIR / "var" / "spool.sqlite3"))
# Cap on the spooled logs' size; past it ingestion answers 503 + Retry-After.
SPOOL_MAX_BYTES = env.int("SPOOL_MAX_BYTES", default=512 * 1024 * 1024)
# Seconds between the background drainer's checks (per worker process); 0 = no background
# drainer (then run `manage.py drain_spool`).
SPOOL_DRAIN_INTERVAL = env.float("SPOOL_DRAIN_INTERVAL", default=1.0)
SPOOL_DRAIN_BATCH = env.int("SPOOL_DRAIN_BATCH", default=500)
# Client-side deadline of one drain round, seconds.
SPOOL_DRAIN_DEADLINE = env.float("SPOOL_DRAIN_DEADLINE", default=30.0)
# Seconds a writer waits for the spool's lock before giving up.
SPOOL_BUSY_TIMEOUT = env.float("SPOOL_BUSY_TIMEOUT", default=1.0)
# The last known good API keys (digests only), so known keys still authenticate while the
# database is down (tenants/resilience.py): a local SQLite file, beside the spool by default.
KEY_SNAPSHOT_PATH = env.str("KEY_SNAPSHOT_PATH", default=str(Path(SPOOL_PATH).with_name("key_snapshot.sqlite3")))
# How often (seconds) a worker re-saves a known key to the outage snapshot, at most.
KEY_SNAPSHOT_INTERVAL = env.int("KEY_SNAPSHOT_INTERVAL", default=60)
# Seconds between checks of the snapshot against PostgreSQL (other hosts' revocations); 0 = off.
KEY_SNAPSHOT_SYNC_INTERVAL = env.float("KEY_SNAPSHOT_SYNC_INTERVAL", default=10.0)

# --- Rate limits (central_logger/ratelimit.py) ---------------------------------------------------
# Per API key, "<count>/<sec|min|hour|day>"; empty = unlimited. Shared across processes only with
# REDIS_URL (local memory is per process).
RATE_LIMIT_INGEST = env.str("RATE_LIMIT_INGEST", default="6000/min")
RATE_LIMIT_READ = env.str("RATE_LIMIT_READ", default="1200/min")
# Failed API-key authentications allowed per client address (IPv6: per /64); past it, keys this
# host has not verified before are refused with 429 before any lookup (tenants/auth_failures.py).
# Same syntax; empty, 0 or off = no limit.
AUTH_FAILURE_RATE = env.str("AUTH_FAILURE_RATE", default="60/min")
_RATE_SYNTAX = r"^\s*(|none|0|off|\d+\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day))\s*$"
for _name in ("RATE_LIMIT_INGEST", "RATE_LIMIT_READ", "AUTH_FAILURE_RATE"):
    if not re.match(_RATE_SYNTAX, globals()[_name].lower()):
        raise ImproperlyConfigured(f"{_name} must look like 6000/min (sec, min, hour, day) or be empty")
# Reverse proxies in front of the app that append the client's address to X-Forwarded-For
# (nginx in docker-compose.yml: 1). 0: the peer address (REMOTE_ADDR) is the client. Only set it
# when the app is reachable through those proxies alone: a client can write the header too.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Prometheus metrics (/metrics; central_logger/monitoring.py) -------------------------------------
# Served to the addresses (or networks) in METRICS_ALLOWED_IPS, comma-separated (the client address
# as TRUSTED_PROXY_COUNT defines it; default: this host only), and to any request with
# `Authorization: Bearer <METRICS_TOKEN>` when a token is set. Empty list and no token: nobody.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="").strip()
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
METRICS_ALLOWED_NETWORKS = ip_networks("METRICS_ALLOWED_IPS", METRICS_ALLOWED_IPS)
