"""HTTP endpoints over workflow logs. Thin: read input, call a service or selector, answer."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from central_logger.errors import BadRequest
from logs import services
from logs.body import read_json_body
from logs.models import WorkflowLog
from logs.serializers import (
    BatchResultSerializer,
    ConnectivityCheckSerializer,
    IngestedLogSerializer,
    log_summary,
)
from tenants.permissions import CanIngest, CanRead
from tenants.scoping import TenantScopedViewSet, request_client

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Retry-safe key for this log (same as the body's event_id; the header wins). "
                "Resending the same key returns the original id with 200 and stores nothing.",
)
# Fields a connectivity check may carry (the real client's ping: client_id, environment, test).
CONNECTIVITY_FIELDS = frozenset({"client_id", "environment", "test", "workflow_version"})


def is_connectivity_check(body: dict[str, Any]) -> bool:
    return body.get("test") is True and set(body) <= CONNECTIVITY_FIELDS


class LogViewSet(TenantScopedViewSet):
    """Workflow logs of the caller's client."""

    scoped_model = WorkflowLog
    # Scope needed per action; ingestion and reading are separate key capabilities.
    write_actions = frozenset({"create", "batch"})

    def get_permissions(self) -> list[Any]:
        scope = CanIngest if self.action in self.write_actions else CanRead
        return [IsAuthenticated(), scope()]

    @extend_schema(
        operation_id="logs_ingest",
        summary="Ingest one log",
        request=inline_serializer("LogIn", fields={
            "environment": serializers.CharField(), "executed_at": serializers.CharField(),
            "status": serializers.CharField(), "ticket_id": serializers.CharField(required=False),
        }),
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: IngestedLogSerializer,
            200: OpenApiResponse(IngestedLogSerializer, description="Duplicate (already stored), or a connectivity check."),
        },
    )
    def create(self, request: Request) -> Response:
        body = read_json_body(request, max_bytes=settings.MAX_LOG_BYTES)
        if not isinstance(body.data, dict):
            raise ValidationError({"non_field_errors": ["The body must be a JSON object (one log)."]})
        if is_connectivity_check(body.data):
            return Response(ConnectivityCheckSerializer({"status": "ok", "test": True}).data)
        event_id = request.META.get("HTTP_IDEMPOTENCY_KEY")
        if event_id is not None and not 0 < len(event_id.strip()) <= 200:
            raise BadRequest("Idempotency-Key must be 1-200 characters.", code="validation_error",
                             details={"Idempotency-Key": ["Must be 1-200 characters."]})
        fields, errors = services.log_prepare(body.data, has_nul=body.has_nul,
                                              event_id=event_id.strip() if event_id else None)
        if errors:
            raise ValidationError(errors)
        (result,) = services.log_ingest_many(client=request_client(request), items=[fields])
        assert result is not None
        row = result.row or self.get_queryset().get(pk=result.id)
        data = {**log_summary(row), "duplicate": result.status == services.DUPLICATE}
        return Response(data, status=status.HTTP_201_CREATED if result.row else status.HTTP_200_OK)

    @extend_schema(
        operation_id="logs_ingest_batch",
        summary="Ingest a batch of logs",
        request=inline_serializer("LogBatchIn", fields={"logs": serializers.ListField(child=serializers.DictField())}),
        responses={
            201: BatchResultSerializer,
            200: OpenApiResponse(BatchResultSerializer, description="Every log was a duplicate."),
            207: OpenApiResponse(BatchResultSerializer, description="Some logs were invalid; the valid ones are stored."),
        },
    )
    @action(detail=False, methods=["post"], url_path="batch")
    def batch(self, request: Request) -> Response:
        body = read_json_body(request, max_bytes=settings.MAX_BATCH_BYTES)
        logs = body.data.get("logs") if isinstance(body.data, dict) else None
        if not isinstance(logs, list):
            raise ValidationError({"logs": ['Expected {"logs": [...]}: a list of log objects.']})
        limit = settings.MAX_BATCH_SIZE
        if not logs:
            raise ValidationError({"logs": ["The batch is empty."]})
        if len(logs) > limit:
            raise BadRequest(f"A batch holds at most {limit} logs; got {len(logs)}.", code="batch_too_large",
                             details={"logs": [f"At most {limit} logs per batch."], "limit": limit})

        prepared: list[dict[str, Any] | None] = []
        invalid: dict[int, dict[str, list[str]]] = {}
        for index, raw in enumerate(logs):
            fields, errors = services.log_prepare(raw, has_nul=body.has_nul)
            prepared.append(fields)
            if errors:
                invalid[index] = errors

        results_by_index = {}
        if len(invalid) < len(logs):
            stored = services.log_ingest_many(client=request_client(request), items=prepared)
            results_by_index = {r.index: r for r in stored if r is not None}
        results = [
            results_by_index.get(i) or services.ItemResult(i, services.INVALID, errors=invalid[i])
            for i in range(len(logs))
        ]
        payload = [r.as_dict() for r in results]
        if len(invalid) == len(logs):
            raise BadRequest("No valid log in the batch; nothing was stored.", code="validation_error",
                             details={"results": payload})

        created = sum(r.status == services.CREATED for r in results)
        duplicates = sum(r.status == services.DUPLICATE for r in results)
        data = {
            "ids": [r.id for r in results],
            "count": created + duplicates,
            "created": created,
            "duplicates": duplicates,
            "rejected": len(invalid),
            "results": payload,
        }
        if invalid:
            code = status.HTTP_207_MULTI_STATUS
        else:
            code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(data, status=code)
