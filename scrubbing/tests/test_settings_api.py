"""GET/PUT/PATCH /api/v1/settings/scrubbing: the admin scope, validation naming the field, tenant
isolation."""
from __future__ import annotations

from typing import Any

import pytest

from conftest import Tenant, make_tenant

pytestmark = pytest.mark.django_db
URL = "/api/v1/settings/scrubbing"


@pytest.fixture
def admin_tenant(db: Any) -> Tenant:
    return make_tenant("acme", scopes=["ingest", "read", "admin"])


def test_get_shows_the_defaults_and_every_rule(admin_tenant: Tenant) -> None:
    data = admin_tenant.api.get(URL).json()
    assert data["version"] == 0 and data["disabled_rules"] == [] and data["email_mode"] == "redact"
    ids = {rule["id"] for rule in data["rules"]}
    assert {"email", "card", "iban", "phone", "jwt", "private_key", "key:password", "key:session"} <= ids
    assert all(rule["enabled"] for rule in data["rules"])


def test_the_admin_scope_is_needed(alice: Tenant) -> None:
    assert alice.api.get(URL).status_code == 403
    assert alice.api.put(URL, {"email_mode": "hash"}, format="json").status_code == 403


def test_put_replaces_patch_changes_some(admin_tenant: Tenant) -> None:
    response = admin_tenant.api.put(URL, {"disabled_rules": ["phone"], "extra_keys": ["customer_dob"],
                                          "email_mode": "hash"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 1
    response = admin_tenant.api.patch(URL, {"allow_paths": ["payload.trace.*.observation"]}, format="json")
    data = response.json()
    assert data["version"] == 2 and data["disabled_rules"] == ["phone"] and data["email_mode"] == "hash"
    assert data["allow_paths"] == ["payload.trace.*.observation"]
    assert not next(rule for rule in data["rules"] if rule["id"] == "phone")["enabled"]
    data = admin_tenant.api.put(URL, {"extra_keys": ["x"]}, format="json").json()
    assert data["disabled_rules"] == [] and data["email_mode"] == "redact" and data["allow_paths"] == []


@pytest.mark.parametrize(("body", "field"), [
    ({"custom_patterns": [{"name": "bad", "pattern": "(unclosed"}]}, "custom_patterns[0].pattern"),
    ({"custom_patterns": [{"name": "ok", "pattern": "A-[0-9]+"}, {"name": "ref", "pattern": r"(a)\1"}]},
     "custom_patterns[1].pattern"),
    ({"custom_patterns": [{"name": "look", "pattern": "(?<=x)y"}]}, "custom_patterns[0].pattern"),
    ({"custom_patterns": [{"name": "all", "pattern": ".*"}]}, "custom_patterns[0].pattern"),
    ({"custom_patterns": [{"name": "most", "pattern": "[a-z ]+"}]}, "custom_patterns[0].pattern"),
    ({"custom_patterns": [{"name": "big", "pattern": "[a-z]{1,1000}[0-9]{1,1000}"}]}, "custom_patterns[0].pattern"),
    ({"custom_patterns": [{"name": "email", "pattern": "x[0-9]"}]}, "custom_patterns[0].name"),
    ({"disabled_rules": ["no_such_rule"]}, "disabled_rules"),
    ({"allow_paths": ["nowhere.x"]}, "allow_paths[0]"),
    ({"email_mode": "encrypt"}, "email_mode"),
    ({"disable_rules": ["phone"]}, "disable_rules"),
])
def test_invalid_settings_are_a_400_naming_the_field(admin_tenant: Tenant, body: dict[str, Any], field: str) -> None:
    response = admin_tenant.api.put(URL, body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["details"], error
    assert admin_tenant.api.get(URL).json()["version"] == 0  # nothing saved


def test_a_too_slow_pattern_is_refused(admin_tenant: Tenant, monkeypatch: Any) -> None:
    from scrubbing import validation

    monkeypatch.setattr(validation, "PATTERN_BUDGET_SECONDS", 0.0)  # every pattern takes some time
    response = admin_tenant.api.put(URL, {"custom_patterns": [{"name": "ref", "pattern": "ORD-[0-9]{6}"}]},
                                    format="json")
    assert response.status_code == 400
    assert "Too slow" in response.json()["error"]["details"]["custom_patterns[0].pattern"][0]


def test_defaults_cannot_be_turned_off_when_the_operator_locks_them(admin_tenant: Tenant, settings: Any) -> None:
    settings.SCRUBBING_DEFAULTS_LOCKED = True
    response = admin_tenant.api.put(URL, {"disabled_rules": ["phone"]}, format="json")
    assert response.status_code == 400 and "disabled_rules" in response.json()["error"]["details"]
    assert admin_tenant.api.get(URL).json()["defaults_locked"] is True


def test_each_tenant_has_its_own_settings(admin_tenant: Tenant) -> None:
    other = make_tenant("globex", scopes=["ingest", "read", "admin"])
    admin_tenant.api.put(URL, {"disabled_rules": ["email"]}, format="json")
    assert other.api.get(URL).json()["disabled_rules"] == []
    body = {"environment": "prod", "status": "SUCCESS", "executed_at": "2025-01-01", "workflow_error": "jane@example.com"}
    assert admin_tenant.api.post("/api/v1/logs", body, format="json").json()["workflow_error"] == "jane@example.com"
    assert other.api.post("/api/v1/logs", body, format="json").json()["workflow_error"] == "[redacted:email]"


def test_operators_edit_the_settings_in_the_console_with_the_same_validation(admin_client: Any,
                                                                              admin_tenant: Tenant) -> None:
    url = "/admin/scrubbing/scrubbingsettings/add/"
    assert admin_client.get(url).status_code == 200
    form = {"client": admin_tenant.client.pk, "disabled_rules": ["phone"], "extra_keys": "customer_dob",
            "custom_patterns": "order_ref: (unclosed", "allow_paths": "", "email_mode": "hash"}
    page = admin_client.post(url, form)
    assert page.status_code == 200 and "custom_patterns[0].pattern" in page.content.decode()
    form["custom_patterns"] = "order_ref: ORD-[0-9]{6}"
    assert admin_client.post(url, form).status_code == 302
    data = admin_tenant.api.get(URL).json()
    assert data["disabled_rules"] == ["phone"] and data["extra_keys"] == ["customer_dob"]
    assert data["custom_patterns"] == [{"name": "order_ref", "pattern": "ORD-[0-9]{6}"}]
    assert data["email_mode"] == "hash" and data["version"] == 1 and data["updated_by"] == "staff admin"
