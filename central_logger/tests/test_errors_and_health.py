from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from rest_framework.test import APIClient

from conftest import Tenant
from logs.tests.factories import log_body

pytestmark = pytest.mark.django_db


def test_health_reports_healthy(anon: APIClient, settings: Any) -> None:
    response = anon.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy", "service": "central-logger",
                               "environment": settings.ENVIRONMENT, "database": "ok"}


def test_health_reports_unhealthy_when_database_is_down(anon: APIClient) -> None:
    with mock.patch.object(BaseDatabaseWrapper, "ensure_connection", side_effect=OperationalError("down")):
        response = anon.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"
    assert response["Retry-After"]


def test_liveness_does_not_touch_the_database(anon: APIClient, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        assert anon.get("/health/live").json()["status"] == "alive"


def test_ingest_with_a_key_never_seen_is_503_with_retry_after_when_database_is_down(alice: Tenant) -> None:
    # A key this service has never verified cannot be checked without the database.
    # (Known keys keep ingesting into the spool: logs/tests/test_spool.py.)
    with mock.patch.object(BaseDatabaseWrapper, "ensure_connection", side_effect=OperationalError("down")):
        response = alice.api.post("/api/v1/logs", log_body(), format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"
    assert int(response["Retry-After"]) > 0
    # and it recovers by itself once the database answers again
    assert alice.api.post("/api/v1/logs", log_body(), format="json").status_code == 201


def test_unknown_api_path_is_json_404(anon: APIClient) -> None:
    response = anon.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_wrong_method_is_json_405(alice: Tenant) -> None:
    response = alice.api.delete("/api/v1/logs/batch")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_unexpected_exception_is_json_500_without_traceback(alice: Tenant) -> None:
    with mock.patch("ingestion.storage.store_many", side_effect=RuntimeError("secret detail")):
        response = alice.api.post("/api/v1/logs", log_body(), format="json")
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal_error", "message": "Internal server error.", "details": {}}}
    assert b"secret detail" not in response.content


def test_security_headers_are_set(anon: APIClient) -> None:
    response = anon.get("/health")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_value_the_database_rejects_is_400_not_a_retryable_503(alice: Tenant) -> None:
    from django.db import DataError

    with mock.patch("ingestion.storage.store_many", side_effect=DataError("value out of range")):
        response = alice.api.post("/api/v1/logs/batch", {"logs": [log_body()]}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_value"
    assert "Retry-After" not in response


@pytest.mark.parametrize("path", ["/api/v1/logs", "/health", "/admin/"])
def test_an_unknown_host_is_told_what_to_set(anon: APIClient, path: str) -> None:
    response = anon.get(path, HTTP_HOST="logs.example.com:8443")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "disallowed_host"
    assert error["message"].startswith("The host 'logs.example.com:8443' is not in ALLOWED_HOSTS: add it")
    assert "ALLOWED_HOSTS=localhost,logs.example.com" in error["message"]
    assert error["details"] == {"host": "logs.example.com:8443", "setting": "ALLOWED_HOSTS"}
