"""The evaluator: every ALERT_EVAL_INTERVAL_SECONDS, every rule of every tenant, by one process.

Each app process runs the loop (registered from AlertsConfig.ready()); a round starts with
`pg_try_advisory_lock` on its connection (released at the end of the round, and by PostgreSQL
if the process or its connection dies), so across all processes and servers one round runs at a
time and the others skip theirs. Rules evaluated less than 80 % of an interval ago are skipped
too, so two processes whose rounds follow each other closely do not evaluate a rule twice. No
transaction spans the round: a rule whose state moves gets its own short one (the rule re-read
and row-locked, skipped if the API changed it since the round began), in which its new state,
its event and the notifications queued for it are committed together; the rules whose state
stays get their value and time in one UPDATE at the end (a commit per rule was most of a
round's cost). One rule's failure does not lose the others', and an API change of a rule never
waits behind a round.

Evaluation only reads (the rollup, or the window's logs through indexes) and queues
notifications in the database; sending is the delivery worker's job (alerts/delivery.py), so a
slow receiver never delays an evaluation, and nothing here runs on the ingestion path.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, FloatField, Q, Value, When
from django.db.models.functions import Cast
from django.utils import timezone

from alerts import delivery, notify
from alerts.measure import Measurement, Pair, Reader, examples, measure
from alerts.models import AlertEvent, AlertRule, DeliverySummary, EventState, Kind, Notification, RuleState
from central_logger import dbguard
from central_logger import locks
from central_logger.background import ProcessLoop

logger = logging.getLogger("central_logger.alerts")

LOCK_KEYS = locks.ALERTS_EVALUATOR  # one evaluator across processes (central_logger/locks.py)
FRESH_SHARE = 0.8
QUIET_CHUNK = 500


@dataclass
class RoundSummary:
    ran: bool
    rules: int = 0
    events: int = 0
    failures: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


@contextmanager
def evaluator_lock() -> Iterator[bool]:
    """Whether this process may run a round now; the lock is held for the block."""
    locked = locks.try_lock(LOCK_KEYS)
    try:
        yield locked
    finally:
        if locked:  # before the connection goes back to the pool (a broken one takes the lock with it)
            locks.unlock(LOCK_KEYS)


def due_rules(now: dt.datetime, interval: float) -> list[AlertRule]:
    fresh = now - dt.timedelta(seconds=interval * FRESH_SHARE)
    return list(AlertRule.objects.dangerously_all_tenants().select_related("client").filter(client__is_active=True)
                .filter(Q(last_evaluated_at__isnull=True) | Q(last_evaluated_at__lte=fresh)).order_by("client_id", "id"))


def evaluate_all(*, now: dt.datetime | None = None, interval: float | None = None) -> RoundSummary:
    """One round (the loop, `manage.py evaluate_alerts`, the benchmark). `now`: the evaluation
    time (default: now, to the second); `interval`: for the freshness skip."""
    interval = settings.ALERT_EVAL_INTERVAL_SECONDS if interval is None else interval
    started = timezone.now()
    with evaluator_lock() as locked:
        if not locked:
            return RoundSummary(ran=False)
        now = (now or started).replace(microsecond=0)
        summary = RoundSummary(ran=True)
        reader, quiet = Reader(), {}
        for rule in due_rules(now, interval):
            summary.rules += 1
            try:
                m = measure(rule, now, reader)
                if _changes(rule, m, now):
                    summary.events += _apply(rule, m, now)
                else:
                    quiet[rule.pk] = m.value
            except Exception as exc:  # one broken rule must not stop the others
                summary.failures += 1
                summary.errors.append(f"rule {rule.pk}: {exc.__class__.__name__}: {exc}"[:300])
                logger.exception("alert rule %s: evaluation failed", rule.pk)
        _record_quiet(quiet, now, started)
    summary.seconds = (timezone.now() - started).total_seconds()
    return summary


def _changes(rule: AlertRule, m: Measurement, now: dt.datetime) -> bool:
    """Whether the measurement moves the rule: a state change, a new pair, a notification due."""
    if rule.kind == Kind.NEW_ERROR_TYPE:
        return set(m.new_pairs) != {(p[0], p[1]) for p in rule.reported_pairs} or (
            not m.firing and rule.state == RuleState.FIRING)
    if m.firing != (rule.state == RuleState.FIRING):
        return True
    snoozed = rule.snoozed_until is not None and rule.snoozed_until > now
    return m.firing and not snoozed and _reminder_due(rule, now)


def _record_quiet(values: dict[int, float | None], now: dt.datetime, started: dt.datetime) -> None:
    """The rules whose state stays: their value and evaluation time, a few statements for all
    (one commit per rule was most of a round's time). A rule changed through the API during
    the round (a newer updated_at) keeps what the change wrote."""
    ids = list(values)
    for chunk in (ids[i:i + QUIET_CHUNK] for i in range(0, len(ids), QUIET_CHUNK)):
        value = Cast(Case(*(When(pk=pk, then=Value(values[pk])) for pk in chunk)), FloatField())
        AlertRule.objects.dangerously_all_tenants().filter(pk__in=chunk, updated_at__lt=started).update(
            last_value=value, last_evaluated_at=now)


def _apply(rule: AlertRule, m: Measurement, now: dt.datetime) -> int:
    """The rule's state change, events and notifications, in one transaction, on the rule as it
    is now: one being changed through the API at this moment (or since the round began, or just
    deleted) waits for the next round."""
    with transaction.atomic():
        current = (AlertRule.objects.dangerously_all_tenants().select_for_update(skip_locked=True, of=("self",))
                   .select_related("client").filter(pk=rule.pk, updated_at=rule.updated_at).first())
        if current is None:
            return 0
        return evaluate_rule(current, m, now)


def evaluate_rule(rule: AlertRule, m: Measurement, now: dt.datetime) -> int:
    """Move the state, record events and queue notifications; returns the events recorded."""
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
    # Not updated_at: it tells a change of the definition (through the API) from the evaluator's.
    rule.save(update_fields=["state", "last_value", "last_evaluated_at", "state_changed_at", "last_notified_at",
                             "reported_pairs"])
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
        url=notify.logs_url(client=rule.client.slug, kind=rule.kind, filters=rule.filters or {}, start=m.start,
                            end=m.end,
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
