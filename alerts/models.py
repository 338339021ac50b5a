"""Alert rules, the events of their state changes, and the queue of notifications to deliver.

All three are per tenant: a manager with `for_client()` is the scope the API reads through
(tenants/scoping.py); the evaluator and the delivery worker, which serve every tenant at once,
read through `dangerously_all_tenants()`.
"""
from __future__ import annotations

from django.db import models

from tenants.models import Client


class Kind(models.TextChoices):
    ERROR_RATE = "error_rate"
    ERROR_COUNT = "error_count"
    DURATION_P95 = "duration_p95"
    METRIC_AVG = "metric_avg"
    NO_DATA = "no_data"
    NEW_ERROR_TYPE = "new_error_type"


class Operator(models.TextChoices):
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"


class RuleState(models.TextChoices):
    OK = "ok"
    FIRING = "firing"


class EventState(models.TextChoices):
    FIRING = "firing"
    RESOLVED = "resolved"


class DeliverySummary(models.TextChoices):
    """An event's notifications, as one word: what the dashboard and the API show."""

    NONE = "none"  # no channel was due (resolved after a firing nobody was told about)
    SNOOZED = "snoozed"  # the rule was snoozed: recorded, not sent
    PENDING = "pending"  # queued or being retried
    DELIVERED = "delivered"  # every channel took it
    FAILED = "failed"  # at least one channel gave up


class Notification(models.TextChoices):
    FIRING = "firing"
    REMINDER = "reminder"
    RESOLVED = "resolved"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


class TenantQuerySet(models.QuerySet):  # type: ignore[type-arg]
    def for_client(self, client: Client) -> TenantQuerySet:
        """The tenant scope."""
        return self.filter(client=client)

    def dangerously_all_tenants(self) -> TenantQuerySet:
        """Every tenant's rows: for the evaluator, the delivery worker and the operator console."""
        return self.all()


class AlertRule(models.Model):
    """A tenant's alert rule and its current state (see alerts/evaluation.py for the kinds)."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="alert_rules")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    threshold = models.FloatField(null=True, blank=True)
    window_minutes = models.PositiveIntegerField()
    min_runs = models.PositiveIntegerField(default=10)
    statuses = models.JSONField(default=list, blank=True)
    error_type = models.CharField(max_length=255, null=True, blank=True)
    error_node = models.CharField(max_length=255, null=True, blank=True)
    metric = models.CharField(max_length=64, null=True, blank=True)
    operator = models.CharField(max_length=8, choices=Operator.choices, default=Operator.GTE)
    filters = models.JSONField(default=dict, blank=True)
    # [{"type": "webhook", "url": ..., "secret": ...}, {"type": "slack", "url": ...},
    #  {"type": "email", "to": ...}]; secrets never leave through the API.
    channels = models.JSONField(default=list)
    repeat_minutes = models.PositiveIntegerField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)

    state = models.CharField(max_length=16, choices=RuleState.choices, default=RuleState.OK)
    last_value = models.FloatField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    # When the team was last told that this rule fires (None: not yet told of this firing).
    last_notified_at = models.DateTimeField(null=True, blank=True)
    # new_error_type: the pairs already announced while they are new ([[type, node], ...]).
    reported_pairs = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "alert_rules"
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["client", "state"], name="alert_rule_client_state")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class AlertEvent(models.Model):
    """A state change of a rule (firing or resolved), as it was when it happened."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="alert_events")
    # Events outlive their rule (the history stays); the rule's name and kind are copied.
    rule = models.ForeignKey(AlertRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="events")
    rule_name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=EventState.choices)
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    operator = models.CharField(max_length=8, choices=Operator.choices)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    filters = models.JSONField(default=dict, blank=True)
    examples = models.JSONField(default=list, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    url = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The notifications of this event, summed up (alerts/delivery.py keeps them current).
    delivery_status = models.CharField(max_length=16, choices=DeliverySummary.choices,
                                       default=DeliverySummary.NONE)
    delivery_attempts = models.PositiveIntegerField(default=0)
    delivery_last_error = models.TextField(blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "alert_events"
        ordering = ["-created_at", "-id"]
        indexes = [
            # GET /api/v1/alerts/events (newest first), with or without ?rule= and ?state=.
            models.Index(fields=["client", "-created_at", "-id"], name="alert_event_client_time"),
            models.Index(fields=["client", "rule", "-created_at"], name="alert_event_client_rule"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_name} {self.state} @ {self.created_at:%Y-%m-%d %H:%M}"


class AlertDelivery(models.Model):
    """One notification to one channel: the queue the delivery worker drains (alerts/delivery.py).

    The body is fixed when the notification is queued, so every retry sends the same bytes (a
    new timestamp and signature only). The channel is copied too (its secret is blanked once the
    delivery is finished), so editing or deleting the rule does not change what is in flight.
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="alert_deliveries")
    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="deliveries")
    notification = models.CharField(max_length=16, choices=Notification.choices)
    channel = models.JSONField()
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # A claimed delivery belongs to its sender until then; after it (a crash), another may send it.
    lease_until = models.DateTimeField(null=True, blank=True)
    give_up_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=512, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "alert_deliveries"
        ordering = ["created_at", "id"]
        indexes = [
            # The worker's claim: due deliveries, oldest first; finished ones stay out of the index.
            models.Index(fields=["next_attempt_at"], name="alert_delivery_due",
                         condition=models.Q(status__in=["pending", "sending"])),
        ]

    def __str__(self) -> str:
        return f"{self.notification} → {self.channel.get('type')} ({self.status})"
