"""The operator console's view of alerts: every tenant's rules (snooze only, no secrets) and
events with their delivery attempts, read-only."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from alerts.evaluator import evaluate_all
from alerts.models import AlertDelivery, AlertEvent, AlertRule
from alerts.tests.conftest import SECRET, create_rule
from conftest import Tenant
from logs.tests.factories import ingest, log_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def fired(acme: Tenant, private_targets: None) -> AlertRule:
    created = create_rule(acme, name="Checkout failing")
    ingest(acme, *(log_body(executed_at=(timezone.now() - dt.timedelta(minutes=1)).isoformat(), status="FAILED")
                   for _ in range(3)))
    evaluate_all(interval=0)
    return AlertRule.objects.get(pk=created["id"])


def test_operators_see_rules_without_secrets_and_may_only_snooze(admin_client: Any, fired: AlertRule) -> None:
    listing = admin_client.get("/admin/alerts/alertrule/").content.decode()
    assert "Checkout failing" in listing and "firing" in listing and "acme" in listing
    page = admin_client.get(f"/admin/alerts/alertrule/{fired.pk}/change/").content.decode()
    assert "webhook: http://127.0.0.1:9/hook (signed)" in page and SECRET not in page
    assert 'name="snoozed_until_0"' in page and 'name="threshold"' not in page
    until = timezone.now().replace(microsecond=0) + dt.timedelta(hours=3)
    response = admin_client.post(f"/admin/alerts/alertrule/{fired.pk}/change/", {
        "snoozed_until_0": until.strftime("%Y-%m-%d"), "snoozed_until_1": until.strftime("%H:%M:%S")})
    assert response.status_code == 302, response.content[:500]
    fired.refresh_from_db()
    assert fired.snoozed_until == until and fired.threshold == 20 and fired.channels[0]["secret"] == SECRET
    assert admin_client.get("/admin/alerts/alertrule/add/").status_code == 403


def test_events_and_their_deliveries_are_read_only(admin_client: Any, fired: AlertRule) -> None:
    event = AlertEvent.objects.get()
    listing = admin_client.get("/admin/alerts/alertevent/").content.decode()
    assert "Checkout failing" in listing and "pending" in listing
    page = admin_client.get(f"/admin/alerts/alertevent/{event.pk}/change/").content.decode()
    assert "webhook: http://127.0.0.1:9/hook" in page and SECRET not in page
    assert 'name="_save"' not in page  # a view, not a form
    admin_client.post(f"/admin/alerts/alertevent/{event.pk}/change/", {"state": "resolved"})
    assert AlertEvent.objects.get().state == "firing"
    assert admin_client.post(f"/admin/alerts/alertevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AlertDelivery.objects.count() == 1
