"""GET /api/v1/metrics/*: the dashboard's metrics of the caller's client (UTC periods)."""
from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from central_logger.schema import READ_ERRORS, error_responses
from logs.filters import MetricsFilterSet, validated_filters
from logs.openapi import METRICS_PARAMETERS
from logs.params import collect_errors, parse_choice, parse_int
from logs.periods import parse_period
from metrics import selectors
from metrics.serializers import (
    CategoriesSerializer,
    ErrorsSerializer,
    OverviewSerializer,
    TimeseriesSerializer,
    UsageSerializer,
    VersionsSerializer,
)
from tenants.scoping import TenantScopedViewSet

INTERVALS = ("hour", "day")


class MetricsViewSet(TenantScopedViewSet):
    """Dashboard metrics of the caller's client, computed from its logs (UTC periods)."""

    def _parse(self, request: Request, *extra: Any) -> list[Any]:
        """The scope (client + narrowing filters), the period, and any extra parsed parameters;
        every bad parameter reported in one 400."""
        period, filters, *parsed = collect_errors(
            lambda: parse_period(request.query_params, now=timezone.now()),
            lambda: validated_filters(MetricsFilterSet, request.query_params),
            *extra,
        )
        return [selectors.Scope(self.client, MetricsFilterSet.condition(filters)), period, *parsed]

    @extend_schema(
        operation_id="metrics_overview",
        summary="Totals, success rate, timings and status counts, with the previous period",
        parameters=METRICS_PARAMETERS,
        responses={200: OverviewSerializer, **error_responses(*READ_ERRORS)},
    )
    @action(detail=False, methods=["get"])
    def overview(self, request: Request) -> Response:
        scope, period = self._parse(request)
        return Response(selectors.metrics_overview(scope, period=period))

    @extend_schema(
        operation_id="metrics_usage",
        summary="Tokens and cost of the runs that carry usage, with the previous period",
        description="Runs received over OpenTelemetry carry `metrics.input_tokens`, `output_tokens`, "
                    "`total_tokens` and, with model prices, `cost`; this sums them over the period.",
        parameters=METRICS_PARAMETERS,
        responses={200: UsageSerializer, **error_responses(*READ_ERRORS)},
    )
    @action(detail=False, methods=["get"])
    def usage(self, request: Request) -> Response:
        scope, period = self._parse(request)
        return Response(selectors.metrics_usage(scope, period=period))

    @extend_schema(
        operation_id="metrics_categories",
        summary="Per category: count, successes, success rate, errors, average time",
        parameters=METRICS_PARAMETERS,
        responses={200: CategoriesSerializer, **error_responses(*READ_ERRORS)},
    )
    @action(detail=False, methods=["get"])
    def categories(self, request: Request) -> Response:
        scope, period = self._parse(request)
        return Response(selectors.metrics_categories(scope, period=period))

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
        scope, period, interval = self._parse(
            request, lambda: parse_choice(request.query_params, "interval", INTERVALS, "day"))
        return Response(selectors.metrics_timeseries(scope, period=period, interval=interval))

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
        scope, period, limit = self._parse(
            request, lambda: parse_int(request.query_params, "limit", default=20, low=1, high=100))
        return Response(selectors.metrics_errors(scope, period=period, limit=limit))

    @extend_schema(
        operation_id="metrics_versions",
        summary="Per workflow version: volume, success rate, errors, timings, first/last seen",
        parameters=METRICS_PARAMETERS,
        responses={200: VersionsSerializer, **error_responses(*READ_ERRORS)},
    )
    @action(detail=False, methods=["get"])
    def versions(self, request: Request) -> Response:
        scope, period = self._parse(request)
        return Response(selectors.metrics_versions(scope, period=period))
