"""Request-wide bounds on database waits (see central_logger/dbguard.py)."""
from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from central_logger.dbguard import db_deadline

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
