"""Central Logger settings.

Every value comes from the environment (or a `.env` file beside manage.py) through
django-environ; `.env.example` documents each variable. Bad values fail loudly at start-up.
"""
from __future__ import annotations

import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from central_logger.postgres.config import configure_postgres

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _bool(name: str, default: bool) -> bool:
    """Strict boolean: anything but true/false/1/0/yes/no/on/off is a start-up error."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


DEBUG = _bool("DEBUG", False)
ENVIRONMENT = env.str("ENVIRONMENT", default="development" if DEBUG else "production")

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off")
    SECRET_KEY = "insecure-development-only-secret-key-change-me"

# API keys are stored as HMAC-SHA256(API_KEY_PEPPER, secret). A separate pepper means rotating
# SECRET_KEY (sessions, CSRF) does not invalidate every issued key, and vice versa.
API_KEY_PEPPER = env.str("API_KEY_PEPPER", default="")
if not API_KEY_PEPPER:
    if not DEBUG:
        raise ImproperlyConfigured("API_KEY_PEPPER is required when DEBUG is off")
    API_KEY_PEPPER = "insecure-development-only-api-key-pepper"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # The admin with our own AdminSite (login throttling, operator console branding).
    "central_logger.apps.OperatorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "tenants",
    "logs",
    "spool",
    "ingestion",
    "metrics",
    "query",
    "retention",
    "console",
]
# Benchmark tooling (bench/README.md) is installed only where a benchmark asks for it.
BENCHMARKS = _bool("BENCHMARKS", False)
if BENCHMARKS:
    INSTALLED_APPS.append("bench")

MIDDLEWARE = [
    "central_logger.middleware.ReadBodyFirstMiddleware",
    "central_logger.middleware.DatabaseDeadlineMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "central_logger.replica.ReplicaMiddleware",
]

ROOT_URLCONF = "central_logger.urls"
WSGI_APPLICATION = "central_logger.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "central_logger" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
# PostgreSQL, the only database of the server: DATABASE_URL, e.g.
# postgres://user:pass@host:5432/central_logger (or a unix socket: postgres://user@/db?host=/dir).
# `make run` and `make test` start an embedded PostgreSQL under var/ when it is not set
# (central_logger/devdb.py).
_database_url = env.str("DATABASE_URL", default="").strip()
if not _database_url:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set: point it at PostgreSQL (postgres://user@host:5432/dbname), or start "
        "the service with `make run`, which starts an embedded PostgreSQL under var/ when none is set.")
DATABASES = {"default": env.db_url_config(_database_url)}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(f"DATABASE_URL must be a PostgreSQL URL (postgres://...), got {_database_url.split(':')[0]}:...")

DB_CONNECT_TIMEOUT = env.int("DB_CONNECT_TIMEOUT", default=2)
DB_POOL = _bool("DB_POOL", True)
DB_POOL_MIN_SIZE = env.int("DB_POOL_MIN_SIZE", default=1)
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=8)
DB_POOL_TIMEOUT = env.float("DB_POOL_TIMEOUT", default=1.0)
# Seconds between a pool's connection attempts while PostgreSQL is away (postgres/pool.py).
DB_RECONNECT_INTERVAL = env.float("DB_RECONNECT_INTERVAL", default=0.25)
# Default statement_timeout of every PostgreSQL connection (reads, admin, commands), in ms;
# 0 = none. Ingestion sets its own, shorter one per transaction (INGEST_DB_TIMEOUT_MS).
DB_STATEMENT_TIMEOUT_MS = env.int("DB_STATEMENT_TIMEOUT_MS", default=5000)
# The metrics rollup's statements are prepared on the server (planned once per connection).
# Set false behind PgBouncer in transaction mode older than 1.21 (no prepared statements).
DB_PREPARED_STATEMENTS = _bool("DB_PREPARED_STATEMENTS", True)
# Budget of PostgreSQL work in one ingestion request (auth included), in ms: past it the logs
# go to the spool. Enforced on the server (SET LOCAL statement_timeout) and on the client
# (central_logger/dbguard.py), well inside the real client's 3-second timeout.
INGEST_DB_TIMEOUT_MS = env.int("INGEST_DB_TIMEOUT_MS", default=1000)
# After a database failure, ingestion goes straight to the spool for this many seconds.
DB_CIRCUIT_OPEN_SECONDS = env.float("DB_CIRCUIT_OPEN_SECONDS", default=2.0)
# A new gunicorn worker opens its pool before accepting requests, waiting at most this long for
# PostgreSQL (central_logger/warmup.py); 0 = no warm-up (the pool opens on the first request).
WORKER_WARMUP_SECONDS = env.float("WORKER_WARMUP_SECONDS", default=1.0)
# A gunicorn worker's youngest GC generation (central_logger/warmup.py tune_gc); 0 = Python's 700.
GC_GEN0_THRESHOLD = env.int("GC_GEN0_THRESHOLD", default=5000)


DB_POOL_OPTIONS = {"min_size": DB_POOL_MIN_SIZE, "max_size": DB_POOL_MAX_SIZE, "timeout": DB_POOL_TIMEOUT,
                   "reconnect_interval": DB_RECONNECT_INTERVAL} if DB_POOL else None
CONN_MAX_AGE = env.int("CONN_MAX_AGE", default=60)  # without the pool only
configure_postgres(DATABASES["default"], connect_timeout=DB_CONNECT_TIMEOUT, pool=DB_POOL_OPTIONS,
                   statement_timeout_ms=DB_STATEMENT_TIMEOUT_MS, conn_max_age=CONN_MAX_AGE)

# Optional streaming replica for the dashboard's reads (list, export, metrics): see
# central_logger/replica.py. Everything else, including every write, uses the primary.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db_url_config(DATABASE_REPLICA_URL)
    configure_postgres(DATABASES["replica"], connect_timeout=DB_CONNECT_TIMEOUT, pool=DB_POOL_OPTIONS,
                       statement_timeout_ms=0, conn_max_age=CONN_MAX_AGE)
    DATABASE_ROUTERS = ["central_logger.replica.ReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------
# Local memory by default; set REDIS_URL to share rate limits and key lookups across processes.
REDIS_URL = env.str("REDIS_URL", default="")
# Keys are prefixed (CACHE_KEY_PREFIX) so several deployments can share one Redis.
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="central-logger")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "central_logger.cache.PooledRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                          "KEY_PREFIX": CACHE_KEY_PREFIX}}

# --- Auth, i18n, static -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# The dashboard's built assets (`npm run build` in dashboard/, base /static/dashboard/), served by
# whitenoise; its index.html is served for every /dashboard/... path by central_logger/dashboard.py.
DASHBOARD_DIST_DIR = BASE_DIR / "dashboard" / "dist"
STATICFILES_DIRS = [("dashboard", DASHBOARD_DIST_DIR)] if DASHBOARD_DIST_DIR.is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Security -------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _bool("TRUST_X_FORWARDED_PROTO", False) else None
SESSION_COOKIE_SECURE = _bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = _bool("SECURE_HSTS_PRELOAD", False)

# --- Dashboard sessions ------------------------------------------------------------------------
# A dashboard sign-in lasts this many seconds (absolute, from sign-in; default 12 h), then the
# user signs in again. Sign-out deletes the session server-side at once.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 60 * 60)
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
# Failed dashboard sign-ins allowed per (username, IP) within the window; then 429 + Retry-After.
DASHBOARD_LOGIN_MAX_ATTEMPTS = env.int("DASHBOARD_LOGIN_MAX_ATTEMPTS", default=5)
DASHBOARD_LOGIN_WINDOW_SECONDS = env.int("DASHBOARD_LOGIN_WINDOW_SECONDS", default=15 * 60)

# --- CORS (the dashboard's origins) ---------------------------------------------------------
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/(api|health)(/.*)?$"
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "content-encoding",
    "idempotency-key",
    "x-api-key",
    "x-csrftoken",
    "x-requested-with",
)
CORS_EXPOSE_HEADERS = ("retry-after",)

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
# Timestamps without an offset are read in this zone (the real client sends naive UTC).
NAIVE_TIMESTAMP_TIMEZONE = env.str("NAIVE_TIMESTAMP_TIMEZONE", default="UTC")
# Seconds a client is told to wait (Retry-After) when the database is unavailable.
RETRY_AFTER_SECONDS = env.int("RETRY_AFTER_SECONDS", default=5)
# last_used_at of an API key is written at most this often (seconds), not on every request.
API_KEY_LAST_USED_INTERVAL = env.int("API_KEY_LAST_USED_INTERVAL", default=60)
# Metrics: read the rollup tables (metrics/rollup.py) rather than scanning the logs.
METRICS_USE_ROLLUPS = _bool("METRICS_USE_ROLLUPS", True)
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

# --- Django REST Framework ------------------------------------------------------------------
REST_FRAMEWORK = {
    # API keys first (their WWW-Authenticate makes failures 401s), then dashboard sessions,
    # which become the same TenantPrincipal with the `read` scope (tenants/session_auth.py).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.resilience.ResilientApiKeyAuthentication",
        "tenants.session_auth.DashboardSessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["central_logger.ratelimit.ApiKeyRateThrottle"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["central_logger.renderers.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["central_logger.parsers.ORJSONParser"],
    "EXCEPTION_HANDLER": "central_logger.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_METADATA_CLASS": "central_logger.metadata.ApiMetadata",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Central Logger API",
    "DESCRIPTION": "Multi-tenant collector for AI workflow run logs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "central_logger.schema.close_objects",
        "central_logger.schema.server_errors",
    ],
    # Stable enum component names for generated dashboard clients.
    "ENUM_NAME_OVERRIDES": {
        "LogStatusEnum": "logs.models.Status",
        "EnvironmentEnum": "logs.models.Environment",
        "BatchItemStatusEnum": ["created", "duplicate", "invalid"],
    },
}

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "psycopg.pool": {"level": "ERROR"}},
}
CSRF_FAILURE_VIEW = "central_logger.errors.csrf_failure"
