"""/api/v1/alerts/rules and /api/v1/alerts/events: validate, call a service or selector, answer.

Reading needs the `read` scope; creating, changing, deleting and testing rules need `admin`
(an API key with it, or a dashboard member with the admin role). Another tenant's rule is a 404.
"""
from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from alerts import selectors, services
from alerts.models import AlertEvent, AlertRule, EventState, RuleState
from alerts.preview import rule_preview
from alerts.serializers import (
    AlertEventSerializer,
    AlertRuleSerializer,
    PreviewRequestSerializer,
    PreviewSerializer,
    TestResultSerializer,
)
from central_logger.schema import EnvelopedListAutoSchema, error_responses
from logs.openapi import DATE_OR_DATETIME
from tenants.permissions import CanAdminister
from tenants.scoping import TenantScopedViewSet

WRITE_ERRORS = (400, 401, 403, 429, 503)
RULE_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The rule id.")


class AlertRuleListSerializer(serializers.Serializer):
    data = AlertRuleSerializer(many=True)

    class Meta:
        ref_name = "AlertRuleList"


class EventPaginationSerializer(serializers.Serializer):
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    total = serializers.IntegerField()
    pages = serializers.IntegerField()
    total_is_exact = serializers.BooleanField()
    next_cursor = serializers.CharField(allow_null=True, help_text="Always null: events are paged by number.")

    class Meta:
        ref_name = "AlertEventPagination"


class AlertEventListSerializer(serializers.Serializer):
    data = AlertEventSerializer(many=True)
    pagination = EventPaginationSerializer()

    class Meta:
        ref_name = "AlertEventList"


class AlertRuleViewSet(TenantScopedViewSet):
    """Alert rules of the caller's client."""

    scoped_model = AlertRule
    schema = EnvelopedListAutoSchema()
    action_permissions = {"create": CanAdminister, "partial_update": CanAdminister, "destroy": CanAdminister,
                          "test": CanAdminister}

    def _one(self) -> AlertRule:
        rule: AlertRule = self.get_object()
        rule.last_event = AlertEvent.objects.for_client(self.client).filter(rule=rule).first()  # type: ignore[attr-defined]
        return rule

    @extend_schema(
        operation_id="alerts_rules_list", summary="The client's alert rules, with state, last value and last event",
        parameters=[OpenApiParameter("state", OpenApiTypes.STR, enum=list(RuleState.values),
                                     description="Only rules in this state (the header badge: `firing`).")],
        responses={200: AlertRuleListSerializer, **error_responses(400, 401, 403, 429, 503)},
    )
    def list(self, request: Request) -> Response:
        rules = selectors.rules_with_last_event(self.get_queryset(), query=request.query_params)
        return Response({"data": AlertRuleSerializer(rules, many=True).data})

    @extend_schema(operation_id="alerts_rules_create", summary="Create an alert rule (admin)",
                   request=AlertRuleSerializer, responses={201: AlertRuleSerializer, **error_responses(*WRITE_ERRORS)})
    def create(self, request: Request) -> Response:
        incoming = AlertRuleSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        rule = services.rule_create(client=self.client, data=incoming.validated_data)
        return Response(AlertRuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="alerts_rules_retrieve", summary="One alert rule", parameters=[RULE_ID],
                   responses={200: AlertRuleSerializer, **error_responses(401, 403, 404, 429, 503)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(AlertRuleSerializer(self._one()).data)

    @extend_schema(operation_id="alerts_rules_partial_update", parameters=[RULE_ID],
                   summary="Change an alert rule, snooze it (`snoozed_until`) or wake it (null) (admin)",
                   request=AlertRuleSerializer(partial=True),
                   responses={200: AlertRuleSerializer, **error_responses(400, 401, 403, 404, 429, 503)})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        rule = self.get_object()
        incoming = AlertRuleSerializer(rule, data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        services.rule_update(rule=rule, data=incoming.validated_data)
        return Response(AlertRuleSerializer(self._one()).data)

    @extend_schema(operation_id="alerts_rules_destroy", summary="Delete an alert rule; its events stay (admin)",
                   parameters=[RULE_ID], responses={204: None, **error_responses(401, 403, 404, 429, 503)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.rule_delete(rule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(operation_id="alerts_rules_test", request=None, parameters=[RULE_ID],
                   summary="Send a test notification on every channel of the rule now and report each (admin)",
                   responses={200: TestResultSerializer, **error_responses(401, 403, 404, 429, 503)})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        return Response(services.rule_test(rule=self.get_object()))

    @extend_schema(
        operation_id="alerts_rules_preview", request=PreviewRequestSerializer,
        summary="How many times a rule (saved or not) would have fired in the last 7 days",
        description="Counted over consecutive windows of the rule's length ending now; a run of firing windows "
                    "counts once. Sends nothing, saves nothing; channels are not needed.",
        responses={200: PreviewSerializer, **error_responses(400, 401, 403, 429, 503)},
    )
    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        incoming = PreviewRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = {k: v for k, v in incoming.validated_data.items() if k != "channels"}
        rule = AlertRule(client=self.client, **data)
        return Response(rule_preview(rule, now=timezone.now()))


class AlertEventViewSet(TenantScopedViewSet):
    """State changes of the client's alert rules, newest first."""

    scoped_model = AlertEvent
    schema = EnvelopedListAutoSchema()

    @extend_schema(
        operation_id="alerts_events_list", summary="Alert events (firing, resolved), newest first, paginated",
        parameters=[
            OpenApiParameter("rule", {"type": "integer", "minimum": 1}, description="Only this rule's events."),
            OpenApiParameter("state", OpenApiTypes.STR, enum=list(EventState.values)),
            OpenApiParameter("start_date", DATE_OR_DATETIME, description="Events recorded at or after this."),
            OpenApiParameter("end_date", DATE_OR_DATETIME,
                             description="Events recorded at or before this (a date: that whole UTC day)."),
            OpenApiParameter("page", {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1}),
            OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}),
        ],
        responses={200: AlertEventListSerializer, **error_responses(400, 401, 403, 429, 503)},
    )
    def list(self, request: Request) -> Response:
        rows, pagination = selectors.event_list(self.get_queryset(), query=request.query_params)
        return Response({"data": AlertEventSerializer(rows, many=True).data, "pagination": pagination})
