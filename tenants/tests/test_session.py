"""The /api/v1/session endpoints: sign-in, sign-out, throttling, client switching, CSRF."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from tenants.models import Client
from tenants.tests.dashboard_helpers import PASSWORD, Browser, make_user, signed_in

pytestmark = pytest.mark.django_db


def test_session_get_is_401_when_signed_out() -> None:
    response = Browser().get("/api/v1/session")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_login_returns_user_memberships_and_current_client(alice: Any, bob: Any) -> None:
    make_user("carol", "bob", "alice", role="admin")
    browser = Browser()
    response = browser.sign_in("carol")
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {"username": "carol", "email": "carol@example.com"}
    # Ordered by slug; the first one is the default current client.
    assert [m["slug"] for m in body["memberships"]] == ["alice", "bob"]
    assert body["current_client"] == {"slug": "alice", "name": "Alice", "role": "admin"}
    expires = dt.datetime.fromisoformat(body["session_expires_at"].replace("Z", "+00:00"))
    assert abs((expires - timezone.now()).total_seconds() - 12 * 3600) < 60
    assert browser.get("/api/v1/session").json()["current_client"]["slug"] == "alice"


def test_login_rejects_wrong_password_with_401(alice: Any) -> None:
    make_user("carol", "alice")
    response = Browser().sign_in("carol", "wrong")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


def test_login_rejects_unknown_user_with_same_answer(alice: Any) -> None:
    response = Browser().sign_in("nobody", "whatever")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Wrong username or password."


@pytest.mark.parametrize("body", [{}, {"username": "carol"}, {"password": PASSWORD}, {"username": "", "password": "x"}])
def test_login_validates_input(alice: Any, body: dict[str, str]) -> None:
    browser = Browser()
    response = browser.post_json("/api/v1/session/login", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_login_needs_csrf_token(alice: Any) -> None:
    make_user("carol", "alice")
    browser = Browser()
    response = browser.post("/api/v1/session/login", {"username": "carol", "password": PASSWORD}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]
    assert browser.get("/api/v1/session").status_code == 401


def test_login_refuses_user_without_membership(alice: Any) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("operator", password=PASSWORD)
    browser = Browser()
    response = browser.sign_in("operator")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "no_membership"
    assert browser.get("/api/v1/session").status_code == 401


def test_login_refuses_inactive_user(alice: Any) -> None:
    user = make_user("carol", "alice")
    user.is_active = False
    user.save()
    assert Browser().sign_in("carol").status_code == 401


def test_login_ignores_memberships_of_inactive_clients(alice: Any) -> None:
    make_user("carol", "alice")
    Client.objects.filter(slug="alice").update(is_active=False)
    assert Browser().sign_in("carol").json()["error"]["code"] == "no_membership"


@override_settings(DASHBOARD_LOGIN_MAX_ATTEMPTS=3, DASHBOARD_LOGIN_WINDOW_SECONDS=600)
def test_login_is_throttled_per_username_and_ip(alice: Any) -> None:
    make_user("carol", "alice")
    make_user("dave", "alice")
    browser = Browser()
    for _ in range(3):
        assert browser.sign_in("carol", "wrong").status_code == 401
    # Fourth attempt: refused before the password is even checked, the right one included.
    blocked = browser.sign_in("carol", PASSWORD)
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "rate_limited"
    retry_after = int(blocked["Retry-After"])
    assert 590 <= retry_after <= 601
    assert blocked.json()["error"]["details"]["retry_after"] == retry_after
    # Another username from the same address, and the same username from another address, still work.
    assert Browser().sign_in("dave").status_code == 200
    assert Browser().sign_in("carol", REMOTE_ADDR="10.0.0.9").status_code == 200


@override_settings(DASHBOARD_LOGIN_MAX_ATTEMPTS=3, DASHBOARD_LOGIN_WINDOW_SECONDS=600)
def test_successful_login_resets_the_failure_count(alice: Any) -> None:
    make_user("carol", "alice")
    browser = Browser()
    for _ in range(2):
        browser.sign_in("carol", "wrong")
    assert browser.sign_in("carol").status_code == 200
    browser = Browser()
    for _ in range(2):
        assert browser.sign_in("carol", "wrong").status_code == 401
    assert browser.sign_in("carol").status_code == 200


@override_settings(DASHBOARD_LOGIN_MAX_ATTEMPTS=2, DASHBOARD_LOGIN_WINDOW_SECONDS=600)
def test_throttle_window_expires(alice: Any, monkeypatch: Any) -> None:
    import time as time_module

    make_user("carol", "alice")
    browser = Browser()
    now = time_module.time()
    monkeypatch.setattr("central_logger.ratelimit.time.time", lambda: now)
    for _ in range(2):
        browser.sign_in("carol", "wrong")
    assert browser.sign_in("carol").status_code == 429
    monkeypatch.setattr("central_logger.ratelimit.time.time", lambda: now + 601)
    assert browser.sign_in("carol").status_code == 200


def test_logout_ends_the_session_server_side(alice: Any) -> None:
    make_user("carol", "alice")
    browser = signed_in("carol")
    old_session = browser.cookies["sessionid"].value
    assert browser.post_json("/api/v1/session/logout").status_code == 204
    assert browser.get("/api/v1/session").status_code == 401
    # Replaying the old cookie does not bring the session back.
    replay = Browser()
    replay.cookies["sessionid"] = old_session
    assert replay.get("/api/v1/session").status_code == 401
    assert replay.get("/api/v1/logs").status_code == 401


def test_logout_needs_csrf_token(alice: Any) -> None:
    make_user("carol", "alice")
    browser = signed_in("carol")
    assert browser.post("/api/v1/session/logout").status_code == 403
    assert browser.get("/api/v1/session").status_code == 200


def test_logout_when_signed_out_is_harmless() -> None:
    assert Browser().post_json("/api/v1/session/logout").status_code == 204


def test_switch_client_changes_what_the_read_api_sees(alice: Any, bob: Any) -> None:
    make_user("carol", "alice", "bob")
    browser = signed_in("carol")
    response = browser.post_json("/api/v1/session/client", {"client": "bob"})
    assert response.status_code == 200
    assert response.json()["current_client"]["slug"] == "bob"
    assert browser.get("/api/v1/session").json()["current_client"]["slug"] == "bob"


def test_switch_to_a_client_you_are_not_a_member_of_is_404(alice: Any, bob: Any) -> None:
    make_user("carol", "alice")
    browser = signed_in("carol")
    for slug in ("bob", "no-such-client"):
        response = browser.post_json("/api/v1/session/client", {"client": slug})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert browser.get("/api/v1/session").json()["current_client"]["slug"] == "alice"


def test_switch_client_is_401_when_signed_out(alice: Any) -> None:
    assert Browser().post_json("/api/v1/session/client", {"client": "alice"}).status_code == 401


def test_losing_the_current_membership_falls_back_to_another(alice: Any, bob: Any) -> None:
    user = make_user("carol", "alice", "bob")
    browser = signed_in("carol")
    browser.post_json("/api/v1/session/client", {"client": "bob"})
    user.memberships.filter(client__slug="bob").delete()
    assert browser.get("/api/v1/session").json()["current_client"]["slug"] == "alice"


def test_session_expires_after_session_cookie_age(alice: Any) -> None:
    make_user("carol", "alice")
    with override_settings(SESSION_COOKIE_AGE=1):
        browser = signed_in("carol")
    from django.contrib.sessions.models import Session

    Session.objects.update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    assert browser.get("/api/v1/session").status_code == 401


def test_session_end_is_absolute_not_extended_by_activity(alice: Any, bob: Any) -> None:
    make_user("carol", "alice", "bob")
    browser = signed_in("carol")
    first = browser.get("/api/v1/session").json()["session_expires_at"]
    browser.post_json("/api/v1/session/client", {"client": "bob"})  # a session write
    assert browser.get("/api/v1/session").json()["session_expires_at"] == first


def test_csrf_endpoint_sets_cookie() -> None:
    browser = Browser()
    response = browser.get("/api/v1/session/csrf")
    assert response.status_code == 200
    assert response.cookies["csrftoken"].value
