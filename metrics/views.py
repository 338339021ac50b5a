"""GET /api/v1/metrics/*: the dashboard's metrics of the caller's client (UTC periods)."""
from __future__ import annotations

from typing import Any

from django.http import Http404
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
from metrics import issues, selectors
from metrics.serializers import (
    CategoriesSerializer,
    ErrorsSerializer,
    IssueDetailSerializer,
    IssuesSerializer,
    OverviewSerializer,
    TimeseriesSerializer,
    VersionsSerializer,
)
from tenants.scoping import TenantScopedViewSet

INTERVALS = ("hour", "day")
INTERVAL_PARAMETER = OpenApiParameter(
    "interval", OpenApiTypes.STR, enum=list(INTERVALS), default="day",
    description="Bucket size; buckets start at UTC hour/day boundaries.")


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
        sent = {name: value for name, value in (filters or {}).items() if value not in (None, [], "")}
        return [selectors.Scope(self.client, MetricsFilterSet.condition(filters), sent), period, *parsed]

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
        parameters=[*METRICS_PARAMETERS, INTERVAL_PARAMETER],
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

    def _interval(self, request: Request) -> Any:
        return lambda: parse_choice(request.query_params, "interval", INTERVALS, "day")

    @extend_schema(
        operation_id="metrics_issues",
        summary="Error issues: failing logs grouped by error type × node × normalised message",
        description="Per issue: count, versions and trend in the period; first/last seen and the version it is "
                    "new in, over all stored logs; the latest failing log of the period.",
        parameters=[
            *METRICS_PARAMETERS, INTERVAL_PARAMETER,
            OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                             description="Issues to return, 1-200."),
            OpenApiParameter("sort", OpenApiTypes.STR, enum=list(issues.SORTS), default="count",
                             description="count: most failing logs first; recent: latest first; new: newest "
                                         "first seen first."),
            OpenApiParameter("new_in", OpenApiTypes.STR, description="Only the issues new in this workflow version."),
        ],
        responses={200: IssuesSerializer, **error_responses(*READ_ERRORS)},
    )
    @action(detail=False, methods=["get"])
    def issues(self, request: Request) -> Response:
        query = request.query_params
        scope, period, interval, limit, sort = self._parse(
            request, self._interval(request),
            lambda: parse_int(query, "limit", default=50, low=1, high=200),
            lambda: parse_choice(query, "sort", issues.SORTS, "count"))
        return Response(issues.metrics_issues(scope, period=period, interval=interval, limit=limit, sort=sort,
                                              new_in=(query.get("new_in") or "").strip() or None))

    @extend_schema(
        operation_id="metrics_issue",
        summary="One error issue: its figures in the period, its trend and its newest failing logs",
        parameters=[
            OpenApiParameter("fingerprint", OpenApiTypes.STR, OpenApiParameter.PATH,
                             description="The issue's fingerprint (16 hex digits)."),
            *METRICS_PARAMETERS, INTERVAL_PARAMETER,
        ],
        responses={200: IssueDetailSerializer, **error_responses(*READ_ERRORS, 404)},
    )
    @action(detail=False, methods=["get"], url_path=r"issues/(?P<fingerprint>[^/]+)")
    def issue(self, request: Request, fingerprint: str) -> Response:
        scope, period, interval = self._parse(request, self._interval(request))
        found = issues.metrics_issue(scope, period=period, interval=interval, fingerprint=fingerprint)
        if found is None:  # never seen, or another client's: not found either way
            raise Http404
        return Response(found)
