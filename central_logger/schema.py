"""OpenAPI pieces shared by every endpoint: the API-key security schemes and the error envelope.

Imported from `central_logger/urls.py` so drf-spectacular registers the extension before any
schema is generated (by `/api/schema/` or `manage.py spectacular`).
"""
from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import is_list_serializer
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """`tenants.authentication.ApiKeyAuthentication`: `X-API-Key: clk_...` or `Authorization: Bearer clk_...`."""

    target_class = "tenants.authentication.ApiKeyAuthentication"
    match_subclasses = True  # also tenants.resilience.ResilientApiKeyAuthentication (the configured class)
    name = ["ApiKeyAuth", "BearerAuth"]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        return [{"ApiKeyAuth": []}, {"BearerAuth": []}]  # either one (OR)

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {"type": "apiKey", "in": "header", "name": "X-API-Key",
             "description": "An API key `clk_<prefix>_<secret>` (issue one with `manage.py issue_api_key`)."},
            {"type": "http", "scheme": "bearer", "bearerFormat": "clk_<prefix>_<secret>",
             "description": "The same API key as a bearer token."},
        ]


class EnvelopedListAutoSchema(AutoSchema):
    """Our `list` actions answer `{"data": [...], "pagination": {...}}`, one object, not a bare
    array: only a `many=True` serializer makes a response an array."""

    def _is_list_view(self, serializer: Any = None) -> bool:
        if serializer is None:
            serializer = self.get_response_serializers()
        if isinstance(serializer, dict) and serializer:
            serializer = {str(code): s for code, s in serializer.items()}
            serializer = serializer[min(serializer)]
        return is_list_serializer(serializer)


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable snake_case code, e.g. validation_error, not_found.")
    message = serializers.CharField(help_text="A human sentence.")
    details = serializers.DictField(
        help_text="Context. For validation errors: each offending field or query parameter mapped to its messages.")


class ErrorEnvelopeSerializer(serializers.Serializer):
    """The one error shape of the API: `{"error": {"code", "message", "details"}}`."""

    error = ErrorBodySerializer()

    class Meta:
        ref_name = "ErrorEnvelope"


_ERROR_DESCRIPTIONS = {
    400: "Invalid input; `details` names each bad parameter.",
    401: "Missing, malformed, unknown, revoked or expired API key.",
    403: "The API key lacks the scope this endpoint needs.",
    404: "Not found (also another tenant's object).",
    405: "Method not allowed.",
    411: "Length required.",
    413: "Payload too large.",
    415: "Unsupported media type.",
    422: "search_too_broad: the search (`q`) took too long; narrow the date range or the words.",
    429: "Rate limited; see Retry-After.",
    503: "Database unavailable; see Retry-After.",
}
READ_ERRORS = (400, 401, 403, 429, 503)
# The list and the export: a search can be too broad.
SEARCH_ERRORS = (400, 401, 403, 422, 429, 503)


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The error envelope as the documented response for each status code."""
    return {code: OpenApiResponse(ErrorEnvelopeSerializer, description=_ERROR_DESCRIPTIONS[code]) for code in codes}


# Answered by the HTTP server itself (central_logger/gworker.py) before any view runs, on any path.
SERVER_ERRORS = {
    408: "The request did not arrive in time (REQUEST_HEADER_TIMEOUT, REQUEST_BODY_TIMEOUT, REQUEST_TIMEOUT).",
    414: "The request line is longer than 4094 bytes.",
    431: "A header is longer than 8190 bytes, or there are more than 100.",
}


def server_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the errors the HTTP server answers before any view
    (the same envelope), on every operation."""
    envelope = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                for code, description in SERVER_ERRORS.items():
                    operation["responses"].setdefault(str(code), {"content": envelope, "description": description})
    return result


def close_objects(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook for what serializers cannot say: a connectivity check
    is `{"test": true}` plus only the listed fields (with any other field, or `test` not true,
    the body is an ordinary log), so its object is closed and `test` is the constant true."""
    component = result.get("components", {}).get("schemas", {}).get("ConnectivityCheckInRequest")
    if component is not None:
        component["additionalProperties"] = False
        component["properties"]["test"] = {"type": "boolean", "enum": [True],
                                           "description": component["properties"]["test"].get("description", "")}
    return result
