"""A dashboard session on the API: the same tenant isolation as a read-scoped key, never ingest."""
from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from logs.models import WorkflowLog
from logs.tests.factories import log_body
from tenants.tests.dashboard_helpers import make_user, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache() -> Any:
    cache.clear()
    yield
    cache.clear()


def test_session_user_cannot_ingest(alice: Any) -> None:
    make_user("carol", "alice", role="admin")
    browser = signed_in("carol")
    one = browser.post_json("/api/v1/logs", log_body())
    batch = browser.post_json("/api/v1/logs/batch", {"logs": [log_body()]})
    assert one.status_code == 403 and batch.status_code == 403
    assert one.json()["error"]["code"] == "permission_denied"
    assert not WorkflowLog.objects.exists()


def test_session_post_without_csrf_token_is_refused(alice: Any) -> None:
    make_user("carol", "alice")
    browser = signed_in("carol")
    response = browser.post("/api/v1/logs", log_body(), format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]
