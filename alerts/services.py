"""Writes of alert rules, and the test notification. The API, the admin and the commands call
these; the evaluator moves a rule's state (alerts/evaluator.py)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from alerts import notify
from alerts.models import AlertRule, RuleState
from tenants.models import Client

MAX_RULES_PER_CLIENT = 500
# Fields a definition change resets the state of (the rule measures something else now).
DEFINITION = ("kind", "threshold", "window_minutes", "min_runs", "statuses", "error_type", "error_node", "metric",
              "operator", "filters")


def rule_create(*, client: Client, data: dict[str, Any]) -> AlertRule:
    """A new rule of `client` from validated data (alerts/serializers.py); it starts `ok` and is
    evaluated in the next round. At most MAX_RULES_PER_CLIENT: one tenant cannot make every
    tenant's evaluation slow."""
    if AlertRule.objects.for_client(client).count() >= MAX_RULES_PER_CLIENT:
        raise ValidationError({"name": [f"A client has at most {MAX_RULES_PER_CLIENT} alert rules; delete one first."]})
    return AlertRule.objects.create(client=client, **data)


@transaction.atomic
def rule_update(*, rule: AlertRule, data: dict[str, Any]) -> AlertRule:
    """Change a rule. When what it measures changes, its state starts again from `ok` (without
    a resolved notification: the old condition was not seen to end)."""
    rule = AlertRule.objects.select_for_update().get(pk=rule.pk)  # not under the evaluator's feet
    redefined = any(name in data and data[name] != getattr(rule, name) for name in DEFINITION)
    for name, value in data.items():
        setattr(rule, name, value)
    if redefined:
        rule.state, rule.last_value, rule.last_evaluated_at = RuleState.OK, None, None
        rule.state_changed_at, rule.last_notified_at, rule.reported_pairs = timezone.now(), None, []
    rule.save()
    return rule


def rule_delete(*, rule: AlertRule) -> None:
    """Delete a rule; its events stay in the history (without the link to it)."""
    rule.delete()


def rule_test(*, rule: AlertRule) -> dict[str, Any]:
    """Send a test notification on every channel of the rule now, in parallel, and report each
    result. Nothing is queued or retried: the answer is what the receiver said."""
    now = timezone.now().replace(microsecond=0)
    payload = {
        "id": f"test-{rule.pk}-{int(now.timestamp())}", "event_id": None, "notification": "test", "state": "test",
        "rule": {"id": rule.pk, "name": rule.name, "kind": rule.kind}, "value": rule.last_value,
        "threshold": rule.threshold, "operator": rule.operator,
        "window": {"start": notify.iso(now - timezone.timedelta(minutes=rule.window_minutes)),
                   "end": notify.iso(now), "minutes": rule.window_minutes},
        "filters": rule.filters or {}, "client": rule.client.slug, "examples": [],
        "url": notify.logs_url(client=rule.client.slug, kind=rule.kind, filters=rule.filters or {},
                               start=now - timezone.timedelta(minutes=rule.window_minutes), end=now,
                               statuses=rule.statuses, error_type=rule.error_type, error_node=rule.error_node),
        "detail": {"metric": rule.metric} if rule.metric else {},
    }
    channels = list(rule.channels)
    with ThreadPoolExecutor(max_workers=max(1, len(channels))) as pool:
        results = list(pool.map(lambda channel: notify.send(channel, payload), channels))
    rows = [{"type": c["type"], "target": notify.target_of(c), "ok": r.ok, "status_code": r.status_code,
             "error": r.error} for c, r in zip(channels, results)]
    return {"ok": all(r["ok"] for r in rows), "results": rows}
