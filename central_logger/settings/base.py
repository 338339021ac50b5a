"""Central Logger settings.

Every value comes from the environment (or a `.env` file beside manage.py) through
django-environ; `.env.example` documents each variable. Bad values fail loudly at start-up.
"""
from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from central_logger.envvalues import one_of, required_secret, strict_bool
from central_logger.postgres.config import configure_postgres
from central_logger.requestlog import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def env_bool(name: str, default: bool) -> bool:
    """Strict boolean: anything but true/false/1/0/yes/no/on/off is a start-up error."""
    return strict_bool(env, name, default)


DEBUG = env_bool("DEBUG", False)
ENVIRONMENT = env.str("ENVIRONMENT", default="development" if DEBUG else "production")

# Missing or left at .env.example's placeholder: refused, unless DEBUG (central_logger/envvalues.py).
SECRET_KEY = required_secret(env, "SECRET_KEY", debug=DEBUG,
                             development_default="insecure-development-only-secret-key-change-me")
# API keys are stored as HMAC-SHA256(API_KEY_PEPPER, secret). A separate pepper means rotating
# SECRET_KEY (sessions, CSRF) does not invalidate every issued key, and vice versa.
API_KEY_PEPPER = required_secret(env, "API_KEY_PEPPER", debug=DEBUG,
                                 development_default="insecure-development-only-api-key-pepper")

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
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc as our own static files (no CDN)
    "tenants",
    "logs",
    "spool",
    "ingestion",
    "otel",
    "metrics",
    "query",
    "retention",
    "console",
    "scrubbing",
    "alerts",
    "savedviews",
]
# Benchmark tooling (bench/README.md) is installed only where a benchmark asks for it.
BENCHMARKS = env_bool("BENCHMARKS", False)
if BENCHMARKS:
    INSTALLED_APPS.append("bench")

MIDDLEWARE = [
    # First: the request id (X-Request-ID) for everything below, and the request's log line.
    "central_logger.requestlog.RequestLogMiddleware",
    # Then the Prometheus request counters and timings (central_logger/monitoring.py).
    "central_logger.monitoring.MetricsMiddleware",
    # Then every request's body is read before anything can query (no pooled connection held
    # while a slow body arrives).
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
DB_POOL = env_bool("DB_POOL", True)
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
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)
# Budget of PostgreSQL work in one ingestion request (auth included), in ms: past it the logs
# go to the spool. Enforced on the server (SET LOCAL statement_timeout) and on the client
# (central_logger/dbguard.py), well inside the real client's 3-second timeout.
INGEST_DB_TIMEOUT_MS = env.int("INGEST_DB_TIMEOUT_MS", default=1000)
# Single logs arriving together in one worker share one INSERT and one COMMIT (at most this many
# rows; ingestion/groupcommit.py). 1 = each log its own transaction.
INGEST_GROUP_COMMIT_MAX_ROWS = env.int("INGEST_GROUP_COMMIT_MAX_ROWS", default=64)
# How many such transactions a worker may have in flight at once (each on its own connection).
INGEST_GROUP_COMMIT_SLOTS = env.int("INGEST_GROUP_COMMIT_SLOTS", default=2)
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
# A replica further behind than this (seconds), or unreachable, is skipped (reads go to the
# primary); checked at most once per REPLICA_CHECK_INTERVAL per process, not per request.
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=5.0)
REPLICA_CHECK_INTERVAL = env.float("REPLICA_CHECK_INTERVAL", default=1.0)

# --- Time partitions of workflow_logs (logs/partitions.py): one per `month` or `week` (UTC), the
# current one and LOG_PARTITIONS_AHEAD more kept ahead by a background thread every
# LOG_PARTITION_MAINTENANCE_INTERVAL seconds (0 = none: run `manage.py maintain_partitions`).
LOG_PARTITION_INTERVAL = env.str("LOG_PARTITION_INTERVAL", default="month").strip().lower()
LOG_PARTITIONS_AHEAD = env.int("LOG_PARTITIONS_AHEAD", default=2)
if LOG_PARTITION_INTERVAL not in ("month", "week") or LOG_PARTITIONS_AHEAD < 2:
    raise ImproperlyConfigured("LOG_PARTITION_INTERVAL must be month or week, LOG_PARTITIONS_AHEAD at least 2")
LOG_PARTITION_MAINTENANCE_INTERVAL = env.float("LOG_PARTITION_MAINTENANCE_INTERVAL", default=60.0)
LOG_PARTITION_LOCK_TIMEOUT_MS = env.int("LOG_PARTITION_LOCK_TIMEOUT_MS", default=2000)  # then retried

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
# Where collectstatic puts the static files whitenoise serves (the image builds them in).
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
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
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", False) else None
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

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
    "x-request-id",
)
CORS_EXPOSE_HEADERS = ("retry-after", "x-request-id")

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
    # /api/docs/ and /api/redoc/ load Swagger UI and ReDoc from our static files (the pinned
    # drf-spectacular-sidecar), never from a CDN: they work offline and cannot change under us.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No call to swagger.io's online validator either (the badge would fetch from there).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    # The tags' common prefix, fixed: the OTLP receivers at the root (/v1/traces, not in the
    # schema) would otherwise shorten the detected prefix and rename every tag.
    "SCHEMA_PATH_PREFIX": r"/api/",
    # The tags' common prefix, fixed: the OTLP receivers at the root (/v1/traces, not in the
    # schema) would otherwise shorten the detected prefix and rename every tag.
    "SCHEMA_PATH_PREFIX": r"/api/",
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
        "AlertKindEnum": "alerts.models.Kind", "AlertOperatorEnum": "alerts.models.Operator",
        "AlertChannelTypeEnum": ["webhook", "slack", "email"],
    },
}

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# plain: one human line per event (gunicorn's access log describes requests); json: one JSON object
# per line, with a line per request (id, tenant, route, status, duration): central_logger/requestlog.py.
LOG_FORMAT = one_of("LOG_FORMAT", env.str("LOG_FORMAT", default="plain"), ("plain", "json"))
LOGGING = logging_config(LOG_LEVEL, LOG_FORMAT)
CSRF_FAILURE_VIEW = "central_logger.errors.csrf_failure"
