"""The notification queue (`alert_deliveries`) and the worker that drains it.

Guarantees:
* nothing waits on a receiver but this worker: the evaluator only inserts rows, ingestion never
  touches them;
* one notification is sent by one process: a worker claims due rows with
  `SELECT ... FOR UPDATE SKIP LOCKED` and a lease (status `sending`, `lease_until`) in a short
  transaction, sends outside any transaction, then records the result. Two processes never
  claim the same row; only a process that dies between sending and recording leaves a row
  whose lease then runs out, and that row is sent again (at least once, never silently lost);
* a failure worth retrying (network error, timeout, HTTP 5xx, 408, 425, 429, an SMTP error) is
  retried with exponential backoff (ALERT_DELIVERY_BACKOFF_SECONDS, doubling, at most 300 s
  apart) until ALERT_DELIVERY_RETRY_SECONDS after it was queued; other answers (4xx, a
  redirect, a refused address) fail at once. Each attempt is recorded on the row, and the
  event's `delivery_status`, `delivery_attempts` and `delivery_last_error` sum up its rows.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from alerts import notify
from alerts.models import AlertDelivery, AlertEvent, DeliveryStatus, DeliverySummary
from central_logger import dbguard
from central_logger.background import ProcessLoop

logger = logging.getLogger("central_logger.alerts")

LEASE = dt.timedelta(seconds=120)
MAX_BACKOFF_SECONDS = 300.0
CLAIM_BATCH = 20
DB_SECONDS = 10.0  # bound of each claim and record (the sends have their own timeouts)


def enqueue(event: AlertEvent, notification: str, channels: list[dict[str, Any]], payload: dict[str, Any],
            now: dt.datetime) -> list[AlertDelivery]:
    """Queue one delivery per channel (in the caller's transaction: the evaluator's round)."""
    give_up = now + dt.timedelta(seconds=settings.ALERT_DELIVERY_RETRY_SECONDS)
    rows = [AlertDelivery(client_id=event.client_id, event=event, notification=notification, channel=channel,
                          payload=payload, next_attempt_at=now, give_up_at=give_up) for channel in channels]
    created = AlertDelivery.objects.bulk_create(rows)
    for row in created:
        # The id the receivers see, the same on every retry of this notification.
        row.payload = {"id": f"{event.pk}-{row.pk}", **payload}
    AlertDelivery.objects.bulk_update(created, ["payload"])
    if created:
        AlertEvent.objects.filter(pk=event.pk).update(delivery_status=DeliverySummary.PENDING)
    return created


def claim(now: dt.datetime, limit: int = CLAIM_BATCH) -> list[AlertDelivery]:
    """Due deliveries of every tenant, each leased to this process alone."""
    with transaction.atomic():
        due = (AlertDelivery.objects.dangerously_all_tenants().select_for_update(skip_locked=True)
               .filter(Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
                       | Q(status=DeliveryStatus.SENDING, lease_until__lte=now))
               .order_by("next_attempt_at", "id")[:limit])
        rows = list(due)
        for row in rows:
            row.status, row.lease_until = DeliveryStatus.SENDING, now + LEASE
        AlertDelivery.objects.bulk_update(rows, ["status", "lease_until"])
    return rows


def backoff(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`."""
    return min(settings.ALERT_DELIVERY_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)


def record(row: AlertDelivery, result: notify.Result, now: dt.datetime) -> None:
    row.attempts += 1
    row.last_status_code = result.status_code
    row.response_excerpt = result.excerpt[: notify.targets.EXCERPT_CHARS]
    row.lease_until = None
    if result.ok:  # the last error, if any, stays: "delivered at the 3rd attempt, after HTTP 500"
        row.status, row.delivered_at = DeliveryStatus.DELIVERED, now
    else:
        row.last_error = result.error[:1000]
        retry_at = now + dt.timedelta(seconds=backoff(row.attempts))
        if result.retry and retry_at < row.give_up_at:
            row.status, row.next_attempt_at = DeliveryStatus.PENDING, retry_at
        else:
            row.status = DeliveryStatus.FAILED
    if row.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED) and row.channel.get("secret"):
        row.channel = {**row.channel, "secret": ""}  # finished: the secret is not kept twice
    with transaction.atomic():
        row.save(update_fields=["attempts", "last_status_code", "response_excerpt", "lease_until", "status",
                                "delivered_at", "last_error", "next_attempt_at", "channel"])
        summarize(row.event_id)


def summarize(event_id: int) -> None:
    """The event's delivery summary from its rows."""
    rows = AlertDelivery.objects.dangerously_all_tenants().filter(event_id=event_id)
    statuses = set(rows.values_list("status", flat=True))
    attempts = rows.aggregate(n=Sum("attempts"))["n"] or 0
    last = rows.exclude(last_error="").order_by("-id").values_list("last_error", flat=True).first() or ""
    if statuses & {DeliveryStatus.PENDING, DeliveryStatus.SENDING}:
        status = DeliverySummary.PENDING
    elif DeliveryStatus.FAILED in statuses:
        status = DeliverySummary.FAILED
    else:
        status = DeliverySummary.DELIVERED
    AlertEvent.objects.filter(pk=event_id).update(delivery_status=status, delivery_attempts=attempts,
                                                  delivery_last_error=last)


def deliver_due(now: dt.datetime | None = None) -> int:
    """Send every due notification once (the loop, `manage.py deliver_alerts`, tests); returns
    how many were attempted."""
    attempted = 0
    while True:
        with dbguard.db_deadline(DB_SECONDS):
            rows = claim(now or timezone.now())
        if not rows:
            break
        for row in rows:
            result = notify.send(row.channel, row.payload)
            with dbguard.db_deadline(DB_SECONDS):
                record(row, result, now or timezone.now())
            attempted += 1
            if not result.ok:
                logger.warning("alert delivery %s (%s): %s", row.pk, row.channel.get("type"), result.error)
        if now is not None or deliverer.stopping:
            break
    return attempted


deliverer = ProcessLoop("alert-delivery", lambda: settings.ALERT_DELIVERY_INTERVAL_SECONDS, deliver_due)
