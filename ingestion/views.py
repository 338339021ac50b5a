"""POST /api/v1/logs and /api/v1/logs/batch: read the body, hand it to ingestion/services.py."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from central_logger.schema import error_responses
from ingestion import services
from ingestion.body import read_batch_body, read_json_body
from ingestion.serializers import (
    BatchResultSerializer,
    ConnectivityCheckInSerializer,
    ConnectivityCheckSerializer,
    IngestedLogSerializer,
    LogBatchInSerializer,
    LogInSerializer,
)
from tenants.permissions import CanIngest

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"},
    OpenApiParameter.HEADER, required=False,
    description="Retry-safe key for this log (same as the body's event_id; the header wins). "
                "Resending the same key returns the original id with 200 and stores nothing. "
                "1-200 characters, not only whitespace.",
)


def _api_key_id(request: Request) -> int | None:
    api_key = getattr(request.user, "api_key", None)
    return api_key.pk if api_key is not None else None


class IngestLogActions:
    """The write actions of the logs collection (joined with the read actions into one viewset
    on /api/v1/logs by central_logger/api.py). Every action needs the `ingest` scope."""

    action_permissions: dict[str, Any] = {"create": CanIngest, "batch": CanIngest}
    # Only these may authenticate against the outage key snapshot while PostgreSQL is down
    # (tenants/resilience.py): ingestion keeps accepting logs into the spool; reads never do.
    offline_auth_actions = frozenset({"create", "batch"})

    @extend_schema(
        operation_id="logs_ingest",
        summary="Ingest one log",
        request=PolymorphicProxySerializer(
            component_name="LogOrConnectivityCheck", serializers=[LogInSerializer, ConnectivityCheckInSerializer],
            resource_type_field_name=None),
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: IngestedLogSerializer,
            200: OpenApiResponse(
                PolymorphicProxySerializer(component_name="IngestedLogOrConnectivityCheck",
                                           serializers=[IngestedLogSerializer, ConnectivityCheckSerializer],
                                           resource_type_field_name=None),
                description="Duplicate (already stored, `duplicate: true`), or the answer to a connectivity check."),
            **error_responses(400, 401, 403, 411, 413, 415, 429, 503),
            202: OpenApiResponse(IngestedLogSerializer, description="Accepted into the durable spool while the "
                                 "database is unavailable (`spooled: true`); stored in the database later, "
                                 "with this id."),
        },
    )
    def create(self, request: Request) -> Response:
        outcome = services.log_ingest(
            client=self.client, api_key_id=_api_key_id(request),  # type: ignore[attr-defined]
            body=read_json_body(request, max_bytes=settings.MAX_LOG_BYTES),
            idempotency_key=request.META.get("HTTP_IDEMPOTENCY_KEY"))
        return Response(outcome.data, status=outcome.status)

    @extend_schema(
        operation_id="logs_ingest_batch",
        summary="Ingest a batch of logs",
        request=LogBatchInSerializer,
        responses={
            201: BatchResultSerializer,
            200: OpenApiResponse(BatchResultSerializer, description="Every log was a duplicate."),
            207: OpenApiResponse(BatchResultSerializer, description="Some logs were invalid; the valid ones are stored."),
            **error_responses(400, 401, 403, 411, 413, 415, 429, 503),
            202: OpenApiResponse(BatchResultSerializer, description="Accepted into the durable spool while the "
                                 "database is unavailable (`spooled: true`)."),
        },
    )
    @action(detail=False, methods=["post"], url_path="batch")
    def batch(self, request: Request) -> Response:
        outcome = services.log_ingest_batch(
            client=self.client, api_key_id=_api_key_id(request),  # type: ignore[attr-defined]
            body=read_batch_body(request, max_bytes=settings.MAX_BATCH_BYTES))
        return Response(outcome.data, status=outcome.status)
