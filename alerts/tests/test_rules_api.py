"""GET/POST /api/v1/alerts/rules, GET/PATCH/DELETE /api/v1/alerts/rules/{id}: scopes, tenant
scope, validation (400 naming the field), write-only secrets."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from alerts.models import AlertEvent, AlertRule
from alerts.tests.conftest import SECRET, create_rule, rule_body
from conftest import Tenant, make_tenant

pytestmark = pytest.mark.django_db


def test_creates_a_rule_and_reads_it_back(acme: Tenant, private_targets: None) -> None:
    created = create_rule(acme, filters={"environment": "prod", "category": "billing"})
    assert created["state"] == "ok" and created["last_value"] is None and created["last_event"] is None
    assert created["filters"] == {"environment": "production", "category": "billing", "workflow_version": None,
                                  "customer_type": None}
    assert created["min_runs"] == 3 and created["operator"] == "gte"
    listed = acme.api.get("/api/v1/alerts/rules").json()["data"]
    assert [r["id"] for r in listed] == [created["id"]]
    one = acme.api.get(f"/api/v1/alerts/rules/{created['id']}").json()
    assert one["name"] == "Error rate" and one["window_minutes"] == 15


def test_a_channel_secret_is_write_only_and_kept_on_update(acme: Tenant, private_targets: None) -> None:
    created = create_rule(acme)
    assert created["channels"] == [{"type": "webhook", "url": "http://127.0.0.1:9/hook", "has_secret": True}]
    for response in (acme.api.get("/api/v1/alerts/rules"), acme.api.get(f"/api/v1/alerts/rules/{created['id']}")):
        assert SECRET not in response.content.decode()
    # An update that lists the channel again without its secret keeps it.
    patched = acme.api.patch(f"/api/v1/alerts/rules/{created['id']}", {
        "channels": [{"type": "webhook", "url": "http://127.0.0.1:9/hook"}, {"type": "email", "to": "ops@acme.example"}],
    }, format="json")
    assert patched.status_code == 200, patched.content
    assert SECRET not in patched.content.decode()
    assert AlertRule.objects.get().channels[0]["secret"] == SECRET
    # A new URL needs a secret of its own.
    moved = acme.api.patch(f"/api/v1/alerts/rules/{created['id']}", {
        "channels": [{"type": "webhook", "url": "http://127.0.0.1:10/other"}]}, format="json")
    assert moved.status_code == 400 and "secret" in moved.json()["error"]["details"]["channels"]["0"]


@pytest.mark.parametrize("overrides, field", [
    ({"kind": "latency"}, "kind"),
    ({"threshold": None}, "threshold"),
    ({"kind": "duration_p95", "threshold": ...}, "threshold"),
    ({"threshold": 140}, "threshold"),
    ({"window_minutes": 0}, "window_minutes"),
    ({"window_minutes": 7 * 24 * 60 + 1}, "window_minutes"),
    ({"window_minutes": ...}, "window_minutes"),
    ({"kind": "metric_avg", "metric": "metrics.hallucination risk"}, "metric"),
    ({"kind": "metric_avg", "metric": "x" * 65}, "metric"),
    ({"kind": "metric_avg", "metric": None}, "metric"),
    ({"operator": "between"}, "operator"),
    ({"channels": [{"type": "webhook", "url": "ftp://127.0.0.1/hook", "secret": SECRET}]}, "channels"),
    ({"channels": [{"type": "slack", "url": "file:///etc/passwd"}]}, "channels"),
    ({"channels": [{"type": "webhook", "url": "http://127.0.0.1:9/hook"}]}, "channels"),
    ({"channels": [{"type": "pager", "url": "http://127.0.0.1:9/hook"}]}, "channels"),
    ({"channels": [{"type": "email", "to": "not an address"}]}, "channels"),
    ({"channels": []}, "channels"),
    ({"filters": {"environment": "moon"}}, "filters"),
    ({"statuses": ["BROKEN"]}, "statuses"),
    ({"name": "nul\x00name"}, "name"),
    ({"repeat_minutes": 0}, "repeat_minutes"),
])
def test_bad_input_is_a_400_naming_the_field(acme: Tenant, private_targets: None, overrides: dict[str, Any],
                                             field: str) -> None:
    body = rule_body(**{k: v for k, v in overrides.items() if v is not ...})
    for key in [k for k, v in overrides.items() if v is ...]:
        body.pop(key)
    response = acme.api.post("/api/v1/alerts/rules", body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["details"], error
    assert not AlertRule.objects.exists()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.1.2.3/hook", "http://192.168.0.10/",
    "http://[::1]/hook", "http://[::ffff:127.0.0.1]/hook", "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/", "http://100.64.0.1/",
])
def test_private_and_metadata_addresses_are_refused(acme: Tenant, url: str) -> None:
    response = acme.api.post("/api/v1/alerts/rules", rule_body(channels=[{"type": "slack", "url": url}]),
                             format="json")
    assert response.status_code == 400
    (message,) = response.json()["error"]["details"]["channels"]["0"]["url"]
    assert "resolves to" in message


def test_allowing_private_targets_still_refuses_metadata(acme: Tenant, private_targets: None) -> None:
    ok = acme.api.post("/api/v1/alerts/rules", rule_body(channels=[{"type": "slack", "url": "http://10.0.0.8/x"}]),
                       format="json")
    assert ok.status_code == 201
    for url in ("http://169.254.169.254/latest", "http://[fd00:ec2::254]/", "http://169.254.1.1/"):
        refused = acme.api.post("/api/v1/alerts/rules", rule_body(channels=[{"type": "slack", "url": url}]),
                                format="json")
        assert refused.status_code == 400, url


def test_reading_needs_read_and_changing_needs_admin(acme: Tenant, private_targets: None, anon: Any) -> None:
    rule = create_rule(acme)
    reader = make_tenant("acme-reader", scopes=["read"])
    reader.api.credentials(HTTP_X_API_KEY=make_key(acme, ["read"]))
    assert reader.api.get("/api/v1/alerts/rules").status_code == 200
    assert reader.api.get("/api/v1/alerts/events").status_code == 200
    url = f"/api/v1/alerts/rules/{rule['id']}"
    for response in (reader.api.post("/api/v1/alerts/rules", rule_body(), format="json"),
                     reader.api.patch(url, {"name": "x"}, format="json"), reader.api.delete(url),
                     reader.api.post(f"{url}/test")):
        assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    ingest_only = make_tenant("acme-ingest", scopes=["ingest"])
    ingest_only.api.credentials(HTTP_X_API_KEY=make_key(acme, ["ingest"]))
    assert ingest_only.api.get("/api/v1/alerts/rules").status_code == 403
    assert anon.get("/api/v1/alerts/rules").status_code == 401
    assert anon.get("/api/v1/alerts/events").status_code == 401


def make_key(tenant: Tenant, scopes: list[str]) -> str:
    from tenants.services import api_key_issue

    return api_key_issue(client=tenant.client, name="+".join(scopes), scopes=scopes).plaintext


def test_another_tenants_rule_is_a_404(acme: Tenant, private_targets: None) -> None:
    rule = create_rule(acme)
    other = make_tenant("other", scopes=["ingest", "read", "admin"])
    url = f"/api/v1/alerts/rules/{rule['id']}"
    for response in (other.api.get(url), other.api.patch(url, {"name": "mine now"}, format="json"),
                     other.api.delete(url), other.api.post(f"{url}/test")):
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert other.api.get("/api/v1/alerts/rules").json()["data"] == []
    assert AlertRule.objects.get().name == "Error rate"
    assert acme.api.get("/api/v1/alerts/rules/not-a-number").status_code == 404


def test_snooze_and_wake_a_rule(acme: Tenant, private_targets: None) -> None:
    rule = create_rule(acme)
    until = (timezone.now() + dt.timedelta(hours=2)).replace(microsecond=0)
    snoozed = acme.api.patch(f"/api/v1/alerts/rules/{rule['id']}", {"snoozed_until": until.isoformat()},
                             format="json").json()
    assert dt.datetime.fromisoformat(snoozed["snoozed_until"].replace("Z", "+00:00")) == until
    woken = acme.api.patch(f"/api/v1/alerts/rules/{rule['id']}", {"snoozed_until": None}, format="json").json()
    assert woken["snoozed_until"] is None


def test_changing_what_a_rule_measures_starts_it_again(acme: Tenant, private_targets: None) -> None:
    rule = create_rule(acme)
    AlertRule.objects.filter(pk=rule["id"]).update(state="firing", last_value=50.0)
    renamed = acme.api.patch(f"/api/v1/alerts/rules/{rule['id']}", {"name": "Renamed"}, format="json").json()
    assert renamed["state"] == "firing"  # a new name measures the same thing
    redefined = acme.api.patch(f"/api/v1/alerts/rules/{rule['id']}", {"threshold": 30}, format="json").json()
    assert redefined["state"] == "ok" and redefined["last_value"] is None


def test_deleting_a_rule_keeps_its_events(acme: Tenant, private_targets: None) -> None:
    rule = create_rule(acme)
    now = timezone.now()
    AlertEvent.objects.create(client=acme.client, rule_id=rule["id"], rule_name="Error rate", kind="error_rate",
                              state="firing", value=50, threshold=20, operator="gte", window_start=now,
                              window_end=now)
    assert acme.api.delete(f"/api/v1/alerts/rules/{rule['id']}").status_code == 204
    (event,) = acme.api.get("/api/v1/alerts/events").json()["data"]
    assert event["rule"] is None and event["rule_name"] == "Error rate"


def test_put_is_not_offered(acme: Tenant, private_targets: None) -> None:
    rule = create_rule(acme)
    response = acme.api.put(f"/api/v1/alerts/rules/{rule['id']}", rule_body(), format="json")
    assert response.status_code == 405


def test_dashboard_admins_change_rules_and_viewers_only_read(acme: Tenant, private_targets: None) -> None:
    from tenants.tests.dashboard_helpers import make_user, signed_in

    make_user("vera", "acme", role="viewer")
    make_user("adam", "acme", role="admin")
    viewer, admin = signed_in("vera"), signed_in("adam")
    assert viewer.get("/api/v1/alerts/rules").status_code == 200
    assert viewer.post_json("/api/v1/alerts/rules", rule_body()).status_code == 403
    created = admin.post_json("/api/v1/alerts/rules", rule_body())
    assert created.status_code == 201, created.content
    # Unsafe methods through a session need the CSRF token.
    assert admin.post("/api/v1/alerts/rules", rule_body(), format="json").status_code == 403


def test_a_client_has_a_bounded_number_of_rules(acme: Tenant, private_targets: None, monkeypatch: Any) -> None:
    from alerts import services

    monkeypatch.setattr(services, "MAX_RULES_PER_CLIENT", 2)
    create_rule(acme)
    create_rule(acme)
    response = acme.api.post("/api/v1/alerts/rules", rule_body(), format="json")
    assert response.status_code == 400 and "at most 2 alert rules" in response.json()["error"]["details"]["name"][0]
    assert make_tenant("fresh", scopes=["ingest", "read", "admin"]).api.post(
        "/api/v1/alerts/rules", rule_body(), format="json").status_code == 201
