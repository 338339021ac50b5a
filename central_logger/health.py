"""Health endpoints (no authentication)."""
from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True
    except Exception:  # any failure means "not reachable" to a health check
        return False


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
def live(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Never touches the database."""
    return JsonResponse({"status": "alive", "service": "central-logger"})
