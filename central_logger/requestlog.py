"""Request ids and structured logs.

Every request gets an id: the caller's `X-Request-ID` when it is a sane token (so a proxy's or a
client's id carries through), else a fresh one. It is echoed in the `X-Request-ID` response
header and attached to every log line written while the request runs.

With `LOG_FORMAT=json` every log line of the service (its own, Django's, gunicorn's) is one JSON
object, and each request adds one line, `"event": "request"`, with its id, tenant slug, route,
method, status and duration. With the default plain format, gunicorn's access log describes
requests instead.

No Django import at module level: gunicorn's config file uses the formatter before Django starts.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import logging
import re
import time
import traceback
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
logger = logging.getLogger("central_logger.request")

# The attributes every LogRecord has; anything else on a record came from `extra=` and is a field.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request_id when inside a
    request, every `extra=` field, and the traceback of an exception as one string."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Django logs its 4xx/5xx lines (django.request) after the middleware has returned, with
        # the request attached: its id is on the request.
        rid = (getattr(record, "request_id", None) or request_id.get()
               or getattr(getattr(record, "request", None), "request_id", None))
        if rid:
            line["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key != "request_id" and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.stack_info:
            line["stack"] = record.stack_info
        return orjson.dumps(line, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def logging_config(level: str, fmt: str) -> dict[str, Any]:
    """Django's LOGGING: every line to stderr, `plain` or `json` (JsonFormatter)."""
    if fmt == "json":
        logging.captureWarnings(True)  # a Python warning is a log line too, not raw text on stderr
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
                       "json": {"()": "central_logger.requestlog.JsonFormatter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": fmt}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.db.backends": {"level": "WARNING"},
                    # The pool's own retries during an outage: the pool logs one line per state
                    # change instead (central_logger/postgres/pool.py).
                    "psycopg.pool": {"level": "ERROR"},
                    # Python warnings, in the same format (with captureWarnings, json only).
                    "py.warnings": {"handlers": ["console"], "propagate": False}},
    }


def route_of(request: HttpRequest) -> str:
    """The URL pattern that served the request (`api/v1/logs/<uuid:log_id>`), never the raw path:
    a bounded set of values, fit for a metric label. `unmatched` for a path no route knows."""
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return "unmatched"
    route = _REGEX_GROUP.sub(r"<\1>", match.route).lstrip("^").rstrip("$")  # DRF routers use regexes
    return "/" + route


def tenant_of(request: HttpRequest) -> str | None:
    """The slug of the client the request acted for (API key or dashboard session), without
    loading anything that the request itself did not load."""
    from django.utils.functional import empty

    user = request.__dict__.get("user")
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is empty:
        return None
    client = getattr(wrapped, "client", None)
    return getattr(client, "slug", None)


def incoming_id(request: HttpRequest) -> str:
    offered = request.META.get("HTTP_X_REQUEST_ID", "")
    return offered if _ACCEPTED_ID.match(offered) else uuid.uuid4().hex


class RequestLogMiddleware:
    """First in the chain: the request id for everything below it, and the request's log line."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from django.conf import settings

        self.get_response = get_response
        self.log_requests = settings.LOG_FORMAT == "json"

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = request.request_id = incoming_id(request)  # type: ignore[attr-defined]
        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[HEADER] = rid
            if self.log_requests:
                self._log(request, response, time.perf_counter() - started)
            return response
        finally:
            request_id.reset(token)

    @staticmethod
    def _log(request: HttpRequest, response: HttpResponse, seconds: float) -> None:
        from central_logger.client_ip import client_ip

        logger.info("request", extra={
            "event": "request", "request_id": request_id.get(), "method": request.method,
            "route": route_of(request), "path": request.path, "status": response.status_code,
            "duration_ms": round(seconds * 1000, 2), "tenant": tenant_of(request), "client_ip": client_ip(request),
        })
