"""A dashboard session on the API: the same tenant isolation as a read-scoped key, never ingest."""
from __future__ import annotations

import json
from typing import Any

import pytest

from logs.models import WorkflowLog
from logs.tests.factories import READ_ENDPOINTS, ingest, log_body, recent_log
from tenants.models import Client
from tenants.tests.dashboard_helpers import Browser, make_user, signed_in

pytestmark = pytest.mark.django_db


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


# --- the read API through a session: same isolation as a read key -------------------------------

@pytest.fixture
def two_tenants(alice: Any, bob: Any) -> dict[str, list[str]]:
    """alice: 2 logs (1 SUCCESS billing, 1 FAILED TimeoutError); bob: 3 logs of his own kind."""
    alice_ids = ingest(alice, recent_log(1, ticket_id="A-1", category="billing_issue"),
                       recent_log(2, ticket_id="A-2", status="FAILED", category="billing_issue",
                               workflow_error_type="TimeoutError", workflow_error_node="retriever"))
    bob_ids = ingest(bob, *[recent_log(1 + i, ticket_id=f"B-{i}", category="bob_only_category", workflow_version="v9",
                                    status="ERROR", workflow_error_type="BobError", workflow_error_node="bob_node",
                                    workflow_error="bob's secret error") for i in range(3)])
    return {"alice": alice_ids, "bob": bob_ids}


@pytest.mark.parametrize("path", READ_ENDPOINTS)
def test_every_read_endpoint_is_401_without_or_after_a_session(two_tenants: Any, path: str) -> None:
    make_user("carol", "alice")
    url = path.format(id=two_tenants["alice"][0])
    assert Browser().get(url).status_code == 401
    browser = signed_in("carol")
    assert browser.get(url).status_code == 200
    browser.post_json("/api/v1/session/logout")
    response = browser.get(url)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_session_sees_only_its_current_clients_logs_everywhere(two_tenants: Any) -> None:
    make_user("carol", "alice")
    browser = signed_in("carol")
    listed = browser.get("/api/v1/logs").json()
    assert sorted(row["ticket_id"] for row in listed["data"]) == ["A-1", "A-2"]
    assert listed["pagination"]["total"] == 2
    assert sorted(r["ticket_id"] for r in browser.get("/api/v1/logs", {"cursor": ""}).json()["data"]) == ["A-1", "A-2"]
    # Even asking for bob's values explicitly finds nothing.
    for params in ({"q": "B-"}, {"category": "bob_only_category"}, {"workflow_version": "v9"}, {"status": "ERROR"}):
        assert browser.get("/api/v1/logs", params).json()["data"] == []
    for bob_id in two_tenants["bob"]:
        response = browser.get(f"/api/v1/logs/{bob_id}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert browser.get(f"/api/v1/logs/{two_tenants['alice'][0]}").json()["ticket_id"] == "A-1"

    csv_body = b"".join(browser.get("/api/v1/logs/export").streaming_content).decode()
    assert csv_body.count("\n") == 3 and "B-" not in csv_body and "bob" not in csv_body
    ndjson = b"".join(browser.get("/api/v1/logs/export", {"format": "ndjson"}).streaming_content).decode()
    assert sorted(json.loads(line)["ticket_id"] for line in ndjson.splitlines()) == ["A-1", "A-2"]

    overview = browser.get("/api/v1/metrics/overview").json()
    assert (overview["total_tickets"], overview["error_count"], overview["success_rate"]) == (2, 1, 50.0)
    assert browser.get("/api/v1/metrics/categories").json()["data"][0]["category"] == "billing_issue"
    assert len(browser.get("/api/v1/metrics/categories").json()["data"]) == 1
    assert sum(b["count"] for b in browser.get("/api/v1/metrics/timeseries").json()["data"]) == 2
    errors = browser.get("/api/v1/metrics/errors").json()["data"]
    assert [(e["workflow_error_type"], e["count"]) for e in errors] == [("TimeoutError", 1)]
    assert [v["workflow_version"] for v in browser.get("/api/v1/metrics/versions").json()["data"]] == ["v1.2"]


def test_switching_client_switches_everything_and_only_that(two_tenants: Any) -> None:
    make_user("carol", "alice", "bob")
    browser = signed_in("carol")
    assert browser.get("/api/v1/metrics/overview").json()["total_tickets"] == 2
    browser.post_json("/api/v1/session/client", {"client": "bob"})
    assert sorted(r["ticket_id"] for r in browser.get("/api/v1/logs").json()["data"]) == ["B-0", "B-1", "B-2"]
    assert browser.get(f"/api/v1/logs/{two_tenants['alice'][0]}").status_code == 404
    assert browser.get("/api/v1/metrics/overview").json()["total_tickets"] == 3


def test_losing_the_last_membership_or_the_client_ends_api_access_at_once(two_tenants: Any) -> None:
    user = make_user("carol", "alice")
    browser = signed_in("carol")
    assert browser.get("/api/v1/logs").status_code == 200
    Client.objects.filter(slug="alice").update(is_active=False)
    assert browser.get("/api/v1/logs").status_code == 401
    Client.objects.filter(slug="alice").update(is_active=True)
    assert browser.get("/api/v1/logs").status_code == 200
    user.memberships.all().delete()
    assert browser.get("/api/v1/logs").status_code == 401


def test_an_api_key_wins_over_a_session(two_tenants: Any, bob: Any) -> None:
    make_user("carol", "alice")
    browser = signed_in("carol")
    browser.credentials(HTTP_X_API_KEY=bob.key)
    assert sorted(r["ticket_id"] for r in browser.get("/api/v1/logs").json()["data"]) == ["B-0", "B-1", "B-2"]


def test_a_session_costs_a_fixed_number_of_queries(two_tenants: Any, django_assert_max_num_queries: Any) -> None:
    make_user("carol", "alice")
    browser = signed_in("carol")
    # session + user + memberships (with client) + the list (count and rows).
    with django_assert_max_num_queries(6):
        assert browser.get("/api/v1/logs").status_code == 200


def test_read_rate_limit_counts_each_dashboard_user_separately(two_tenants: Any) -> None:
    from django.test import override_settings

    make_user("carol", "alice")
    make_user("dave", "alice")
    carol, dave = signed_in("carol"), signed_in("dave")
    with override_settings(RATE_LIMIT_READ="3/min"):
        assert [carol.get("/api/v1/logs").status_code for _ in range(3)] == [200, 200, 200]
        limited = carol.get("/api/v1/logs")
        assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
        assert int(limited["Retry-After"]) >= 1
        # Another user of the same client has a budget of their own.
        assert dave.get("/api/v1/logs").status_code == 200



@pytest.mark.parametrize("role, scopes", [("viewer", {"read"}), ("admin", {"read", "admin"})])
def test_a_session_has_the_scopes_of_its_membership_role(alice: Any, role: str, scopes: set[str]) -> None:
    """Viewers read; members with the admin role may also change their client's settings (the
    `admin` scope of the endpoints that need it). Neither can ingest."""
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from tenants.session_auth import DashboardSessionAuthentication

    user = make_user("carol", "alice", role=role)
    request = APIRequestFactory().get("/api/v1/logs")
    request.user = user
    request.session = {}
    principal, _ = DashboardSessionAuthentication().authenticate(Request(request))
    assert set(principal.scopes) == scopes and principal.client.slug == "alice"


def test_the_client_header_chooses_among_the_users_clients_per_request(two_tenants: Any) -> None:
    """Two tabs of one session on two clients: each request names its client, and the
    session's stored choice is neither used nor changed by it."""
    make_user("carol", "alice", "bob")
    browser = signed_in("carol")
    tab_b = {"HTTP_X_DASHBOARD_CLIENT": "bob"}
    tab_a = {"HTTP_X_DASHBOARD_CLIENT": "alice"}
    assert browser.get("/api/v1/metrics/overview", **tab_b).json()["total_tickets"] == 3
    assert browser.get("/api/v1/metrics/overview", **tab_a).json()["total_tickets"] == 2
    assert browser.get(f"/api/v1/logs/{two_tenants['bob'][0]}", **tab_a).status_code == 404
    assert browser.get(f"/api/v1/logs/{two_tenants['bob'][0]}", **tab_b).status_code == 200
    assert browser.get("/api/v1/session").json()["current_client"]["slug"] == "alice"  # unchanged
    assert browser.get("/api/v1/metrics/overview").json()["total_tickets"] == 2


def test_a_client_header_outside_the_memberships_is_404(two_tenants: Any, bob: Any) -> None:
    make_user("carol", "alice")
    browser = signed_in("carol")
    for slug in ("bob", "nobody", ""):
        response = browser.get("/api/v1/logs", HTTP_X_DASHBOARD_CLIENT=slug)
        assert response.status_code == 404, slug
        assert response.json()["error"]["code"] == "not_found"
    # an API key ignores the header: its client is the key's
    keyed = Browser()
    keyed.credentials(HTTP_X_API_KEY=bob.key)
    listed = keyed.get("/api/v1/logs", HTTP_X_DASHBOARD_CLIENT="alice").json()["data"]
    assert sorted(r["ticket_id"] for r in listed) == ["B-0", "B-1", "B-2"]
