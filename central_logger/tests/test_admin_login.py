"""Brute-force protection of the operator console login."""
from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/"
PASSWORD = "correct-horse-battery-1"


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


@pytest.fixture
def operator(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser("operator", "op@example.com", PASSWORD)


def attempt(client: Any, password: str, username: str = "operator", ip: str = "10.0.0.1") -> Any:
    return client.post(f"{LOGIN}?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=ip)


@override_settings(ADMIN_LOGIN_MAX_ATTEMPTS=3, ADMIN_LOGIN_LOCKOUT_SECONDS=600)
def test_locks_out_after_max_failures_even_with_the_right_password(client: Any, operator: Any) -> None:
    for _ in range(2):
        response = attempt(client, "wrong")
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()
    response = attempt(client, "wrong")  # the third failure triggers the lockout
    assert response.status_code == 429
    assert "Too many failed login attempts. Try again in 10 minutes." in response.content.decode()
    assert response["Retry-After"] == "600"
    response = attempt(client, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@override_settings(ADMIN_LOGIN_MAX_ATTEMPTS=2)
def test_lockout_is_per_username_and_ip(client: Any, operator: Any, django_user_model: Any) -> None:
    django_user_model.objects.create_superuser("other", "o@example.com", PASSWORD)
    attempt(client, "wrong")
    assert attempt(client, "wrong").status_code == 429
    # Another IP, or another user from the same IP, is not locked out.
    assert attempt(client, PASSWORD, username="other").status_code == 302
    client.logout()
    response = attempt(client, PASSWORD, ip="10.0.0.2")
    assert response.status_code == 302 and response["Location"] == "/admin/"


@override_settings(ADMIN_LOGIN_MAX_ATTEMPTS=3)
def test_success_resets_the_failure_count(client: Any, operator: Any) -> None:
    attempt(client, "wrong")
    attempt(client, "wrong")
    assert attempt(client, PASSWORD).status_code == 302
    client.logout()
    attempt(client, "wrong")
    assert attempt(client, "wrong").status_code == 200  # 2 failures since the success: not locked
    assert attempt(client, PASSWORD).status_code == 302


@override_settings(ADMIN_LOGIN_MAX_ATTEMPTS=2)
def test_username_case_does_not_dodge_the_lockout(client: Any, operator: Any) -> None:
    attempt(client, "wrong", username="operator")
    assert attempt(client, "wrong", username="OPERATOR").status_code == 429


@override_settings(ADMIN_LOGIN_MAX_ATTEMPTS=2)
def test_lockout_expires(client: Any, operator: Any, monkeypatch: Any) -> None:
    attempt(client, "wrong")
    assert attempt(client, "wrong").status_code == 429
    cache.clear()  # what the cache does when ADMIN_LOGIN_LOCKOUT_SECONDS have passed
    assert attempt(client, PASSWORD).status_code == 302


def test_good_login_works(client: Any, operator: Any) -> None:
    response = attempt(client, PASSWORD)
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
