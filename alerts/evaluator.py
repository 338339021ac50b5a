"""The evaluator: every ALERT_EVAL_INTERVAL_SECONDS, every rule of every tenant, by one process.

Each app process runs the loop (registered from AlertsConfig.ready()); a round starts with
`pg_try_advisory_xact_lock`, so across all processes and servers one round runs at a time and
the others skip theirs. Rules evaluated less than 80 % of an interval ago are skipped too, so
two processes whose rounds follow each other closely do not evaluate a rule twice. The round is
one transaction: the lock lives as long as it, and a rule's new state, its event and the
notifications queued for it are committed together (each rule in a savepoint: one rule's
failure does not lose the others').

Evaluation only reads (the rollup, or the window's logs through indexes) and queues
notifications in the database; sending is the delivery worker's job (alerts/delivery.py), so a
slow receiver never delays an evaluation, and nothing here runs on the ingestion path.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from alerts import delivery, notify
from alerts.measure import Measurement, Pair, Reader, examples, measure
from alerts.models import AlertEvent, AlertRule, DeliverySummary, EventState, Kind, Notification, RuleState
from central_logger import dbguard
from central_logger.background import ProcessLoop

logger = logging.getLogger("central_logger.alerts")

# pg_try_advisory_xact_lock(key1, key2): "alerts" and "evaluator".
LOCK_KEYS = (727002, 1)
FRESH_SHARE = 0.8


@dataclass
class RoundSummary:
    ran: bool
    rules: int = 0
    events: int = 0
    failures: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def _locked() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", list(LOCK_KEYS))
        return bool(cursor.fetchone()[0])


def due_rules(now: dt.datetime, interval: float) -> list[AlertRule]:
    fresh = now - dt.timedelta(seconds=interval * FRESH_SHARE)
    return list(AlertRule.objects.dangerously_all_tenants().select_related("client")
                .filter(client__is_active=True)
                .filter(Q(last_evaluated_at__isnull=True) | Q(last_evaluated_at__lte=fresh)).order_by("client_id", "id"))


def evaluate_all(*, now: dt.datetime | None = None, interval: float | None = None) -> RoundSummary:
    """One round (the loop, `manage.py evaluate_alerts`, the benchmark). `now`: the evaluation
    time (default: the database's clock, to the second); `interval`: for the freshness skip."""
    interval = settings.ALERT_EVAL_INTERVAL_SECONDS if interval is None else interval
    started = timezone.now()
    with transaction.atomic():
        if not _locked():
            return RoundSummary(ran=False)
        now = (now or timezone.now()).replace(microsecond=0)
        summary = RoundSummary(ran=True)
        reader = Reader()
        for rule in due_rules(now, interval):
            summary.rules += 1
            try:
                with transaction.atomic():
                    summary.events += evaluate_rule(rule, now, reader)
            except Exception as exc:  # one broken rule must not stop the others
                summary.failures += 1
                summary.errors.append(f"rule {rule.pk}: {exc.__class__.__name__}: {exc}"[:300])
                logger.exception("alert rule %s: evaluation failed", rule.pk)
    summary.seconds = (timezone.now() - started).total_seconds()
    return summary


def evaluate_rule(rule: AlertRule, now: dt.datetime, reader: Reader) -> int:
    """Measure, move the state, record events and queue notifications; returns events recorded."""
    m = measure(rule, now, reader)
    snoozed = rule.snoozed_until is not None and rule.snoozed_until > now
    events = 0
    if rule.kind == Kind.NEW_ERROR_TYPE:
        events = _new_pairs(rule, m, now, snoozed)
    elif m.firing and rule.state != RuleState.FIRING:
        _record(rule, m, now, EventState.FIRING, snoozed)
        events = 1
    elif not m.firing and rule.state == RuleState.FIRING:
        _record(rule, m, now, EventState.RESOLVED, snoozed)
        events = 1
    elif m.firing and not snoozed and _reminder_due(rule, now):
        event = AlertEvent.objects.for_client(rule.client).filter(rule=rule, state=EventState.FIRING).first()
        if event is not None:
            _queue(rule, event, Notification.FIRING if rule.last_notified_at is None else Notification.REMINDER,
                   m, now)
            rule.last_notified_at = now
    rule.last_value = m.value
    rule.last_evaluated_at = now
    rule.save(update_fields=["state", "last_value", "last_evaluated_at", "state_changed_at", "last_notified_at",
                             "reported_pairs", "updated_at"])
    return events


def _reminder_due(rule: AlertRule, now: dt.datetime) -> bool:
    if rule.last_notified_at is None:
        return True  # it started firing while snoozed: tell the team now that the snooze is over
    return bool(rule.repeat_minutes) and now - rule.last_notified_at >= dt.timedelta(minutes=rule.repeat_minutes or 0)


def _new_pairs(rule: AlertRule, m: Measurement, now: dt.datetime, snoozed: bool) -> int:
    """new_error_type: one firing event per pair not announced yet; resolved when none is new."""
    reported = {(p[0], p[1]) for p in rule.reported_pairs}
    fresh = [p for p in m.new_pairs if p not in reported]
    for pair in fresh:
        _record(rule, m, now, EventState.FIRING, snoozed, pair=pair)
    if fresh:
        rule.reported_pairs = [list(p) for p in sorted(reported | set(fresh), key=lambda p: (p[0], p[1] or ""))]
        return len(fresh)
    if not m.firing and rule.state == RuleState.FIRING:
        _record(rule, m, now, EventState.RESOLVED, snoozed)
        rule.reported_pairs = []
        return 1
    rule.reported_pairs = [list(p) for p in reported if p in set(m.new_pairs)] if m.firing else []
    return 0


def _record(rule: AlertRule, m: Measurement, now: dt.datetime, state: str, snoozed: bool,
            pair: Pair | None = None) -> AlertEvent:
    detail = dict(m.detail)
    if pair is not None:
        detail["pairs"] = [list(pair)]
    if rule.kind == Kind.METRIC_AVG:
        detail["metric"] = rule.metric
    event = AlertEvent.objects.create(
        client=rule.client, rule=rule, rule_name=rule.name, kind=rule.kind, state=state, value=m.value,
        threshold=rule.threshold, operator=rule.operator, window_start=m.start, window_end=m.end,
        filters=rule.filters or {}, detail=detail,
        examples=examples(rule, m, pair) if state == EventState.FIRING else [],
        url=notify.logs_url(kind=rule.kind, filters=rule.filters or {}, start=m.start, end=m.end,
                            statuses=rule.statuses, error_type=pair[0] if pair else rule.error_type,
                            error_node=pair[1] if pair else rule.error_node))
    told = rule.last_notified_at is not None
    if state == EventState.FIRING:
        rule.state, rule.state_changed_at = RuleState.FIRING, now
        rule.last_notified_at = None if snoozed else now
        if not snoozed:
            _queue(rule, event, Notification.FIRING, m, now)
    else:
        rule.state, rule.state_changed_at, rule.last_notified_at = RuleState.OK, now, None
        if told and not snoozed:  # nobody is told of a recovery from a firing they never heard of
            _queue(rule, event, Notification.RESOLVED, m, now)
    if snoozed:
        AlertEvent.objects.filter(pk=event.pk).update(delivery_status=DeliverySummary.SNOOZED)
    return event


def _queue(rule: AlertRule, event: AlertEvent, notification: str, m: Measurement, now: dt.datetime) -> None:
    payload = event_payload(rule, event, notification)
    delivery.enqueue(event, notification, rule.channels, payload, now)


def event_payload(rule: AlertRule, event: AlertEvent, notification: str) -> dict[str, Any]:
    """The webhook body of an event's notification (alerts/notify.py documents it)."""
    return {
        "event_id": event.pk, "notification": notification, "state": event.state,
        "rule": {"id": rule.pk, "name": rule.name, "kind": rule.kind},
        "value": event.value, "threshold": event.threshold, "operator": event.operator,
        "window": {"start": notify.iso(event.window_start), "end": notify.iso(event.window_end),
                   "minutes": rule.window_minutes},
        "filters": event.filters, "client": rule.client.slug, "examples": event.examples, "url": event.url,
        "detail": event.detail,
    }


def _round() -> None:
    interval = settings.ALERT_EVAL_INTERVAL_SECONDS
    with dbguard.db_deadline(max(30.0, 2 * interval)):
        summary = evaluate_all(interval=interval)
    if summary.ran and (summary.events or summary.failures):
        logger.info("alerts: %s rules, %s events, %s failures in %.3fs", summary.rules, summary.events,
                    summary.failures, summary.seconds)


evaluator = ProcessLoop("alert-evaluator", lambda: settings.ALERT_EVAL_INTERVAL_SECONDS, _round)
