"""The one error envelope of the API, and everything that produces it.

Every error answer from `/api/` and `/health` has the shape

    {"error": {"code": "<snake_case>", "message": "<human sentence>", "details": {...}}}

`api_exception_handler` (DRF) and the Django-level handlers at the bottom (404, 500, 400, CSRF)
all build it with `error_body`, so no code path answers with an HTML page or a stack trace.
"""
from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from central_logger.renderers import dumps

logger = logging.getLogger("central_logger.errors")


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def json_error(status_code: int, code: str, message: str, details: dict[str, Any] | None = None,
               headers: dict[str, str] | None = None) -> HttpResponse:
    """A plain Django response carrying the envelope (for code paths outside DRF)."""
    response = HttpResponse(dumps(error_body(code, message, details)), status=status_code,
                            content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


class ApiError(exceptions.APIException):
    """An API error with an explicit code, message and details."""

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None,
                 status_code: int | None = None) -> None:
        super().__init__(detail=message, code=code or self.default_code)
        self.error_code = code or self.default_code
        self.details = details or {}
        if status_code is not None:
            self.status_code = status_code


class PayloadTooLarge(ApiError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class LengthRequired(ApiError):
    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_code = "length_required"


class BadRequest(ApiError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"


class UnsupportedMediaType(ApiError):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_code = "unsupported_media_type"


class ServiceUnavailable(ApiError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "service_unavailable"


_CODES = {
    exceptions.ParseError: "invalid_json",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "validation_error",
}


def _message_of(detail: Any) -> str:
    if isinstance(detail, (list, tuple)) and detail:
        return _message_of(detail[0])
    if isinstance(detail, dict):
        return "Invalid input."
    return str(detail)


def database_unavailable() -> Response:
    retry = str(settings.RETRY_AFTER_SECONDS)
    return Response(
        error_body("database_unavailable", "The database is unavailable; retry later.",
                   {"retry_after": int(retry)}),
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": retry},
    )


def _as_drf(exc: Exception) -> Exception:
    """Django's own exceptions as the DRF ones they mean."""
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    return exc


def _api_error(exc: ApiError) -> Response:
    headers = {}
    if exc.status_code in (429, 503):
        headers["Retry-After"] = str(exc.details.get("retry_after", settings.RETRY_AFTER_SECONDS))
    return Response(error_body(exc.error_code, str(exc.detail), exc.details), status=exc.status_code, headers=headers)


def _drf_error(exc: exceptions.APIException) -> Response:
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    details: dict[str, Any] = {}
    if isinstance(exc, exceptions.Throttled):
        wait = max(int(exc.wait or 1) if exc.wait is not None else 1, 1)
        headers["Retry-After"] = str(wait)
        details["retry_after"] = wait
    code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), "error")
    message = _message_of(exc.detail)
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        if isinstance(exc.detail, dict):
            message = "Invalid input: " + ", ".join(sorted(details))
    return Response(error_body(code, message, details), status=exc.status_code, headers=headers)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF exception handler: every exception becomes the envelope, never a 500 page."""
    exc = _as_drf(exc)
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("database unavailable: %s", exc.__class__.__name__)
        return database_unavailable()
    if isinstance(exc, ApiError):
        return _api_error(exc)
    if isinstance(exc, exceptions.APIException):
        return _drf_error(exc)
    if isinstance(exc, DataError):
        # A value the database cannot store or compare (out of range, bad encoding): the request's
        # fault, and retrying it would fail the same way, so a 400 rather than a retryable 503.
        logger.warning("database rejected a value: %s", exc.__class__.__name__)
        return Response(error_body("invalid_value", "A value in the request cannot be stored or compared."),
                        status=status.HTTP_400_BAD_REQUEST)

    if isinstance(exc, DatabaseError):
        # Statement timeouts and similar: retryable, and not the client's fault.
        logger.warning("database error: %s", exc.__class__.__name__)
        return database_unavailable()

    logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
    return Response(error_body("internal_error", "Internal server error."),
                    status=status.HTTP_500_INTERNAL_SERVER_ERROR)


# --- Django-level handlers (outside DRF views) --------------------------------------------------

def _wants_html(request: HttpRequest) -> bool:
    return request.path.startswith(("/admin", "/dashboard"))


def disallowed_host(request: HttpRequest) -> HttpResponse:
    """A Host this deployment does not serve: say which, and what to set (every path, the admin's
    included: the operator setting up a deployment is the one who sees it)."""
    host = (request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME") or "")[:200]
    return json_error(400, "disallowed_host",
                      f"The host {host!r} is not in ALLOWED_HOSTS: add it to the ALLOWED_HOSTS setting "
                      f"(comma-separated, e.g. ALLOWED_HOSTS=localhost,{host.rsplit(':', 1)[0] or 'logs.example.com'}) "
                      "and restart the service.",
                      {"host": host, "setting": "ALLOWED_HOSTS"})


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    from django.core.exceptions import DisallowedHost
    from django.views.defaults import bad_request

    if isinstance(exception, DisallowedHost):
        return disallowed_host(request)
    if _wants_html(request):
        return bad_request(request, exception)
    return json_error(400, "bad_request", "Bad request.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    from django.views.defaults import permission_denied

    if _wants_html(request):
        return permission_denied(request, exception)
    return json_error(403, "permission_denied", "You do not have permission to perform this action.")


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    from django.views.defaults import page_not_found

    if _wants_html(request):
        return page_not_found(request, exception)
    return json_error(404, "not_found", "Not found.")


def handler500(request: HttpRequest) -> HttpResponse:
    from django.views.defaults import server_error

    if _wants_html(request):
        return server_error(request)
    return json_error(500, "internal_error", "Internal server error.")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return json_error(403, "csrf_failed", "CSRF verification failed.", {"reason": reason})
