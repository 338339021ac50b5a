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
from logs.params import collect_errors, parse_choice, parse_int, parse_text
from logs.periods import parse_period
from metrics import issues as issue_metrics
from metrics import selectors
from metrics import usage as usage_metrics
from metrics import versions as version_metrics
from metrics.serializers import (
    CategoriesSerializer,
    ErrorsSerializer,
    IssueDetailSerializer,
    IssuesSerializer,
    OverviewSerializer,
    TimeseriesSerializer,
    UsageSerializer,
    VersionCompareSerializer,
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
        summary="Per workflow version: volume, success and error rates, p50/p95 timings, first/last seen",
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
            OpenApiParameter("sort", OpenApiTypes.STR, enum=list(issue_metrics.SORTS), default="count",
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
            lambda: parse_choice(query, "sort", issue_metrics.SORTS, "count"))
        return Response(issue_metrics.metrics_issues(scope, period=period, interval=interval, limit=limit, sort=sort,
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
        found = issue_metrics.metrics_issue(scope, period=period, interval=interval, fingerprint=fingerprint)
        if found is None:  # never seen, or another client's: not found either way
            raise Http404
        return Response(found)

    @extend_schema(
        operation_id="metrics_versions_compare",
        summary="Two workflow versions side by side: differences and whether they are beyond noise",
        description="Rates (success, error, and the share of every boolean metric) are compared with a pooled "
                    "two-proportion z-test, means (execution time, every numeric metric) with Welch's t-test; "
                    "two-sided, significant when p < alpha (0.05). Means and shares come from the newest "
                    f"{version_metrics.SAMPLE:,} logs of each version in the period (`sample_size`).",
        parameters=[
            *METRICS_PARAMETERS,
            OpenApiParameter("a", {"type": "string", "minLength": 1, "maxLength": 100}, required=True,
                             description="The baseline workflow version."),
            OpenApiParameter("b", {"type": "string", "minLength": 1, "maxLength": 100}, required=True,
                             description="The version compared with it."),
        ],
        responses={200: VersionCompareSerializer, **error_responses(*READ_ERRORS)},
    )
    @action(detail=False, methods=["get"], url_path="versions/compare")
    def versions_compare(self, request: Request) -> Response:
        scope, period, a, b = self._parse(request, lambda: parse_text(request.query_params, "a"),
                                          lambda: parse_text(request.query_params, "b"))
        return Response(version_metrics.metrics_version_compare(scope, period=period, a=a, b=b))

    @extend_schema(
        operation_id="metrics_usage",
        summary="Tokens and cost: the period's totals with the previous period's, and per day, hour, category or "
                "version",
        description="Totals: the runs that carry `metrics.total_tokens` (runs received over OpenTelemetry carry "
                    "`input_tokens`, `output_tokens`, `total_tokens` and, with model prices, `cost`), for the "
                    "period and the previous one. With `group`: every numeric metric whose key contains `token` "
                    "or `cost` (any case; keys of at most 64 characters; the rollup counts at most 10 of a log), summed "
                    "exactly over the period's logs: from the usage rollup when no filter narrows the logs "
                    "(milliseconds at any period), else a scan (its cost grows with the period).",
        parameters=[
            *METRICS_PARAMETERS,
            OpenApiParameter("group", OpenApiTypes.STR, enum=list(usage_metrics.GROUPS), required=False,
                             description="Also sum the usage metrics per this (`keys`, `group`, `data`, `totals`)."),
        ],
        responses={200: UsageSerializer, **error_responses(*READ_ERRORS)},
    )
    @action(detail=False, methods=["get"])
    def usage(self, request: Request) -> Response:
        scope, period, group = self._parse(
            request, lambda: parse_choice(request.query_params, "group", usage_metrics.GROUPS, "day")
            if request.query_params.get("group") else None)
        return Response(usage_metrics.metrics_usage(scope, period=period, group=group))
