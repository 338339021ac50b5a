"""Health endpoints (no authentication): liveness, readiness and the seed's /health.

Readiness checks beyond the database are registered by the apps that own what they check
(`register_readiness_check`, from their AppConfig.ready()): this module knows none of them.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

# name -> check. A check returns a dict with "ok" (bool), "reason" (why not ready, when not ok),
# optionally "warning" (something an operator should see that does not make the instance
# unready) and any details, which readiness shows under the check's name.
ReadinessCheck = Callable[[], dict[str, Any]]
_checks: dict[str, tuple[ReadinessCheck, bool]] = {}


def register_readiness_check(name: str, check: ReadinessCheck, *, needs_database: bool = False) -> None:
    """`check` runs at every /health/ready; one that `needs_database` is skipped while the
    database is unreachable (it would only wait for it again, past a health check's timeout)."""
    _checks[name] = (check, needs_database)


def database_ok() -> bool:
    """One bounded round trip (the request's deadline, see central_logger/middleware.py)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True
    except Exception:  # any failure means "not reachable" to a health check
        return False


def _unavailable(body: dict[str, Any], ok: bool) -> JsonResponse:
    response = JsonResponse(body, status=200 if ok else 503)
    if not ok:
        response["Retry-After"] = str(settings.RETRY_AFTER_SECONDS)
    return response


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """The seed's health check, with a database check: 200 healthy or 503 unhealthy."""
    ok = database_ok()
    return _unavailable({
        "status": "healthy" if ok else "unhealthy",
        "service": "central-logger",
        "environment": settings.ENVIRONMENT,
        "database": "ok" if ok else "unreachable",
    }, ok)


def _run(check: ReadinessCheck) -> dict[str, Any]:
    try:
        return check()
    except Exception as exc:  # a failing check is a readiness failure, not a 500
        return {"ok": False, "reason": "check failed", "error": exc.__class__.__name__}


@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: the database answers and every registered check passes (the spool has room,
    ...). 503 with the reasons otherwise.

    While the database is down ingestion still works (into the spool), but a load balancer
    should prefer an instance that is fully ready.
    """
    db_ok = database_ok()
    reasons = [] if db_ok else ["database unreachable"]
    body: dict[str, Any] = {"status": "ready", "service": "central-logger", "environment": settings.ENVIRONMENT,
                            "database": "ok" if db_ok else "unreachable"}
    warnings = []
    for name, (check, needs_database) in _checks.items():
        if needs_database and not db_ok:
            body[name] = {"checked": False}
            continue
        result = _run(check)
        if not result.get("ok"):
            reasons.append(result.get("reason") or f"{name} not ready")
        if result.get("warning"):
            warnings.append(result["warning"])
        body[name] = {k: v for k, v in result.items() if k not in ("ok", "reason", "warning")}
    body["reasons"] = reasons
    body["warnings"] = warnings
    if reasons:
        body["status"] = "not_ready"
    return _unavailable(body, not reasons)


@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Never touches the database."""
    return JsonResponse({"status": "alive", "service": "central-logger"})
