"""Middleware of every request: the body is read first; database waits are bounded (see
central_logger/dbguard.py)."""
from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, UnreadablePostError

from central_logger.dbguard import db_deadline
from central_logger.errors import json_error
from central_logger.gworker import RequestTimedOut

INGEST_PATHS = frozenset({"/api/v1/logs", "/api/v1/logs/batch", "/v1/traces", "/v1/logs"})
HEALTH_DEADLINE_SECONDS = 1.0
# The client-side deadline trails the server-side statement_timeout a little, so a merely slow
# statement is cancelled cleanly by the server (the connection stays usable) and the client-side
# cut-off (which must close the connection) only happens when the server cannot answer at all.
CLIENT_GRACE_SECONDS = 0.25


def request_db_budget(request: HttpRequest) -> float | None:
    """Seconds of PostgreSQL waiting this request may spend in total."""
    if request.method == "POST" and request.path in INGEST_PATHS:
        # Ingestion: past this the logs go to the spool, so the answer stays inside the client's 3 s.
        return settings.INGEST_DB_TIMEOUT_MS / 1000 + CLIENT_GRACE_SECONDS
    if request.path.startswith("/health"):
        return HEALTH_DEADLINE_SECONDS
    if settings.DB_STATEMENT_TIMEOUT_MS:
        # Everything else: the server-side statement_timeout, plus a margin; the client-side
        # bound only matters when the server cannot enforce its own (frozen, partitioned).
        return settings.DB_STATEMENT_TIMEOUT_MS / 1000 + 1.0
    return None


class DatabaseDeadlineMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with db_deadline(request_db_budget(request)):
            return self.get_response(request)


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class ReadBodyFirstMiddleware:
    """Reads the whole request body before anything else runs (the first middleware), so that no
    request holds a database connection - for its key, its session, anything - while its body is
    still arriving (issue 19: twenty clients sending their bodies slowly held every pooled
    connection, and reads answered 503).

    Under gunicorn the worker has normally buffered the body already (central_logger/gworker.py)
    and this is a copy in memory; under any other server, or for the bodies the worker streams,
    this is what holds the rule. A body declared larger than DATA_UPLOAD_MAX_MEMORY_SIZE is left
    unread: the views refuse it (413) before reading. A body that stops arriving is a 408."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if 0 < _declared_length(request) <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            try:
                request.body  # noqa: B018 - read and kept by Django for whoever reads it next
            except UnreadablePostError as exc:
                if isinstance(exc.__cause__, RequestTimedOut):
                    return json_error(408, "request_timeout", "The request body did not arrive in time.")
                return json_error(400, "bad_request", "The request body could not be read.")
        return self.get_response(request)
