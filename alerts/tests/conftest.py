"""Fixtures of the alerts tests: a tenant with an admin key, real receivers, rule helpers."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from alerts.tests.receivers import Receiver, SmtpServer
from conftest import Tenant, make_tenant

SECRET = "s3cret-signing-key-0123456789"


@pytest.fixture
def acme(db: Any) -> Tenant:
    """A tenant whose key has every scope (ingest, read, admin)."""
    return make_tenant("acme", scopes=["ingest", "read", "admin"])


@pytest.fixture
def private_targets(settings: Any) -> None:
    """The test receivers live on 127.0.0.1."""
    settings.ALERT_ALLOW_PRIVATE_TARGETS = True


@pytest.fixture
def receiver(private_targets: None) -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpServer]:
    server = SmtpServer()
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    yield server
    server.close()


def rule_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Error rate", "kind": "error_rate", "threshold": 20, "window_minutes": 15,
                            "min_runs": 3, "channels": [{"type": "webhook", "url": "http://127.0.0.1:9/hook",
                                                         "secret": SECRET}]}
    body.update(overrides)
    return body


def create_rule(tenant: Tenant, **overrides: Any) -> dict[str, Any]:
    response = tenant.api.post("/api/v1/alerts/rules", rule_body(**overrides), format="json")
    assert response.status_code == 201, response.content
    return response.json()
