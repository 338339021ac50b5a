"""GET /api/v1/logs, /api/v1/logs/{id}, /api/v1/logs/export: parse, call a selector, answer."""
from __future__ import annotations

from typing import Any

from django.http import Http404, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from central_logger.schema import READ_ERRORS, SEARCH_ERRORS, error_responses
from logs.serializers import LogDetailSerializer
from query import export, selectors, traces
from logs.openapi import LOG_FILTER_PARAMETERS, METRICS_FILTER_DESCRIPTION
from query.openapi import LIST_PARAMETERS
from logs.params import parse_choice
from logs.tenant_sql.reads import VALUE_FIELDS
from query.serializers import LogChangesSerializer, LogListSerializer, LogTraceSerializer, LogValuesSerializer, log_detail


class JsonErrorsNegotiation(DefaultContentNegotiation):
    """The export's `format` query parameter names the file format, not a DRF renderer, and its
    errors are always the JSON envelope; so skip DRF's `?format=` / Accept negotiation."""

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


class ReadLogActions:
    """The read actions of the logs collection (joined with the write actions into one viewset
    on /api/v1/logs by central_logger/api.py). Every action needs the `read` scope."""

    @extend_schema(
        operation_id="logs_list",
        summary="List logs (summaries), filtered, newest first",
        description="Filters combine with AND; comma-separated values of one filter with OR. "
                    + METRICS_FILTER_DESCRIPTION,
        parameters=[*LOG_FILTER_PARAMETERS, *LIST_PARAMETERS],
        responses={200: LogListSerializer, **error_responses(*SEARCH_ERRORS)},
    )
    def list(self, request: Request) -> Response:
        rows, pagination = selectors.log_list(self.client, query=request.query_params)  # type: ignore[attr-defined]
        return Response({"data": rows, "pagination": pagination})

    @extend_schema(
        operation_id="logs_retrieve",
        summary="One complete log: trace, metrics, payload, metadata, extra",
        parameters=[OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The log id.")],
        responses={200: LogDetailSerializer, **error_responses(401, 403, 404, 429, 503)},
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        row = selectors.log_get(self.client, log_id=self.lookup_uuid())  # type: ignore[attr-defined]
        if row is None:
            raise Http404
        return Response(log_detail(row))

    @extend_schema(
        operation_id="logs_trace",
        summary="The OpenTelemetry trace of a run: its spans and attached log records",
        description="For runs received on POST /v1/traces (`payload.otel.trace_id` is set): every stored span "
                    "of the trace, earliest first, with times as offsets from its first span, and the log "
                    "records attached to it. Any other log, or another client's: 404.",
        parameters=[OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The log id.")],
        responses={200: LogTraceSerializer, **error_responses(401, 403, 404, 429, 503)},
    )
    # Not named `trace`: a viewset method named after an HTTP verb answers that verb (TRACE).
    @action(detail=True, methods=["get"], url_path="trace", url_name="trace")
    def otel_trace(self, request: Request, pk: str | None = None) -> Response:
        found = traces.log_trace(self.client, log_id=self.lookup_uuid())  # type: ignore[attr-defined]
        if found is None:
            raise Http404
        return Response(found)

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
            **error_responses(*SEARCH_ERRORS),
        },
    )
    @action(detail=False, methods=["get"], url_path="export", content_negotiation_class=JsonErrorsNegotiation)
    def export(self, request: Request) -> StreamingHttpResponse:
        client = self.client  # type: ignore[attr-defined]
        found = selectors.log_export(client, query=request.query_params)
        if found.format == "csv":
            body, content_type = export.csv_stream(found.rows, found.metric_keys), "text/csv; charset=utf-8"
        else:
            body, content_type = export.ndjson_stream(found.rows), "application/x-ndjson"
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response = StreamingHttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="logs-{client.slug}-{stamp}.{found.format}"'
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(
        operation_id="logs_changes",
        summary="A token that changes when your logs change (the dashboard's live probe)",
        description="Compare with the token of the previous call: a different token means a log of your client "
                    "was stored (whatever its executed_at), deleted or updated since. Two index probes.",
        responses={200: LogChangesSerializer, **error_responses(401, 403, 429, 503)},
    )
    @action(detail=False, methods=["get"], url_path="changes")
    def changes(self, request: Request) -> Response:
        return Response(selectors.log_changes(self.client))  # type: ignore[attr-defined]

    @extend_schema(
        operation_id="logs_values",
        summary="The values a filter can take (for dropdowns), most frequent first",
        description="category, workflow_version: every value of the last 90 days (metrics rollup); "
                    "workflow_error_type, workflow_error_node: those of the failing logs of the last 90 days; "
                    "customer_type, resolution_status: the values of your newest 5,000 logs. At most 200.",
        parameters=[OpenApiParameter("field", OpenApiTypes.STR, enum=[*VALUE_FIELDS], required=True,
                                     description="The filter.")],
        responses={200: LogValuesSerializer, **error_responses(*READ_ERRORS)},
    )
    @action(detail=False, methods=["get"], url_path="values")
    def values(self, request: Request) -> Response:
        field = parse_choice(request.query_params, "field", VALUE_FIELDS, "")
        return Response(selectors.log_values(self.client, field=field, now=timezone.now()))  # type: ignore[attr-defined]
