"""Health endpoints (no authentication): liveness, readiness and the seed's /health."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET


def database_ok() -> bool:
    """One bounded round trip (the request's deadline, see central_logger/middleware.py)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True
    except Exception:  # any failure means "not reachable" to a health check
        return False


def spool_state() -> dict[str, Any]:
    from logs import spool

    try:
        stats = spool.spool_stats()
    except Exception as exc:  # an unwritable spool is a readiness failure, not a 500
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": not stats.full, "rows": stats.rows, "bytes": stats.bytes, "max_bytes": stats.max_bytes,
            "full": stats.full, "dead_letters": stats.dead_letters}


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """The seed's health check, with a database check: 200 healthy or 503 unhealthy."""
    ok = database_ok()
    body = {
        "status": "healthy" if ok else "unhealthy",
        "service": "central-logger",
        "environment": settings.ENVIRONMENT,
        "database": "ok" if ok else "unreachable",
    }
    response = JsonResponse(body, status=200 if ok else 503)
    if not ok:
        response["Retry-After"] = str(settings.RETRY_AFTER_SECONDS)
    return response


@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: the database answers and the spool has room. 503 with the reasons otherwise.

    While the database is down ingestion still works (into the spool), but a load balancer
    should prefer an instance that is fully ready.
    """
    db_ok = database_ok()
    spool_info = spool_state()
    reasons = []
    if not db_ok:
        reasons.append("database unreachable")
    if not spool_info["ok"]:
        reasons.append("spool full" if spool_info.get("full") else "spool unavailable")
    body = {
        "status": "ready" if not reasons else "not_ready",
        "service": "central-logger",
        "environment": settings.ENVIRONMENT,
        "database": "ok" if db_ok else "unreachable",
        "spool": {k: v for k, v in spool_info.items() if k != "ok"},
        "reasons": reasons,
    }
    response = JsonResponse(body, status=503 if reasons else 200)
    if reasons:
        response["Retry-After"] = str(settings.RETRY_AFTER_SECONDS)
    return response


@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Never touches the database."""
    return JsonResponse({"status": "alive", "service": "central-logger"})
