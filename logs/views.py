"""HTTP endpoints over workflow logs. Thin: read input, call a service or selector, answer."""
from __future__ import annotations

import logging
import sqlite3
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from central_logger.errors import BadRequest, ServiceUnavailable
from central_logger.schema import READ_ERRORS, EnvelopedListAutoSchema, error_responses
from logs import export, selectors, services, spool
from logs.accept import Accepted, log_accept_many
from logs.body import read_json_body
from logs.filters import (
    INTERVALS,
    LogFilterSet,
    MetricsFilterSet,
    collect_errors,
    parse_choice,
    parse_int,
    parse_period,
    validated_filters,
    validated_filterset,
)
from logs.models import WorkflowLog
from logs.openapi import LIST_PARAMETERS, LOG_FILTER_PARAMETERS, METRICS_PARAMETERS, METRICS_FILTER_DESCRIPTION
from logs.pagination import parse_list_params, parse_ordering
from logs.serializers import (
    DETAIL_FIELDS,
    BatchResultSerializer,
    CategoriesSerializer,
    ConnectivityCheckInSerializer,
    ConnectivityCheckSerializer,
    ErrorsSerializer,
    IngestedLogSerializer,
    LogBatchInSerializer,
    LogDetailSerializer,
    LogInSerializer,
    LogListSerializer,
    OverviewSerializer,
    TimeseriesSerializer,
    VersionsSerializer,
    log_detail,
    log_summary,
)
from tenants.permissions import CanIngest, CanRead
from tenants.scoping import TenantScopedViewSet, request_client

logger = logging.getLogger("central_logger.ingest")

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"},
    OpenApiParameter.HEADER, required=False,
    description="Retry-safe key for this log (same as the body's event_id; the header wins). "
                "Resending the same key returns the original id with 200 and stores nothing. "
                "1-200 characters, not only whitespace.",
)
# Fields a connectivity check may carry (the real client's ping: client_id, environment, test).
CONNECTIVITY_FIELDS = frozenset({"client_id", "environment", "test", "workflow_version"})


class JsonErrorsNegotiation(DefaultContentNegotiation):
    """The export's `format` query parameter names the file format, not a DRF renderer, and its
    errors are always the JSON envelope; so skip DRF's `?format=` / Accept negotiation."""

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


def is_connectivity_check(body: dict[str, Any]) -> bool:
    return body.get("test") is True and set(body) <= CONNECTIVITY_FIELDS


def accept(request: Request, items: list[dict[str, Any] | None], *, load_duplicates: bool = False) -> Accepted:
    """Store logs durably (PostgreSQL, else the spool); a full spool is a 503 + Retry-After."""
    api_key = getattr(request.user, "api_key", None)
    try:
        return log_accept_many(client=request_client(request), api_key_id=api_key.pk if api_key else None,
                               items=items, load_duplicates=load_duplicates)
    except spool.SpoolFull:
        retry = settings.RETRY_AFTER_SECONDS
        raise ServiceUnavailable("The database is unavailable and the local spool is full; retry later.",
                                 code="spool_full", details={"retry_after": retry}) from None
    except sqlite3.Error as exc:
        # Neither store could take the logs: say so honestly (retryable), never a 500.
        logger.error("ingest: database and spool both unavailable (%s)", exc)
        raise ServiceUnavailable("The database and the local spool are unavailable; retry later.",
                                 code="service_unavailable",
                                 details={"retry_after": settings.RETRY_AFTER_SECONDS}) from None


class LogViewSet(TenantScopedViewSet):
    """Workflow logs of the caller's client."""

    scoped_model = WorkflowLog
    schema = EnvelopedListAutoSchema()
    # Scope needed per action; ingestion and reading are separate key capabilities.
    write_actions = frozenset({"create", "batch"})

    def get_permissions(self) -> list[Any]:
        scope = CanIngest if self.action in self.write_actions else CanRead
        return [IsAuthenticated(), scope()]

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
        accepted = accept(request, [fields], load_duplicates=True)
        (result,) = accepted.results
        assert result is not None and result.id is not None
        duplicate = result.status == services.DUPLICATE
        row = result.row
        if row is None:  # a duplicate of a log that is still in the spool
            spooled_fields = spool.spool_load(client_id=request_client(request).pk, log_id=result.id) or fields
            row = {**spooled_fields, "id": result.id, "created_at": timezone.now()}
        data = {**log_summary(row), "duplicate": duplicate, "spooled": accepted.spooled}
        if duplicate:
            code = status.HTTP_200_OK
        else:
            code = status.HTTP_202_ACCEPTED if accepted.spooled else status.HTTP_201_CREATED
        return Response(data, status=code)

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
        spooled = False
        if len(invalid) < len(logs):
            accepted = accept(request, prepared)
            spooled = accepted.spooled
            results_by_index = {r.index: r for r in accepted.results if r is not None}
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
            "spooled": spooled,
            "results": payload,
        }
        if invalid:
            code = status.HTTP_207_MULTI_STATUS
        elif spooled and created:
            code = status.HTTP_202_ACCEPTED
        else:
            code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(data, status=code)

    # --- reading ---------------------------------------------------------------------------------

    @extend_schema(
        operation_id="logs_list",
        summary="List logs (summaries), filtered, newest first",
        description="Filters combine with AND; comma-separated values of one filter with OR. "
                    + METRICS_FILTER_DESCRIPTION,
        parameters=[*LOG_FILTER_PARAMETERS, *LIST_PARAMETERS],
        responses={200: LogListSerializer, **error_responses(*READ_ERRORS)},
    )
    def list(self, request: Request) -> Response:
        (filterset, filters), params = collect_errors(
            lambda: validated_filters(LogFilterSet, request.query_params, self.lazy_queryset()),
            lambda: parse_list_params(request.query_params),
        )
        client = self.unnarrowed_client()
        count = selectors.log_count_from_rollup(client=client, filters=filters)
        rows, pagination = selectors.log_list(filterset=filterset, client=client, params=params, count=count)
        return Response({"data": rows, "pagination": pagination})

    @extend_schema(
        operation_id="logs_retrieve",
        summary="One complete log: trace, metrics, payload, metadata, extra",
        parameters=[OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The log id.")],
        responses={200: LogDetailSerializer, **error_responses(401, 403, 404, 429, 503)},
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(log_detail(self.get_object_values(DETAIL_FIELDS)))

    @extend_schema(
        operation_id="logs_export",
        summary="Download the filtered logs as CSV or NDJSON (streamed)",
        description="Same filters and ordering as the list, without pagination. CSV: the summary columns "
                    "plus one `metrics.<key>` column per metric key found in the exported logs. NDJSON: one "
                    "complete log (LogDetail) per line. " + METRICS_FILTER_DESCRIPTION,
        parameters=[
            OpenApiParameter("format", OpenApiTypes.STR, enum=["csv", "ndjson"], default="csv",
                             description="File format."),
            *LOG_FILTER_PARAMETERS, LIST_PARAMETERS[0],
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV with a header row."),
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR, description="One JSON log per line."),
            **error_responses(*READ_ERRORS),
        },
    )
    @action(detail=False, methods=["get"], url_path="export", content_negotiation_class=JsonErrorsNegotiation)
    def export(self, request: Request) -> StreamingHttpResponse:
        fmt, queryset, ordering = collect_errors(
            lambda: parse_choice(request.query_params, "format", ("csv", "ndjson"), "csv"),
            lambda: validated_filterset(LogFilterSet, request.query_params, self.get_queryset()),
            lambda: parse_ordering(request.query_params),
        )
        client = request_client(request)
        # Everything that can fail with an envelope happens before the first byte is sent.
        if fmt == "csv":
            keys = selectors.log_export_metric_keys(queryset=queryset)
            rows = selectors.log_export_rows(queryset=queryset, ordering=ordering, detail=False)
            body, content_type = export.csv_stream(rows, keys), "text/csv; charset=utf-8"
        else:
            rows = selectors.log_export_rows(queryset=queryset, ordering=ordering, detail=True)
            body, content_type = export.ndjson_stream(rows), "application/x-ndjson"
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response = StreamingHttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="logs-{client.slug}-{stamp}.{fmt}"'
        response["Cache-Control"] = "no-store"
        return response


class MetricsViewSet(TenantScopedViewSet):
    """Dashboard metrics of the caller's client, computed from its logs (UTC periods)."""

    scoped_model = WorkflowLog
    permission_classes = [IsAuthenticated, CanRead]

    def _scope(self, request: Request, *extra: Any) -> list[Any]:
        """The period, the tenant's logs narrowed by the metrics filters, and any extra parsed
        parameters; every bad parameter reported in one 400."""
        period, (filterset, _filters), *parsed = collect_errors(
            lambda: parse_period(request.query_params, now=timezone.now()),
            lambda: validated_filters(MetricsFilterSet, request.query_params, self.lazy_queryset()),
            *extra,
        )
        # Built on first use: requests the rollup answers never read the logs' queryset.
        return [period, SimpleLazyObject(lambda: filterset.qs), *parsed]

    def _rollup(self, request: Request) -> Any:
        """The client whose metrics rollup answers this request (None: scan the logs)."""
        return selectors.metrics_rollup_client(client=self.unnarrowed_client(), query=request.query_params)

    @extend_schema(
        operation_id="metrics_overview",
        summary="Totals, success rate, timings and status counts, with the previous period",
        parameters=METRICS_PARAMETERS,
        responses={200: OverviewSerializer, **error_responses(*READ_ERRORS)},
    )
    @action(detail=False, methods=["get"])
    def overview(self, request: Request) -> Response:
        period, queryset = self._scope(request)
        return Response(selectors.metrics_overview(queryset=queryset, period=period,
                                                   rollup_client=self._rollup(request)))

    @extend_schema(
        operation_id="metrics_categories",
        summary="Per category: count, successes, success rate, errors, average time",
        parameters=METRICS_PARAMETERS,
        responses={200: CategoriesSerializer, **error_responses(*READ_ERRORS)},
    )
    @action(detail=False, methods=["get"])
    def categories(self, request: Request) -> Response:
        period, queryset = self._scope(request)
        return Response(selectors.metrics_categories(queryset=queryset, period=period,
                                                     rollup_client=self._rollup(request)))

    @extend_schema(
        operation_id="metrics_timeseries",
        summary="Per UTC hour or day: count, success rate, errors, average and p95 time",
        parameters=[
            *METRICS_PARAMETERS,
            OpenApiParameter("interval", OpenApiTypes.STR, enum=list(INTERVALS), default="day",
                             description="Bucket size; buckets start at UTC hour/day boundaries."),
        ],
        responses={200: TimeseriesSerializer, **error_responses(*READ_ERRORS)},
    )
    @action(detail=False, methods=["get"])
    def timeseries(self, request: Request) -> Response:
        period, queryset, interval = self._scope(
            request, lambda: parse_choice(request.query_params, "interval", INTERVALS, "day"))
        return Response(selectors.metrics_timeseries(queryset=queryset, period=period, interval=interval,
                                                     rollup_client=self._rollup(request)))

    @extend_schema(
        operation_id="metrics_errors",
        summary="Most common error type × node, with the latest example",
        parameters=[
            *METRICS_PARAMETERS,
            OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                             description="Groups to return, 1-100."),
        ],
        responses={200: ErrorsSerializer, **error_responses(*READ_ERRORS)},
    )
    @action(detail=False, methods=["get"])
    def errors(self, request: Request) -> Response:
        period, queryset, limit = self._scope(
            request, lambda: parse_int(request.query_params, "limit", default=20, low=1, high=100))
        return Response(selectors.metrics_errors(queryset=queryset, period=period, limit=limit,
                                                 rollup_client=self._rollup(request)))

    @extend_schema(
        operation_id="metrics_versions",
        summary="Per workflow version: volume, success rate, errors, timings, first/last seen",
        parameters=METRICS_PARAMETERS,
        responses={200: VersionsSerializer, **error_responses(*READ_ERRORS)},
    )
    @action(detail=False, methods=["get"])
    def versions(self, request: Request) -> Response:
        period, queryset = self._scope(request)
        return Response(selectors.metrics_versions(queryset=queryset, period=period,
                                                   rollup_client=self._rollup(request)))
