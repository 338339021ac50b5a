"""Notifications to real receivers: a signed webhook on loopback, Slack's message, e-mail through
an SMTP server (aiosmtpd); retries with backoff; what is refused and never retried."""
from __future__ import annotations

import datetime as dt
import importlib
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.db import connection
from django.utils import timezone

from alerts import delivery, notify, targets
from alerts.evaluator import evaluate_all
from alerts.models import AlertDelivery, AlertEvent
from alerts.tests.conftest import SECRET, create_rule
from alerts.tests.receivers import Receiver, SmtpServer
from conftest import Tenant
from logs.tests.factories import ingest, log_body

pytestmark = pytest.mark.django_db


def failing_logs(tenant: Tenant, n: int = 3) -> list[str]:
    now = timezone.now()
    return ingest(tenant, *(log_body(executed_at=(now - dt.timedelta(minutes=1)).isoformat(), status="FAILED",
                                     workflow_error_type="TimeoutError", workflow_error_node="crm")
                            for _ in range(n)))


def fire(tenant: Tenant, **rule: Any) -> dict[str, Any]:
    created = create_rule(tenant, **rule)
    failing_logs(tenant)
    assert evaluate_all(interval=0).events == 1
    return created


def test_a_signed_webhook_arrives_and_verifies(acme: Tenant, receiver: Receiver) -> None:
    rule = fire(acme, channels=[{"type": "webhook", "url": receiver.url, "secret": SECRET}],
                filters={"environment": "production"})
    assert delivery.deliver_due(timezone.now()) == 1
    (hit,) = receiver.received
    assert hit.signature_ok(SECRET) and not hit.signature_ok("another-secret-0123456789")
    assert abs(int(hit.headers["x-central-logger-timestamp"]) - time.time()) < 30
    body = hit.json()
    event = AlertEvent.objects.get()
    assert body["rule"] == {"id": rule["id"], "name": "Error rate", "kind": "error_rate"}
    assert body["state"] == "firing" and body["notification"] == "firing" and body["client"] == "acme"
    assert body["value"] == 100.0 and body["threshold"] == 20.0 and body["window"]["minutes"] == 15
    assert body["filters"] == {"environment": "production"} and len(body["examples"]) == 3
    assert body["url"].startswith("http://127.0.0.1:8000/dashboard/acme/logs?") and body["event_id"] == event.pk
    assert body["id"] == f"{event.pk}-{AlertDelivery.objects.get().pk}"
    assert hit.headers["x-central-logger-event"] == str(event.pk)
    assert (event.delivery_status, event.delivery_attempts, event.delivery_last_error) == ("delivered", 1, "")
    assert AlertDelivery.objects.get().channel["secret"] == ""  # not kept once delivered


def test_a_receiver_answering_500_then_200_gets_it_once_with_the_retry_recorded(
        acme: Tenant, receiver: Receiver, settings: Any) -> None:
    settings.ALERT_DELIVERY_BACKOFF_SECONDS = 10
    receiver.answers = [500]
    fire(acme, channels=[{"type": "webhook", "url": receiver.url, "secret": SECRET}])
    now = timezone.now()
    delivery.deliver_due(now)
    row = AlertDelivery.objects.get()
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == ("pending", 1, 500, "HTTP 500")
    assert len(row.response_excerpt) == targets.EXCERPT_CHARS  # 5,000 bytes answered, 512 kept
    assert dt.timedelta(seconds=9) < row.next_attempt_at - now < dt.timedelta(seconds=12)
    event = AlertEvent.objects.get()
    assert (event.delivery_status, event.delivery_attempts, event.delivery_last_error) == ("pending", 1, "HTTP 500")
    assert delivery.deliver_due(now + dt.timedelta(seconds=5)) == 0  # not due yet
    assert delivery.deliver_due(now + dt.timedelta(seconds=12)) == 1
    assert len(receiver.received) == 2 and receiver.received[0].body == receiver.received[1].body
    assert delivery.deliver_due(now + dt.timedelta(hours=1)) == 0  # delivered: never again
    event.refresh_from_db()
    assert (event.delivery_status, event.delivery_attempts, event.delivery_last_error) == ("delivered", 2, "HTTP 500")


def test_backoff_doubles_and_gives_up_after_the_retry_period(acme: Tenant, receiver: Receiver,
                                                             settings: Any) -> None:
    settings.ALERT_DELIVERY_BACKOFF_SECONDS = 5
    settings.ALERT_DELIVERY_RETRY_SECONDS = 60
    receiver.answers = [503] * 10
    fire(acme, channels=[{"type": "webhook", "url": receiver.url, "secret": SECRET}])
    assert [delivery.backoff(n) for n in (1, 2, 3, 4, 10)] == [5, 10, 20, 40, 300]
    now = timezone.now()
    for _ in range(6):
        delivery.deliver_due(now)
        now += dt.timedelta(seconds=45)
    row = AlertDelivery.objects.get()
    # Tried at 0, 45 (due at 5), 90 (due at 55); the next try (90 + 20) would be past 60 s.
    assert (row.status, row.attempts) == ("failed", 3)
    assert AlertEvent.objects.get().delivery_status == "failed"


@pytest.mark.parametrize("status, retried", [(404, False), (400, False), (429, True), (502, True), (301, False)])
def test_what_is_retried(acme: Tenant, receiver: Receiver, status: int, retried: bool) -> None:
    receiver.answers, receiver.location = [status], "http://127.0.0.1:1/elsewhere"
    fire(acme, channels=[{"type": "webhook", "url": receiver.url, "secret": SECRET}])
    delivery.deliver_due(timezone.now())
    row = AlertDelivery.objects.get()
    assert row.status == ("pending" if retried else "failed")
    assert len(receiver.received) == 1  # a redirect is not followed
    if status == 301:
        assert "redirects are not followed" in row.last_error


def test_a_target_that_turns_private_is_refused_at_send_time(acme: Tenant, receiver: Receiver,
                                                              settings: Any) -> None:
    fire(acme, channels=[{"type": "webhook", "url": receiver.url, "secret": SECRET}])
    settings.ALERT_ALLOW_PRIVATE_TARGETS = False  # as if the name now resolved inside
    delivery.deliver_due(timezone.now())
    row = AlertDelivery.objects.get()
    assert row.status == "failed" and row.last_error.startswith("refused:") and "127.0.0.1" in row.last_error
    assert receiver.received == []


def test_an_unreachable_receiver_is_retried(acme: Tenant, private_targets: None) -> None:
    closed = Receiver()
    url = closed.url
    closed.close()
    fire(acme, channels=[{"type": "webhook", "url": url, "secret": SECRET}])
    delivery.deliver_due(timezone.now())
    row = AlertDelivery.objects.get()
    assert row.status == "pending" and "ConnectionRefusedError" in row.last_error


def test_a_slow_receiver_times_out(acme: Tenant, receiver: Receiver, settings: Any) -> None:
    settings.ALERT_DELIVERY_TIMEOUT_SECONDS = 0.5
    receiver.delay = 2
    fire(acme, channels=[{"type": "webhook", "url": receiver.url, "secret": SECRET}])
    started = time.monotonic()
    delivery.deliver_due(timezone.now())
    assert time.monotonic() - started < 1.5
    assert "timed out" in AlertDelivery.objects.get().last_error


def test_slack_gets_a_readable_message_with_a_link(acme: Tenant, receiver: Receiver) -> None:
    fire(acme, name="CRM timeouts", kind="error_count", threshold=3, error_type="TimeoutError",
         channels=[{"type": "slack", "url": receiver.url}])
    delivery.deliver_due(timezone.now())
    message = receiver.received[0].json()
    assert message["text"] == ("[FIRING] CRM timeouts: failing runs 3 (threshold ≥ 3) over the last 15 min "
                               "(acme)")
    block = message["blocks"][0]["text"]["text"]
    assert "|View the matching logs in Central Logger>" in block and "workflow_error_type=TimeoutError" in block
    assert "x-central-logger-signature" not in receiver.received[0].headers


def test_email_goes_through_the_smtp_server(acme: Tenant, smtp: SmtpServer, receiver: Receiver) -> None:
    fire(acme, kind="metric_avg", metric="overall_confidence", operator="gt", threshold=0.5,
         channels=[{"type": "email", "to": "oncall@acme.example"}])
    delivery.deliver_due(timezone.now())
    ((recipients, message),) = smtp.messages
    assert recipients == ["oncall@acme.example"]
    assert message["Subject"].strip().startswith("[FIRING] Error rate: metrics.overall_confidence average 0.95")
    text = message.get_content()
    assert "Matching logs: http://127.0.0.1:8000/dashboard/acme/logs?" in text
    assert AlertEvent.objects.get().delivery_status == "delivered"


def test_an_smtp_server_that_is_down_is_retried(acme: Tenant, settings: Any, private_targets: None) -> None:
    from alerts.tests.receivers import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    fire(acme, channels=[{"type": "email", "to": "oncall@acme.example"}])
    delivery.deliver_due(timezone.now())
    assert AlertDelivery.objects.get().status == "pending"


def test_the_test_button_sends_on_every_channel_and_reports_each(acme: Tenant, receiver: Receiver,
                                                                 smtp: SmtpServer) -> None:
    broken = Receiver(answers=[500])
    try:
        rule = create_rule(acme, channels=[{"type": "webhook", "url": receiver.url, "secret": SECRET},
                                           {"type": "slack", "url": broken.url},
                                           {"type": "email", "to": "oncall@acme.example"}])
        response = acme.api.post(f"/api/v1/alerts/rules/{rule['id']}/test")
    finally:
        broken.close()
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is False
    assert [(r["type"], r["ok"], r["status_code"]) for r in body["results"]] == [
        ("webhook", True, 200), ("slack", False, 500), ("email", True, None)]
    assert receiver.received[0].signature_ok(SECRET) and receiver.received[0].json()["state"] == "test"
    assert len(smtp.messages) == 1 and smtp.messages[0][1]["Subject"].strip() == (
        "[TEST] Error rate: a test notification (the rule has no value yet; window 15 min) (acme)")
    assert not AlertDelivery.objects.exists() and not AlertEvent.objects.exists()


def test_two_workers_never_claim_the_same_delivery(acme: Tenant, receiver: Receiver) -> None:
    fire(acme, channels=[{"type": "webhook", "url": receiver.url, "secret": SECRET}] * 3)
    now = timezone.now()
    first = delivery.claim(now, limit=2)
    second = delivery.claim(now, limit=5)
    assert len(first) == 2 and len(second) == 1
    assert not {r.pk for r in first} & {r.pk for r in second}
    assert delivery.claim(now) == []
    # A sender that died: its lease runs out and another takes the row.
    assert len(delivery.claim(now + delivery.LEASE + dt.timedelta(seconds=1))) == 3


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    assert notify.signature("key", "1700000000", b'{"a":1}') == (
        "sha256=" + __import__("hmac").new(b"key", b'1700000000.{"a":1}', "sha256").hexdigest())


def test_the_link_opens_the_rules_client_and_its_matching_logs(acme: Tenant, private_targets: None) -> None:
    """The notification's link is the dashboard route of the rule's client (`/dashboard/<slug>/
    logs`: without the slug the dashboard opened the logs of whichever client the reader used
    last), and its query, passed by the dashboard to the API under the same names, lists exactly
    the logs that fired the rule."""
    ingest(acme, log_body(executed_at=(timezone.now() - dt.timedelta(minutes=2)).isoformat(), status="FAILED",
                          environment="staging"))  # outside the rule's filter
    fire(acme, kind="error_count", threshold=1, statuses=["FAILED"], filters={"environment": "production"})
    event = AlertEvent.objects.get()
    url = urlsplit(event.url)
    assert (url.scheme, url.netloc, url.path) == ("http", "127.0.0.1:8000", "/dashboard/acme/logs")
    query = dict(parse_qsl(url.query))
    assert set(query) == {"start_date", "end_date", "environment", "status"}
    assert (query["environment"], query["status"]) == ("production", "FAILED")
    listed = acme.api.get("/api/v1/logs", query)
    assert listed.status_code == 200, listed.content
    assert sorted(row["id"] for row in listed.json()["data"]) == sorted(event.examples)
    # To the microsecond: the list's end_date is inclusive, the window half-open.
    start = dt.datetime.fromisoformat(query["start_date"])
    end = dt.datetime.fromisoformat(query["end_date"])
    assert (start, end + dt.timedelta(microseconds=1)) == (event.window_start, event.window_end)
    # the test button's payload links the same way
    assert notify.logs_url(client="acme-eu", kind="error_rate", filters={}, start=timezone.now(),
                           end=timezone.now()).split("?")[0] == "http://127.0.0.1:8000/dashboard/acme-eu/logs"


def test_links_recorded_before_the_client_was_in_them_get_it(acme: Tenant, private_targets: None) -> None:
    """alerts migration 0002 rewrites the stored link of older events (a reminder repeats it)."""
    migration = importlib.import_module("alerts.migrations.0002_event_links_with_client")
    fire(acme)
    event = AlertEvent.objects.get()
    old = event.url.replace("/dashboard/acme/logs?", "/dashboard/logs?")
    AlertEvent.objects.filter(pk=event.pk).update(url=old)
    with connection.cursor() as cursor:
        cursor.execute(migration.FORWARD)
    assert AlertEvent.objects.get().url == event.url
    with connection.cursor() as cursor:
        cursor.execute(migration.BACKWARD)
    assert AlertEvent.objects.get().url == old
